"""The canonical state of the generated city: who is in which register in which month.

Everything the feeds show is rendered from this state and the ground truth (findings) is
computed from it by `civlake.generate.oracle`; dirt and faults only change how it is
delivered, never what it means.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from civlake.generate.divisions import DivisionTree
from civlake.generate.population import Population
from civlake.generate.timeline import Timeline


@dataclass
class Death:
    idx: int
    date: date  # the true date (= the medical certificate's when there is one)
    cert: bool = True
    cremation_date: date | None = None
    hukou_date: date | None = None
    place: str = "hospital"


@dataclass
class Household:
    family_no: str
    division: str  # 12-digit community code
    kind: str  # 低保 / 特困 / 低保边缘
    head: int
    members: list[tuple[int, str]]  # (person, relation to head); the head is a member
    amount: int  # 月保障金额 (household total, 元)
    approved_on: date
    status: dict[str, str] = field(default_factory=dict)  # month -> 在保 / 停保
    stopped_on: date | None = None
    handler: str = ""

    @property
    def district(self) -> str:
        return self.division[:6]


@dataclass
class ElderlyEntry:
    idx: int
    tier: str
    standard: int
    start_month: str
    status: str = "正常"
    end_reason: str = ""
    name: str | None = None  # override (planted ID_MISMATCH)
    birth: str | None = None


@dataclass
class Cert:
    idx: int
    cert_no: str
    category: str
    grade: int
    issued_on: date
    valid_until: date
    status: dict[str, str] = field(default_factory=dict)  # month -> 有效 / 注销
    sex: str | None = None  # override (planted ID_MISMATCH)


@dataclass
class ChildEntry:
    idx: int
    category: str
    placement: str
    guardian: int | None
    guardian_relation: str
    division: str
    recognized_on: date
    status: dict[str, str] = field(default_factory=dict)  # month -> 在册 / 退出
    birth: str | None = None  # override (planted ID_MISMATCH)


@dataclass
class PayLine:
    payment_id: str
    pay_month: str
    program: str
    idx: int
    amount: int
    status: str
    delivered: str  # month of the delivery that carries this line
    division: str


@dataclass
class Marriage:
    cert_no: str
    kind: str  # 结婚登记 / 离婚登记 / 补领结婚证 / 补领离婚证 / 撤销婚姻
    on: date
    registrar: str  # 6-digit district code
    male: int
    female: int
    female_birth: str | None = None  # override (planted ID_MISMATCH)


@dataclass
class Org:
    uscc: str
    name: str
    org_type: str
    registrar: str
    founded_on: date
    capital: int
    rep: str
    supervisor: str
    address: str
    status: str = "正常"
    status_date: date | None = None
    inspection_year: int = 2025
    inspection_result: str = "合格"
    abnormal: bool = False
    is_charity: bool = True


@dataclass
class Donation:
    no: str
    org: int
    project_no: str
    project_name: str
    donor_type: str
    donor_name: str
    amount: int
    at: str  # ISO timestamp +08:00
    channel: str
    receipt: bool


@dataclass
class VolunteerRecord:
    record_no: str
    volunteer_no: str
    idx: int
    org: int
    project: str
    category: str
    on: date
    hours: float
    division: str


@dataclass
class World:
    tl: Timeline
    tree: DivisionTree
    pop: Population
    rng: np.random.Generator
    used: np.ndarray  # persons with a role that a planted case must not disturb
    no_die: np.ndarray  # persons whose death would change a register (kept alive)
    deaths: dict[int, Death] = field(default_factory=dict)
    households: list[Household] = field(default_factory=list)
    elderly: dict[str, dict[int, ElderlyEntry]] = field(default_factory=dict)
    certs: list[Cert] = field(default_factory=list)
    children: list[ChildEntry] = field(default_factory=list)
    payments: list[PayLine] = field(default_factory=list)
    marriages: list[Marriage] = field(default_factory=list)
    orgs: list[Org] = field(default_factory=list)
    donations: list[Donation] = field(default_factory=list)
    volunteers: list[VolunteerRecord] = field(default_factory=list)
    # Payment shaping by planted cases: keys (person, programme, month).
    pay_suppress: set[tuple[int, str, str]] = field(default_factory=set)
    pay_amount: dict[tuple[int, str, str], int] = field(default_factory=dict)
    extra_pay: list[tuple[int, str, str, int, str]] = field(default_factory=list)
    resent: list[tuple[int, str, str, int, str, str]] = field(default_factory=list)
    # Membership bounds inside the window: (family_no, person) -> first / last month.
    member_from: dict[tuple[str, int], str] = field(default_factory=dict)
    member_until: dict[tuple[str, int], str] = field(default_factory=dict)
    # Persons with a hukou change inside the window: (person, status, date).
    hukou_changes: dict[int, tuple[str, date]] = field(default_factory=dict)
    # Noise rows (quarantine-level dirt) are added at render time for these persons.
    noise: list[int] = field(default_factory=list)
    near_misses: list[tuple[str, int | None, str]] = field(default_factory=list)
    # (person, namesake) index pairs: same name, birth date and ID area, IDs two edits apart.
    namesakes: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))
    planted: list[tuple[str, int | None, str]] = field(default_factory=list)

    _age0: np.ndarray | None = None
    _district: np.ndarray | None = None
    _ids: set[str] | None = None

    def district(self) -> np.ndarray:
        """6-digit district of every person (cached: 1M string conversions per call add up)."""
        if self._district is None:
            self._district = self.pop.district
        return self._district

    def id_taken(self, value: str) -> bool:
        if self._ids is None:
            self._ids = set(self.pop.id_number.tolist())
        return value in self._ids

    def id_changed(self, old: str, new: str) -> None:
        if self._ids is not None:
            self._ids.discard(old)
            self._ids.add(new)

    def age0(self) -> np.ndarray:
        """Ages on the first day of the window (cached; `rebirth` keeps it current)."""
        if self._age0 is None:
            self._age0 = self.pop.age_on(np.datetime64(self.tl.start))
        return self._age0

    def take(self, mask: np.ndarray, k: int, *, mark: bool = True) -> list[int]:
        """k free persons matching mask (deterministic draw), marked used."""
        cand = np.flatnonzero(mask & ~self.used)
        if len(cand) < k:
            raise RuntimeError(
                f"generated city too small: needed {k} persons for a planted case, "
                f"found {len(cand)}; raise --persons"
            )
        pick = np.sort(self.rng.choice(cand, k, replace=False))
        if mark:
            self.used[pick] = True
            self.no_die[pick] = True
        return [int(i) for i in pick]

    def member_in(self, h: Household, idx: int, month: str) -> bool:
        key = (h.family_no, idx)
        return self.member_from.get(key, "") <= month <= self.member_until.get(key, "9999")

    def alive_in(self, idx: int, month: str) -> bool:
        d = self.deaths.get(idx)
        return d is None or f"{d.date:%Y-%m}" >= month

    def hukou_status(self, idx: int, month: str) -> str | None:
        """人员状态 at the end of month (None: no hukou record)."""
        p = self.pop
        if not p.in_hukou[idx]:
            return None
        change = self.hukou_changes.get(idx)
        if change is not None and f"{change[1]:%Y-%m}" <= month:
            return change[0]
        d = self.deaths.get(idx)
        if d is not None and d.hukou_date is not None and f"{d.hukou_date:%Y-%m}" <= month:
            return "死亡"
        return str(p.status[idx])
