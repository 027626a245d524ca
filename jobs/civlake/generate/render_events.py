"""Event feeds (deaths, cremations, marriages, donations, volunteers), the weekly
social-organisation registry and the yearly divisions file, rendered as deliveries."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from civlake.generate.contracts_view import names
from civlake.generate.delivery import Delivery, FileSpec, money
from civlake.generate.divisions import DISTRICTS
from civlake.generate.render_registers import CITY, CITY_UNITS
from civlake.generate.table import Table, iso
from civlake.generate.timeline import daily_produced
from civlake.generate.world import World


def _daily(
    feed: str, unit: str, unit_name: str, day: date, files: list[FileSpec], hour: int = 1
) -> Delivery:
    on, at = daily_produced(day, hour)
    return Delivery(feed, unit, unit_name, day.isoformat(), "incremental", on, at, files)


def divisions_delivery(world: World) -> Delivery:
    year = world.tl.latest[:4]
    rows = [
        {"division_code": r.code, "name": r.name, "level": str(r.level), "parent_code": r.parent,
         "urban_rural_code": r.urban_rural, "valid_from": r.valid_from, "valid_to": r.valid_to,
         "successor_code": r.successor}
        for r in world.tree.rows
    ]  # fmt: skip
    t = Table.from_rows("divisions", names("divisions"), rows)
    on = date(int(year), 1, 2)
    return Delivery("divisions", CITY, CITY_UNITS["divisions"], year, "full", on, f"{on.isoformat()}T09:00:00+08:00",
                    [FileSpec(f"统计用区划代码_{year}.csv", "csv", "UTF-8", t)])  # fmt: skip


def death_deliveries(world: World) -> list[Delivery]:
    p = world.pop
    by_day: dict[date, list] = defaultdict(list)
    for idx in sorted(world.deaths):
        d = world.deaths[idx]
        if d.cert:
            by_day[d.date + timedelta(days=idx % 2)].append(d)
    out = []
    for day in sorted(by_day):
        rows, who = [], []
        for d in by_day[day]:
            rows.append({
                "cert_no": f"Y{d.date:%Y%m%d}{d.idx:08d}", "id_number": str(p.id_number[d.idx]),
                "name": str(p.name[d.idx]), "sex": str(p.sex[d.idx]), "death_date": iso(d.date),
                "death_place_type": d.place, "issuer_code": "PDY" + str(p.division[d.idx])[:6],
                "issued_at": f"{day.isoformat()}T16:20:00+08:00",
            })  # fmt: skip
            who.append(d.idx)
        t = Table.from_rows(
            "death_certificates", names("death_certificates"), rows, {"deceased": who}
        )
        out.append(_daily("death_certificates", CITY, CITY_UNITS["death_certificates"], day,
                          [FileSpec(f"死亡医学证明_{day:%Y%m%d}.jsonl", "jsonl", "UTF-8", t)]))  # fmt: skip
    return out


def cremation_deliveries(world: World) -> list[Delivery]:
    p = world.pop
    by_key: dict[tuple[date, str], list] = defaultdict(list)
    for idx in sorted(world.deaths):
        d = world.deaths[idx]
        if d.cremation_date is not None:
            by_key[(d.cremation_date + timedelta(days=2), str(p.division[idx])[:6])].append(d)
    out = []
    for day, district in sorted(by_key):
        home = f"广州市{DISTRICTS[district]}殡仪馆"
        rows, who = [], []
        for d in by_key[(day, district)]:
            rows.append({
                "cremation_no": f"HH{district}{d.idx:08d}", "id_number": str(p.id_number[d.idx]),
                "name": str(p.name[d.idx]), "sex": str(p.sex[d.idx]), "death_date": iso(d.cremation_date),
                "cremated_on": iso(day), "funeral_home": home, "handling_division_code": district + "000000",
            })  # fmt: skip
            who.append(d.idx)
        t = Table.from_rows(
            "cremation_records", names("cremation_records"), rows, {"deceased": who}
        )
        out.append(_daily("cremation_records", district, home, day,
                          [FileSpec(f"火化记录_{day:%Y%m%d}.csv", "csv", "GB18030", t)], hour=6))  # fmt: skip
    return out


def marriage_deliveries(world: World) -> list[Delivery]:
    p = world.pop
    by_day: dict[date, list] = defaultdict(list)
    for reg in world.marriages:
        by_day[reg.on].append(reg)
    out = []
    for day in sorted(by_day):
        rows, males, females, protect = [], [], [], set()
        for reg in sorted(by_day[day], key=lambda r: r.cert_no):
            if reg.female_birth is not None:
                protect.add(len(rows))
            rows.append({
                "cert_no": reg.cert_no, "business_type": reg.kind, "registered_on": iso(reg.on),
                "registrar_code": reg.registrar, "registrar_name": f"{DISTRICTS.get(reg.registrar, '广州市')}民政局婚姻登记处",
                "male_id_number": str(p.id_number[reg.male]), "male_name": str(p.name[reg.male]),
                "male_birth_date": str(p.birth[reg.male]), "female_id_number": str(p.id_number[reg.female]),
                "female_name": str(p.name[reg.female]), "female_birth_date": reg.female_birth or str(p.birth[reg.female]),
            })  # fmt: skip
            males.append(reg.male)
            females.append(reg.female)
        t = Table.from_rows("marriage_registrations", names("marriage_registrations"), rows,
                            {"male": males, "female": females})  # fmt: skip
        t.protect = protect
        out.append(_daily("marriage_registrations", CITY, CITY_UNITS["marriage_registrations"], day,
                          [FileSpec(f"婚姻登记_{day:%Y%m%d}.csv", "csv", "UTF-8", t)], hour=2))  # fmt: skip
    return out


def org_deliveries(world: World) -> list[Delivery]:
    out = []
    for label, _monday, sunday in world.tl.weeks():
        rows = []
        for org in world.orgs:
            changed = org.status_date is not None and org.status_date <= sunday
            rows.append({
                "uscc": org.uscc, "name": org.name, "org_type": org.org_type, "registrar": org.registrar,
                "founded_on": iso(org.founded_on), "registered_capital": money(org.capital),
                "legal_rep_name": org.rep, "supervisor_unit": org.supervisor, "address": org.address,
                "status": org.status if changed else "正常", "status_date": iso(org.status_date) if changed else "",
                "last_inspection_year": str(org.inspection_year), "last_inspection_result": org.inspection_result,
                "abnormal_list": "true" if org.abnormal else "false", "is_charity": "true" if org.is_charity else "false",
            })  # fmt: skip
        t = Table.from_rows("social_organizations", names("social_organizations"), rows)
        on = sunday + timedelta(days=1)
        out.append(Delivery("social_organizations", CITY, CITY_UNITS["social_organizations"], label, "full", on,
                            f"{on.isoformat()}T03:00:00+08:00",
                            [FileSpec(f"社会组织_{label}.jsonl", "jsonl", "UTF-8", t)]))  # fmt: skip
    return out


def donation_deliveries(world: World) -> list[Delivery]:
    by_day: dict[str, list] = defaultdict(list)
    for d in world.donations:
        by_day[d.at[:10]].append(d)
    out = []
    for day in sorted(by_day):
        rows = []
        for d in sorted(by_day[day], key=lambda d: d.no):
            org = world.orgs[d.org]
            rows.append({
                "donation_no": d.no, "org_uscc": org.uscc, "org_name": org.name, "project_no": d.project_no,
                "project_name": d.project_name, "donor_type": d.donor_type, "donor_name": d.donor_name,
                "amount": money(d.amount), "donated_at": d.at, "pay_channel": d.channel,
                "receipt_issued": "是" if d.receipt else "否",
            })  # fmt: skip
        t = Table.from_rows("charity_donations", names("charity_donations"), rows)
        out.append(_daily("charity_donations", CITY, CITY_UNITS["charity_donations"], date.fromisoformat(day),
                          [FileSpec(f"捐赠明细_{day.replace('-', '')}.csv", "csv", "UTF-8", t)], hour=5))  # fmt: skip
    return out


def volunteer_deliveries(world: World) -> list[Delivery]:
    p = world.pop
    out = []
    for label, monday, sunday in world.tl.weeks():
        recs = [r for r in world.volunteers if monday <= r.on <= sunday]
        rows, who = [], []
        for r in recs:
            rows.append({
                "record_no": r.record_no, "volunteer_no": r.volunteer_no, "id_number": str(p.id_number[r.idx]),
                "name": str(p.name[r.idx]), "org_uscc": world.orgs[r.org].uscc, "project_name": r.project,
                "service_category": r.category, "service_date": iso(r.on), "hours": f"{r.hours:.1f}",
                "service_division_code": r.division,
            })  # fmt: skip
            who.append(r.idx)
        t = Table.from_rows(
            "volunteer_service", names("volunteer_service"), rows, {"volunteer": who}
        )
        t.id_break_ok = {"id_number"}
        on = sunday + timedelta(days=1)
        out.append(Delivery("volunteer_service", CITY, CITY_UNITS["volunteer_service"], label, "incremental", on,
                            f"{on.isoformat()}T04:00:00+08:00",
                            [FileSpec(f"志愿服务记录_{label}.csv", "csv", "UTF-8", t)]))  # fmt: skip
    return out
