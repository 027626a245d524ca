"""The reference verification: every finding a correct pipeline must produce.

Reads the canonical world (after resubmissions: what the loaded deliveries say) and applies
the rules of OUTPUTS.md section 3 as SOURCE_FEEDS.md section 5 defines them.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from civlake.generate.policy import (
    age_on,
    assistance_active,
    death_month,
    entitlements,
    gl_tier,
)  # fmt: skip
from civlake.generate.timeline import first_day, month_index
from civlake.generate.world import World
from civlake.transform.rules import rule_codes

FIELDS = (
    "rule_code", "id_number", "org_uscc", "program_code", "feed_id", "attribute",
    "period_start", "period_end", "amount_at_risk", "note", "registration_no",
)  # fmt: skip


def _finding(rule: str, **kw) -> dict:
    if rule not in rule_codes():
        # The registry is the one rule list; dbt's test verify_rules_registry holds the
        # models to it too, so oracle and pipeline cannot disagree on which rules exist.
        raise ValueError(f"{rule} is not a rule of dbt/seeds/verify_rules.csv")
    row = dict.fromkeys(FIELDS)
    row["rule_code"] = rule
    for k, v in kw.items():
        row[k] = (
            Decimal(v).quantize(Decimal("0.01")) if k == "amount_at_risk" and v is not None else v
        )
    return row


def paid_lines(world: World) -> dict[str, object]:
    """payment_id -> its latest line (later deliveries win, then file order)."""
    latest: dict[str, object] = {}
    for line in sorted(world.payments, key=lambda p: p.delivered):
        latest[line.payment_id] = line
    return latest


def paid_amounts(world: World) -> dict[tuple[int, str, str], int]:
    paid: dict[tuple[int, str, str], int] = defaultdict(int)
    for line in paid_lines(world).values():
        if line.status == "success":
            paid[(line.idx, line.program, line.pay_month)] += line.amount
    return dict(paid)


def _ranges(months: list[str]) -> list[list[str]]:
    out: list[list[str]] = []
    for m in sorted(months):
        if out and month_index(m) == month_index(out[-1][-1]) + 1:
            out[-1].append(m)
        else:
            out.append([m])
    return out


def compute_findings(world: World) -> list[dict]:
    pop, tl = world.pop, world.tl
    ids = pop.id_number
    due = entitlements(world)
    paid = paid_amounts(world)
    out: list[dict] = []

    def pid(idx: int) -> str:
        return str(ids[idx])

    # Payment rules, grouped per person x programme.
    after_death: dict[tuple[int, str], list[str]] = defaultdict(list)
    no_basis: dict[tuple[int, str], list[str]] = defaultdict(list)
    wrong: dict[tuple[int, str], list[str]] = defaultdict(list)
    for (idx, prog, m), amount in sorted(paid.items()):
        dm = death_month(world, idx)
        if dm is not None and m > dm:
            after_death[(idx, prog)].append(m)
        elif (idx, prog, m) not in due:
            no_basis[(idx, prog)].append(m)
        elif amount != due[(idx, prog, m)]:
            wrong[(idx, prog)].append(m)
    for (idx, prog), months in sorted(after_death.items()):
        total = sum(paid[(idx, prog, m)] for m in months)
        out.append(_finding("DEATH_PAID", id_number=pid(idx), program_code=prog,
                            period_start=min(months), period_end=max(months), amount_at_risk=total,
                            note=f"died {world.deaths[idx].date}"))  # fmt: skip
    for rule, groups in (("PAY_NO_BASIS", no_basis), ("PAY_AMOUNT_WRONG", wrong)):
        for (idx, prog), months in sorted(groups.items()):
            for run in _ranges(months):
                total = sum(paid[(idx, prog, m)] - due.get((idx, prog, m), 0) for m in run)
                out.append(_finding(rule, id_number=pid(idx), program_code=prog, period_start=run[0],
                                    period_end=run[-1], amount_at_risk=total))  # fmt: skip

    latest = tl.latest
    register = world.elderly.get(latest, {})
    for (idx, prog, m), amount in sorted(due.items()):
        if m != latest:
            continue
        if prog == "GL":
            e = register.get(idx)
            if e is None or e.status != "正常":
                out.append(_finding("GL_UNCLAIMED", id_number=pid(idx), program_code="GL",
                                    period_start=m, period_end=m, amount_at_risk=amount))  # fmt: skip
        elif prog in ("CJHL", "CJSH") and paid.get((idx, prog, m), 0) == 0:
            out.append(_finding(f"{prog}_UNCLAIMED", id_number=pid(idx), program_code=prog,
                                period_start=m, period_end=m, amount_at_risk=amount))  # fmt: skip

    # GL_TIER_WRONG: active register entries whose tier or standard does not fit the age.
    tier_wrong: dict[int, dict[str, int]] = defaultdict(dict)
    for m in tl.months:
        for idx, e in world.elderly[m].items():
            if e.status != "正常":
                continue
            want = gl_tier(age_on(pop.birth[idx], first_day(m)))
            if want is None or (e.tier, e.standard) != want:
                tier_wrong[idx][m] = e.standard - (want[1] if want else 0)
    for idx, per_month in sorted(tier_wrong.items()):
        for run in _ranges(list(per_month)):
            out.append(_finding("GL_TIER_WRONG", id_number=pid(idx), program_code="GL",
                                feed_id="elderly_allowance", period_start=run[0], period_end=run[-1],
                                amount_at_risk=sum(per_month[m] for m in run)))  # fmt: skip

    # DUP_ASSIST: more than one household or district, or both 低保 and 特困, in a month.
    dup: dict[int, list[str]] = defaultdict(list)
    for m in tl.months:
        for idx, hs in assistance_active(world, m).items():
            fams = {h.family_no for h in hs}
            kinds = {h.kind for h in hs}
            if len(fams) > 1 or len({h.district for h in hs}) > 1 or {"低保", "特困"} <= kinds:
                dup[idx].append(m)
    for idx, months in sorted(dup.items()):
        for run in _ranges(months):
            out.append(_finding("DUP_ASSIST", id_number=pid(idx), feed_id="assistance_recipients",
                                period_start=run[0], period_end=run[-1]))  # fmt: skip

    out += _identity_findings(world, paid)
    out += _civic_findings(world)
    return out


def _identity_findings(world: World, paid: dict) -> list[dict]:
    pop, tl = world.pop, world.tl
    out = []
    mism: set[tuple[int, str, str]] = set()
    for m in tl.months:
        for idx, e in world.elderly[m].items():
            if e.name is not None and e.name != pop.name[idx]:
                mism.add((idx, "elderly_allowance", "name"))
            if e.birth is not None and e.birth != str(pop.birth[idx]):
                mism.add((idx, "elderly_allowance", "birth_date"))
    for c in world.certs:
        if c.sex in ("1", "2") and c.sex != pop.sex[c.idx]:
            mism.add((c.idx, "disability_certs", "sex"))
    for ch in world.children:
        if ch.birth is not None and ch.birth != str(pop.birth[ch.idx]):
            mism.add((ch.idx, "child_welfare", "birth_date"))
    for reg in world.marriages:
        if reg.female_birth is not None and reg.female_birth != str(pop.birth[reg.female]):
            mism.add((reg.female, "marriage_registrations", "birth_date"))
    for idx, feed, attr in sorted(mism):
        if pop.in_hukou[idx]:
            out.append(
                _finding(
                    "ID_MISMATCH", id_number=str(pop.id_number[idx]), feed_id=feed, attribute=attr
                )
            )
    # NOT_IN_HUKOU: benefit recipients with no hukou record at all; the period spans the
    # months in which they were a recipient.
    months_of: dict[int, set[str]] = defaultdict(set)
    for idx, _p, m in paid:
        months_of[idx].add(m)
    for m in tl.months:
        active = set(assistance_active(world, m))
        active |= {i for i, e in world.elderly[m].items() if e.status == "正常"}
        active |= {ch.idx for ch in world.children if ch.status.get(m) == "在册"}
        for idx in active:
            months_of[idx].add(m)
    paid_to: dict[int, int] = defaultdict(int)
    for (i, _p, _m), a in paid.items():
        paid_to[i] += a
    for idx in sorted(months_of):
        if not pop.in_hukou[idx]:
            out.append(
                _finding(
                    "NOT_IN_HUKOU", id_number=str(pop.id_number[idx]), amount_at_risk=paid_to.get(idx, 0),
                    period_start=min(months_of[idx]), period_end=max(months_of[idx]),
                )
            )  # fmt: skip
    return out


def _civic_findings(world: World) -> list[dict]:
    pop, tl = world.pop, world.tl
    out = []
    by_org: dict[tuple[int, str], int] = defaultdict(int)
    for d in world.donations:
        org = world.orgs[d.org]
        day = d.at[:10]
        inactive = (
            org.status in ("注销", "撤销")
            and org.status_date
            and day >= org.status_date.isoformat()
        )
        if inactive or org.abnormal:
            by_org[(d.org, day[:7])] += d.amount
    for (org_i, m), total in sorted(by_org.items()):
        out.append(_finding("ORG_INACTIVE_DONATION", org_uscc=world.orgs[org_i].uscc, feed_id="charity_donations",
                            period_start=m, period_end=m, amount_at_risk=total))  # fmt: skip
    spouses: dict[int, set[int]] = defaultdict(set)
    for reg in sorted(world.marriages, key=lambda r: (r.on, r.cert_no)):
        pair = (reg.male, reg.female)
        if reg.kind == "结婚登记":
            for me, other in (pair, pair[::-1]):
                alive = {
                    s
                    for s in spouses[me]
                    if s not in world.deaths or world.deaths[s].date >= reg.on
                }
                if alive - {other}:
                    out.append(_finding("MARRIED_TWICE", id_number=str(pop.id_number[me]),
                                        feed_id="marriage_registrations", period_start=f"{reg.on:%Y-%m}",
                                        period_end=f"{reg.on:%Y-%m}", registration_no=reg.cert_no))  # fmt: skip
            spouses[reg.male].add(reg.female)
            spouses[reg.female].add(reg.male)
        elif reg.kind in ("离婚登记", "撤销婚姻"):
            spouses[reg.male].discard(reg.female)
            spouses[reg.female].discard(reg.male)
    cutoff = first_day(tl.latest)
    for ch in world.children:
        g = ch.guardian
        if (
            ch.status.get(tl.latest) == "在册"
            and g is not None
            and g in world.deaths
            and world.deaths[g].date < cutoff
        ):
            out.append(_finding("GUARDIAN_DECEASED", id_number=str(pop.id_number[ch.idx]), feed_id="child_welfare",
                                period_start=tl.latest, period_end=tl.latest,
                                note=f"guardian died {world.deaths[g].date}"))  # fmt: skip
    return out
