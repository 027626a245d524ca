"""The bulk population, vectorised with numpy (1,000,000 persons in seconds).

Every person gets a valid GB 11643 ID whose area, birth date and sex digit agree with
their attributes; IDs are unique (collisions re-drawn). Ages follow a Guangzhou-like
pyramid (median ~37, 80+ ~3%).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from civlake.generate.divisions import DivisionTree
from civlake.generate.ids import id_check_chars
from civlake.generate.names import MINORITY, MINORITY_ETHNICITY, draw_names

REF_DATE = np.datetime64("2026-10-31")
# Upper bound of each 5-year age band (0-4 .. 100-104) and its relative weight.
_BANDS = np.array(
    [4.2, 4.6, 4.4, 4.0, 5.5, 8.6, 10.4, 9.6, 8.2, 7.4, 6.8, 6.0, 5.0, 4.0, 3.0, 2.1,
     1.5, 1.0, 0.45, 0.12, 0.02]
)  # fmt: skip
# Areas of first registration for people born elsewhere (湖南, 广西, 湛江, 福建).
_OTHER_AREAS = np.array(["430102", "450103", "440802", "350102", "440304", "510104"])
_RELATIONS = np.array(["户主", "配偶", "子", "女", "父亲", "母亲", "孙子", "孙女"])


@dataclass
class Population:
    uid: np.ndarray
    sex: np.ndarray
    birth: np.ndarray  # datetime64[D]
    id_number: np.ndarray
    name: np.ndarray
    division: np.ndarray  # 12-digit current community code of hukou / residence
    in_hukou: np.ndarray  # bool: has a hukou record at all
    status: np.ndarray  # 正常 / 迁出 / 注销 (death is an event, see world)
    status_date: np.ndarray  # ISO date or ""
    ethnicity: np.ndarray
    household_no: np.ndarray
    relation: np.ndarray
    phone: np.ndarray
    former_name: np.ndarray  # 曾用名 ("" for most)

    def __len__(self) -> int:
        return len(self.uid)

    @property
    def district(self) -> np.ndarray:
        return self.division.astype("U6")

    def age_on(self, day: np.datetime64) -> np.ndarray:
        return ages_on(self.birth, day)


def ages_on(birth: np.ndarray, day: np.datetime64) -> np.ndarray:
    """Completed years on day (compares month and day, not day-of-year: leap years)."""
    b = birth.astype("datetime64[D]")
    by = b.astype("datetime64[Y]").astype(int) + 1970
    bm = b.astype("datetime64[M]").astype(int) % 12 + 1
    bd = (b - b.astype("datetime64[M]")).astype(int) + 1
    d = np.datetime64(day, "D")
    dy = d.astype("datetime64[Y]").astype(int) + 1970
    dm = d.astype("datetime64[M]").astype(int) % 12 + 1
    dd = (d - d.astype("datetime64[M]")).astype(int) + 1
    before = (dm < bm) | ((dm == bm) & (dd < bd))
    return dy - by - before.astype(int)


def _digits(strings: np.ndarray, width: int) -> np.ndarray:
    raw = np.frombuffer(strings.astype(f"S{width}").tobytes(), dtype=np.uint8)
    return raw.reshape(-1, width) - ord("0")


def _make_ids(rng, area, birth, sex) -> np.ndarray:
    ymd = np.char.replace(birth.astype(str), "-", "")
    n = len(area)
    seq = rng.integers(0, 500, n) * 2 + np.where(sex == "1", 1, 0)  # odd = male
    body = np.char.add(np.char.add(area.astype("U6"), ymd), np.char.zfill(seq.astype(str), 3))
    for _ in range(50):
        _, first, _counts = np.unique(body, return_index=True, return_counts=True)
        dup = np.ones(n, bool)
        dup[first] = False
        if not dup.any():
            break
        idx = np.flatnonzero(dup)
        seq2 = rng.integers(0, 500, len(idx)) * 2 + np.where(sex[idx] == "1", 1, 0)
        body[idx] = np.char.add(np.char.add(area[idx].astype("U6"), ymd[idx]),
                                np.char.zfill(seq2.astype(str), 3))  # fmt: skip
    check = id_check_chars(_digits(body, 17))
    return np.char.add(body, check)


def build_population(rng: np.random.Generator, n: int, tree: DivisionTree) -> Population:
    band = rng.choice(len(_BANDS), n, p=_BANDS / _BANDS.sum())
    age_days = (band * 5 * 365.25 + rng.random(n) * 5 * 365.25).astype(np.int64)
    birth = REF_DATE - age_days.astype("timedelta64[D]")
    birth = np.maximum(birth, np.datetime64("1922-01-01"))
    sex = np.where(rng.random(n) < 0.505, "1", "2")
    division = tree.villages[rng.integers(0, len(tree.villages), n)]
    local = rng.random(n) < 0.7
    area = np.where(local, division.astype("U6"), _OTHER_AREAS[rng.integers(0, 6, n)])
    id_number = _make_ids(rng, area, birth, sex)
    name = draw_names(rng, sex)
    minority = {m for m, _ in MINORITY}
    ethnicity = np.where(np.isin(name, list(minority)), MINORITY_ETHNICITY, "01")
    in_hukou = rng.random(n) < 0.96
    u = rng.random(n)
    status = np.where(u < 0.006, "迁出", np.where(u < 0.008, "注销", "正常"))
    status = np.where(in_hukou, status, "")
    # Status changes before the window: dated 2020-2025.
    sdate = np.datetime64("2020-01-01") + rng.integers(0, 2000, n).astype("timedelta64[D]")
    status_date = np.where(np.isin(status, ["迁出", "注销"]), sdate.astype(str), "")
    hh = rng.integers(1, max(2, n // 3), n)
    household_no = np.char.add(division.astype("U9"), np.char.zfill(hh.astype(str), 7))
    relation = _RELATIONS[rng.integers(0, len(_RELATIONS), n)]
    phone = np.char.add(
        np.array(["138", "139", "135", "137", "186", "189", "133", "159"])[rng.integers(0, 8, n)],
        np.char.zfill(rng.integers(0, 10**8, n).astype(str), 8),
    )
    # ~6% give a Guangzhou landline (canonical "020-" + 8 digits) instead of a mobile.
    landline = rng.random(n) < 0.06
    fixed = np.char.add("020-8", np.char.zfill(rng.integers(0, 10**7, n).astype(str), 7))
    phone = np.where(landline, fixed, phone)
    # ~2% changed their given name once (曾用名): same surname, new given name.
    former_name = np.full(n, "", dtype=object)
    renamed = np.flatnonzero(rng.random(n) < 0.02)
    fresh = draw_names(rng, sex[renamed])
    for j, i in enumerate(renamed):
        if "·" not in name[i] and "·" not in fresh[j]:
            former_name[i] = name[i][0] + fresh[j][1:] if fresh[j][1:] != name[i][1:] else ""
    uid = np.char.add("P", np.char.zfill(np.arange(1, n + 1).astype(str), 7))
    return Population(
        uid, sex, birth, id_number, name, division, in_hukou, status, status_date,
        ethnicity, household_no, relation, phone, former_name,
    )  # fmt: skip


# ~0.2% of persons share name, birth date and ID area with another person whose sequence
# differs in one digit: both IDs are valid and two edits apart (that digit and the check
# character), the case that must not be merged on "ID nearly equal, same name and birth".
NAMESAKE_SHARE = 0.001


def add_namesakes(pop: Population, rng: np.random.Generator) -> np.ndarray:
    """Turn some persons into namesakes of others, in place; returns the (k, 2) pairs
    (original, namesake). Vectorised: sort-based collision checks, no per-person Python."""
    n = len(pop)
    k = min(max(2, int(n * NAMESAKE_SHARE)), n // 4)
    pick = rng.choice(n, 2 * k, replace=False)
    a, b = np.sort(pick[:k]), pick[k:]
    pop.sex[b], pop.birth[b], pop.name[b] = pop.sex[a], pop.birth[a], pop.name[a]
    pop.ethnicity[b], pop.former_name[b] = pop.ethnicity[a], ""
    ids = pop.id_number.astype("U18")
    new = ids[b].copy()
    todo = np.arange(k)
    others = np.sort(ids)  # a draw equal to the namesake's own old ID is redrawn too: rare
    for _ in range(50):
        if not len(todo):
            break
        body = _digits(ids[a[todo]], 18)[:, :17].copy()
        pos = rng.integers(14, 17, len(todo))
        rows = np.arange(len(todo))
        old = body[rows, pos]
        # Chars 15-16: any other digit. Char 17 (the sex digit): two up or down, same sex.
        step = np.where(pos < 16, rng.integers(1, 10, len(todo)), np.where(old >= 2, -2, 2))
        step = np.where((pos == 16) & (old <= 7) & (rng.random(len(todo)) < 0.5), 2, step)
        body[rows, pos] = np.where(pos < 16, (old + step) % 10, old + step)
        check = id_check_chars(body)
        text = np.ascontiguousarray((body + ord("0")).astype(np.uint8)).view("S17").ravel()
        cand = np.char.add(text.astype("U17"), check)
        new[todo] = cand
        at = np.minimum(np.searchsorted(others, cand), len(others) - 1)
        clash = others[at] == cand
        _, first = np.unique(new, return_index=True)
        dup = np.ones(k, bool)
        dup[first] = False
        todo = np.union1d(todo[clash], np.flatnonzero(dup))
    if len(todo):
        raise RuntimeError("could not draw unique namesake IDs")
    pop.id_number[b] = new
    return np.stack([a, b], axis=1)
