"""Monthly registers and the hukou population rendered as deliveries."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from civlake.generate.contracts_view import names
from civlake.generate.delivery import Delivery, FileSpec, money
from civlake.generate.dirt import serial_dates
from civlake.generate.divisions import DISTRICTS
from civlake.generate.table import Table, iso
from civlake.generate.timeline import daily_produced, first_day, monthly_produced
from civlake.generate.world import World

CITY = "440100"
CITY_UNITS = {
    "hukou_population": "广州市公安局",
    "benefit_payments": "广州市民政局",
    "elderly_allowance": "广州市民政局",
    "disability_certs": "广州市残疾人联合会",
    "death_certificates": "广州市卫生健康委员会",
    "marriage_registrations": "广州市民政局",
    "social_organizations": "广州市民政局",
    "charity_donations": "广州市慈善会",
    "volunteer_service": "广州市民政局",
    "divisions": "广州市民政局",
}


def _ym(month: str) -> str:
    return f"{month[:4]}年{int(month[5:7])}月"


def _monthly(feed: str, unit: str, unit_name: str, month: str, files: list[FileSpec]) -> Delivery:
    on, at = monthly_produced(month)
    return Delivery(feed, unit, unit_name, month, "full", on, at, files)


def hukou_table(world: World, idxs: np.ndarray, month: str) -> Table:
    p = world.pop
    n = len(idxs)
    # Vectorised: the bulk keeps its base status; only persons with an event in the
    # window (deaths, moves) are looked up one by one.
    status = p.status[idxs].astype(object)
    changed = p.status_date[idxs].astype(object)
    special = sorted(set(world.deaths) | set(world.hukou_changes))
    pos = np.searchsorted(idxs, special)
    for idx, k in zip(special, pos, strict=True):
        if k < n and idxs[k] == idx:
            status[k] = world.hukou_status(idx, month) or ""
            changed[k] = _status_date(world, idx, month)
    uniq, inv = np.unique(p.division[idxs], return_inverse=True)
    place = np.array([world.tree.names.get(str(d), "") + "幸福路" for d in uniq], dtype=object)
    addr = place[inv] + (idxs % 300 + 1).astype(str).astype(object) + "号"
    cols = {
        "id_number": p.id_number[idxs].astype(object),
        "name": p.name[idxs].astype(object),
        "former_name": p.former_name[idxs].astype(object),
        "sex": p.sex[idxs].astype(object),
        "ethnicity": p.ethnicity[idxs].astype(object),
        "birth_date": p.birth[idxs].astype(str).astype(object),
        "hukou_division_code": p.division[idxs].astype(object),
        "address": addr.astype(object),
        "household_no": p.household_no[idxs].astype(object),
        "relation_to_head": p.relation[idxs].astype(object),
        "person_status": status,
        "status_changed_on": changed,
        "phone": p.phone[idxs].astype(object),
    }
    t = Table(
        "hukou_population", names("hukou_population"), cols, {"person": idxs.astype(np.int64)}
    )
    return t


def _status_date(world: World, idx: int, month: str) -> str:
    status = world.hukou_status(idx, month)
    if status == "死亡":
        return iso(world.deaths[idx].hukou_date)
    change = world.hukou_changes.get(idx)
    if change is not None and status == change[0]:
        return iso(change[1])
    return str(world.pop.status_date[idx])


def _parts(idxs: np.ndarray, size: int = 200_000) -> list[np.ndarray]:
    return [idxs[i : i + size] for i in range(0, len(idxs), size)] or [idxs]


def hukou_deliveries(world: World) -> list[Delivery]:
    p = world.pop
    members = np.flatnonzero(p.in_hukou)
    out = []
    for m in world.tl.months:
        d = _monthly("hukou_population", CITY, CITY_UNITS["hukou_population"], m, [])
        d.chunk_file = (f"户籍人口_{_ym(m)}.csv", "UTF-8-SIG")
        d.chunks = lambda m=m: (hukou_table(world, part, m) for part in _parts(members))
        out.append(d)
    # Daily change deliveries: deaths (人员状态 死亡) and moves out inside the window.
    changes: dict = {}
    for idx, d in world.deaths.items():
        if d.hukou_date is not None:
            changes.setdefault(d.hukou_date, []).append(idx)
    for idx, (_status, on) in world.hukou_changes.items():
        changes.setdefault(on, []).append(idx)
    for day in sorted(changes):
        idxs = np.array(sorted(changes[day]), dtype=np.int64)
        t = hukou_table(world, idxs, f"{day:%Y-%m}")
        on, at = daily_produced(day, hour=3)
        # The contract's cadence is monthly, so a daily change file's period is its month.
        out.append(Delivery("hukou_population", CITY, CITY_UNITS["hukou_population"], f"{day:%Y-%m}",
                            "incremental", on, at, [FileSpec(f"户籍变动_{day:%Y%m%d}.csv", "csv", "UTF-8-SIG", t)]))  # fmt: skip
    return out


def assistance_deliveries(world: World) -> list[Delivery]:
    out = []
    p = world.pop
    cols = names("assistance_recipients")
    for k, (district, dname) in enumerate(DISTRICTS.items()):
        xlsx = k % 2 == 0
        for m in world.tl.months:
            rows, member, head = [], [], []
            for h in world.households:
                status = h.status.get(m)
                if h.district != district or status is None:
                    continue
                listed = [(i, r) for i, r in h.members if world.member_in(h, i, m)]
                for idx, rel in listed:
                    rows.append({
                        "family_no": h.family_no, "division_code": h.division, "assistance_type": h.kind,
                        "head_id_number": str(p.id_number[h.head]), "head_name": str(p.name[h.head]),
                        "member_id_number": str(p.id_number[idx]), "member_name": str(p.name[idx]),
                        "relation_to_head": rel, "household_size": str(len(h.members)),
                        "covered_persons": str(len(listed)), "monthly_amount": money(h.amount),
                        "approved_on": iso(h.approved_on), "status": status,
                        "stopped_on": iso(h.stopped_on) if status == "停保" else "", "handler": h.handler,
                    })  # fmt: skip
                    member.append(idx)
                    head.append(h.head)
            t = Table.from_rows(
                "assistance_recipients", cols, rows, {"member": member, "head": head}
            )
            title = f"{dname}{_ym(m)}救助对象名册"
            if xlsx and k % 4 == 2:
                serial_dates(t)
            spec = (
                FileSpec(f"{title}.xlsx", "xlsx", None, t, title=title if k % 4 == 0 else None,
                         total_row=k % 4 == 2)
                if xlsx
                else FileSpec(f"{title}.csv", "csv", "GB18030", t)
            )  # fmt: skip
            out.append(_monthly("assistance_recipients", district, f"{dname}民政局", m, [spec]))
    return out


def elderly_table(world: World, m: str) -> Table:
    p = world.pop
    rows, who, protect = [], [], set()
    for idx in sorted(world.elderly[m]):
        e = world.elderly[m][idx]
        if e.name is not None or e.birth is not None:
            protect.add(len(rows))
        rows.append({
            "id_number": str(p.id_number[idx]), "name": e.name or str(p.name[idx]), "sex": str(p.sex[idx]),
            "birth_date": e.birth or str(p.birth[idx]), "hukou_division_code": str(p.division[idx]),
            "tier": e.tier, "monthly_standard": money(e.standard), "start_month": e.start_month,
            "status": e.status, "end_reason": e.end_reason,
        })  # fmt: skip
        who.append(idx)
    t = Table.from_rows("elderly_allowance", names("elderly_allowance"), rows, {"person": who})
    t.protect = protect
    t.id_break_ok = {"id_number"}
    return t


def elderly_deliveries(world: World) -> list[Delivery]:
    return [
        _monthly("elderly_allowance", CITY, CITY_UNITS["elderly_allowance"], m,
                 [FileSpec(f"高龄津贴名册_{m.replace('-', '')}.csv", "csv", "UTF-8", elderly_table(world, m))])
        for m in world.tl.months
    ]  # fmt: skip


def disability_deliveries(world: World) -> list[Delivery]:
    p = world.pop
    out = []
    for m in world.tl.months:
        rows, who, protect = [], [], set()
        for c in sorted(world.certs, key=lambda c: c.cert_no):
            status = c.status.get(m)
            if status is None:
                continue
            if c.sex is not None:
                protect.add(len(rows))
            rows.append({
                "cert_no": c.cert_no, "name": str(p.name[c.idx]), "sex": c.sex or str(p.sex[c.idx]),
                "disability_category": c.category, "disability_grade": "一二三四"[c.grade - 1] + "级",
                "hukou_division_code": str(p.division[c.idx]), "issued_on": iso(c.issued_on),
                "valid_until": iso(c.valid_until), "cert_status": status,
            })  # fmt: skip
            who.append(c.idx)
        t = Table.from_rows("disability_certs", names("disability_certs"), rows, {"person": who})
        t.protect = protect
        t.id_corrupt_ok = {"cert_no"}  # the ID inside 残疾人证号
        out.append(_monthly("disability_certs", CITY, CITY_UNITS["disability_certs"], m,
                            [FileSpec(f"残疾人证信息_{m.replace('-', '')}.csv", "csv", "GB18030", t)]))  # fmt: skip
    return out


def child_deliveries(world: World) -> list[Delivery]:
    from civlake.generate.policy import CHILD, child_standard

    p = world.pop
    out = []
    for k, (district, dname) in enumerate(DISTRICTS.items()):
        for m in world.tl.months:
            rows, kids, guardians, protect = [], [], [], set()
            for ch in world.children:
                status = ch.status.get(m)
                if ch.division[:6] != district or status is None:
                    continue
                g = ch.guardian
                if ch.birth is not None:
                    protect.add(len(rows))
                rows.append({
                    "child_id_number": str(p.id_number[ch.idx]), "child_name": str(p.name[ch.idx]),
                    "sex": str(p.sex[ch.idx]), "birth_date": ch.birth or str(p.birth[ch.idx]),
                    "child_category": ch.category, "placement": ch.placement,
                    "guardian_id_number": str(p.id_number[g]) if g is not None else "",
                    "guardian_name": str(p.name[g]) if g is not None else "",
                    "guardian_relation": ch.guardian_relation, "division_code": ch.division,
                    "monthly_allowance": money(child_standard(ch.placement)) if ch.category in CHILD else "",
                    "recognized_on": iso(ch.recognized_on), "status": status,
                })  # fmt: skip
                kids.append(ch.idx)
                guardians.append(g if g is not None else -1)
            t = Table.from_rows(
                "child_welfare",
                names("child_welfare"),
                rows,
                {"child": kids, "guardian": guardians},
            )
            t.protect = protect
            t.id_break_ok = {"child_id_number"}
            t.id_corrupt_ok = {"guardian_id_number"}
            title = f"{dname}{_ym(m)}儿童福利对象名册"
            if k % 3 == 0:
                serial_dates(t)
            spec = FileSpec(f"{title}.xlsx", "xlsx", None, t, title=title if k % 3 == 1 else None,
                            total_row=k % 3 == 2)  # fmt: skip
            out.append(_monthly("child_welfare", district, f"{dname}民政局", m, [spec]))
    return out


def payment_deliveries(world: World) -> list[Delivery]:
    p = world.pop
    out = []
    for m in world.tl.months:
        lines = [pl for pl in world.payments if pl.delivered == m]
        rows, who = [], []
        for k, pl in enumerate(lines):
            paid_day = first_day(pl.pay_month) + timedelta(days=14)
            rows.append({
                "payment_id": pl.payment_id, "pay_month": pl.pay_month, "program_code": pl.program,
                "id_number": str(p.id_number[pl.idx]), "name": str(p.name[pl.idx]), "amount": money(pl.amount),
                "bank_card_tail": str(p.phone[pl.idx])[-4:], "payer_division": pl.division[:6] + "000000",
                "status": pl.status,
                "paid_at": f"{paid_day.isoformat()}T10:{k % 60:02d}:00+08:00" if pl.status != "failed" else "",
            })  # fmt: skip
            who.append(pl.idx)
        t = Table.from_rows("benefit_payments", names("benefit_payments"), rows, {"payee": who})
        t.id_corrupt_ok = {"id_number"}  # a payee is only a name and an ID
        for i in range(0, t.n, 3):
            t.cell[(i, "amount")] = (
                "number"  # the payment system sends some amounts as JSON numbers
            )
        on, at = monthly_produced(m, hour=4)
        out.append(Delivery("benefit_payments", CITY, CITY_UNITS["benefit_payments"], m, "incremental", on, at,
                            [FileSpec(f"资金发放明细_{m.replace('-', '')}.jsonl", "jsonl", "UTF-8", t)]))  # fmt: skip
    return out
