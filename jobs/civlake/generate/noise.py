"""Quarantine-level rows (SOURCE_FEEDS.md section 2: REQUIRED_MISSING, DATE_INVALID, ...).

They are extra rows about persons with no other footprint (outside the hukou, in no
register) or about nothing at all, so losing them to quarantine changes no finding: the
ground truth stays exact whether or not a pipeline quarantines them for the right reason,
but the reasons it must give are recorded per row.
"""

from __future__ import annotations

from collections.abc import Iterator

from civlake.generate.delivery import Delivery
from civlake.generate.table import Table
from civlake.generate.world import World
from civlake.identifiers import USCC_ALPHABET

MALFORMED_CSV = "噪声行,字段数不对"
MALFORMED_JSONL = '["not", "an", "object"]'
UNKNOWN_DIVISION = "440199999999"

# feed -> [(column overrides, expected reasons, roles the row carries)]; "@blank" = "".
DEFECTS: dict[str, list[tuple[dict[str, str], list[str]]]] = {
    "hukou_population": [({"person_status": "待定"}, ["ENUM_INVALID"]),
                         ({"birth_date": "1985-02-30"}, ["DATE_INVALID"])],
    "assistance_recipients": [({"monthly_amount": "壹仟元"}, ["AMOUNT_INVALID"]),
                              ({"division_code": UNKNOWN_DIVISION}, ["DIVISION_UNKNOWN"]),
                              ({"status": ""}, ["REQUIRED_MISSING"]),
                              ({"assistance_type": "临时救助"}, ["ENUM_INVALID"])],
    "benefit_payments": [({"amount": "1,12O.00"}, ["AMOUNT_INVALID"]),
                         ({"status": "pending"}, ["ENUM_INVALID"]),
                         ({"pay_month": "2026-13"}, ["DATE_INVALID"]),
                         ({"id_number": ""}, ["ID_UNUSABLE"])],
    "elderly_allowance": [({"status": ""}, ["REQUIRED_MISSING"]),
                          ({"tier": "70-79岁"}, ["ENUM_INVALID"]),
                          ({"monthly_standard": "一百"}, ["AMOUNT_INVALID"])],
    "disability_certs": [({"disability_grade": "五级"}, ["ENUM_INVALID"]),
                         ({"cert_no": ""}, ["REQUIRED_MISSING", "ID_UNUSABLE"]),
                         ({"issued_on": "2019-13-01"}, ["DATE_INVALID"])],
    "death_certificates": [({"id_number": ""}, ["ID_UNUSABLE"]),
                           ({"death_date": "2026-09-31"}, ["DATE_INVALID"])],
    "cremation_records": [({"id_number": ""}, ["ID_UNUSABLE"]),
                          ({"death_date": "不详"}, ["DATE_INVALID"])],
    "marriage_registrations": [({"business_type": "复婚登记"}, ["ENUM_INVALID"]),
                               ({"registered_on": ""}, ["REQUIRED_MISSING"])],
    "social_organizations": [({"uscc": "@badcheck"}, ["USCC_INVALID"]),
                             ({"org_type": "事业单位"}, ["ENUM_INVALID"])],
    "charity_donations": [({"amount": "壹佰元"}, ["AMOUNT_INVALID"]),
                          ({"donor_type": "团体"}, ["ENUM_INVALID"])],
    "volunteer_service": [({"hours": "abc"}, ["AMOUNT_INVALID"]),
                          ({"service_date": "2026-02-30"}, ["DATE_INVALID"]),
                          ({"volunteer_no": ""}, ["REQUIRED_MISSING"])],
    "child_welfare": [({"status": "待定"}, ["ENUM_INVALID"]),
                      ({"division_code": UNKNOWN_DIVISION}, ["DIVISION_UNKNOWN"])],
}  # fmt: skip


def _base_row(
    world: World, feed: str, idx: int, other: int, k: int
) -> tuple[dict[str, str], dict[str, int]]:
    p, tl = world.pop, world.tl
    pid, name, sex, birth, div = (str(p.id_number[idx]), str(p.name[idx]), str(p.sex[idx]),
                                  str(p.birth[idx]), str(p.division[idx]))  # fmt: skip
    day = f"{tl.latest}-10"
    if feed == "hukou_population":
        return ({"id_number": pid, "name": name, "sex": sex, "ethnicity": "01", "birth_date": birth,
                 "hukou_division_code": div, "person_status": "正常"}, {"person": idx})  # fmt: skip
    if feed == "assistance_recipients":
        fam = f"{div[:6]}8{k:05d}"
        return ({"family_no": fam, "division_code": div, "assistance_type": "低保", "head_id_number": pid,
                 "head_name": name, "member_id_number": pid, "member_name": name, "relation_to_head": "本人",
                 "household_size": "1", "covered_persons": "1", "monthly_amount": "1120.00",
                 "approved_on": day, "status": "在保"}, {"member": idx, "head": idx})  # fmt: skip
    if feed == "benefit_payments":
        return ({"payment_id": f"NZ{tl.latest.replace('-', '')}{k:06d}", "pay_month": tl.latest,
                 "program_code": "DB", "id_number": pid, "name": name, "amount": "1120.00",
                 "payer_division": div, "status": "success"}, {"payee": idx})  # fmt: skip
    if feed == "elderly_allowance":
        return ({"id_number": pid, "name": name, "sex": sex, "birth_date": birth, "hukou_division_code": div,
                 "tier": "80-89岁", "monthly_standard": "100.00", "start_month": tl.latest,
                 "status": "正常"}, {"person": idx})  # fmt: skip
    if feed == "disability_certs":
        return ({"cert_no": pid + "42", "name": name, "sex": sex, "disability_category": "肢体",
                 "disability_grade": "二级", "hukou_division_code": div, "issued_on": "2020-05-01",
                 "valid_until": "2030-04-30", "cert_status": "有效"}, {"person": idx})  # fmt: skip
    if feed == "death_certificates":
        return ({"cert_no": f"YNZ{k:08d}", "id_number": pid, "name": name, "sex": sex, "death_date": day,
                 "death_place_type": "home"}, {"deceased": idx})  # fmt: skip
    if feed == "cremation_records":
        return ({"cremation_no": f"HHNZ{k:08d}", "id_number": pid, "name": name, "sex": sex, "death_date": day,
                 "cremated_on": day, "handling_division_code": div[:6] + "000000"}, {"deceased": idx})  # fmt: skip
    if feed == "marriage_registrations":
        o = other
        return ({"cert_no": f"NZ-{k:06d}", "business_type": "结婚登记", "registered_on": day,
                 "registrar_code": div[:6], "male_id_number": pid, "male_name": name, "male_birth_date": birth,
                 "female_id_number": str(p.id_number[o]), "female_name": str(p.name[o]),
                 "female_birth_date": str(p.birth[o])}, {"male": idx, "female": o})  # fmt: skip
    if feed == "social_organizations":
        from civlake.generate.ids import make_uscc

        return ({"uscc": make_uscc("1", "440106", f"9{k:07d}"), "name": f"广州市邻里互助协会第{k}分会",
                 "org_type": "社会团体", "registrar": "440106000000", "status": "正常"}, {})  # fmt: skip
    if feed == "charity_donations":
        org = next(o for o in world.orgs if o.status == "正常" and not o.abnormal and o.is_charity)
        return ({"donation_no": f"DNZ{k:08d}", "org_uscc": org.uscc, "org_name": org.name, "donor_type": "个人",
                 "donor_name": name, "amount": "100.00", "donated_at": f"{day}T10:00:00+08:00"}, {})  # fmt: skip
    if feed == "volunteer_service":
        return ({"record_no": f"FWNZ{k:07d}", "volunteer_no": f"VNZ{k:08d}", "id_number": pid, "name": name,
                 "service_category": "社区", "service_date": day, "hours": "2.0",
                 "service_division_code": div}, {"volunteer": idx})  # fmt: skip
    if feed == "child_welfare":
        return ({"child_id_number": pid, "child_name": name, "sex": sex, "birth_date": birth,
                 "child_category": "困境儿童", "placement": "社会散居", "division_code": div,
                 "status": "在册"}, {"child": idx})  # fmt: skip
    raise KeyError(feed)


# Spreadsheet error values as Excel caches them, with a formula that yields each.
ERROR_FORMULAS = {"#DIV/0!": "=1/0", "#VALUE!": '="元"*1', "#N/A": "=NA()", "#REF!": "=#REF!"}
# XLSX feeds -> their amount column that a district's spreadsheet computes.
ERROR_CELL_FEEDS = {"assistance_recipients": "monthly_amount", "child_welfare": "monthly_allowance"}


def add_error_row(world: World, feed: str, t: Table, people: Iterator[int], start: int,
                  rng) -> int:  # fmt: skip
    """Append one row whose amount cell is a spreadsheet formula error (`#DIV/0!`, ...):
    unreadable, so `AMOUNT_INVALID`. Like the other defect rows it is about a noise
    carrier, so quarantining it changes no finding. Returns the next free counter."""
    k = start + 1
    idx = next(people)
    row, roles = _base_row(world, feed, idx, next(people), k)
    col = ERROR_CELL_FEEDS[feed]
    row[col] = list(ERROR_FORMULAS)[int(rng.integers(0, len(ERROR_FORMULAS)))]
    i = t.append(row, roles)
    t.cell[(i, col)] = "error"
    t.reasons[i] = ["AMOUNT_INVALID"]
    t.protect.add(i)
    return k


def noise_targets(deliveries: list[Delivery]) -> dict[int, str]:
    """id(delivery) -> feed: the last loaded delivery of each feed (the latest monthly full
    for hukou) receives that feed's defect rows."""
    last: dict[str, Delivery] = {}
    for d in deliveries:
        if d.feed not in DEFECTS or d.expected != "loaded" or d.copy_of is not None:
            continue
        if d.feed == "hukou_population" and d.mode != "full":
            continue
        if d.chunks is not None or (d.files and d.files[0].table.n):
            last[d.feed] = d
    return {id(d): feed for feed, d in last.items()}


def add_noise(world: World, d: Delivery, people: Iterator[int], start: int) -> int:
    """Append the feed's defect rows to the first file of d (see `add_noise_rows`)."""
    return add_noise_rows(
        world, d.feed, d.files[0].table, fmt=d.files[0].fmt, people=people, start=start
    )


def add_noise_rows(
    world: World, feed: str, t: Table, fmt: str, people: Iterator[int], start: int
) -> int:
    """Append the feed's defect rows (and a malformed line for CSV/JSONL) to t; returns
    the next free counter for generated keys."""
    k = start
    for overrides, reasons in DEFECTS[feed]:
        k += 1
        idx = next(people)
        row, roles = _base_row(world, feed, idx, next(people), k)
        for col, val in overrides.items():
            if val == "@badcheck":
                val = row[col][:17] + USCC_ALPHABET[(USCC_ALPHABET.index(row[col][17]) + 1) % 31]
            row[col] = val
        i = t.append(row, roles)
        t.reasons[i] = list(reasons)
        t.protect.add(i)
    if fmt in ("csv", "jsonl"):
        i = t.append({}, {})
        t.malformed[i] = MALFORMED_CSV if fmt == "csv" else MALFORMED_JSONL
        t.reasons[i] = ["ROW_MALFORMED"]
        t.protect.add(i)
    return k
