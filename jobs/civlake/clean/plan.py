"""What the contract asks of each column: canonicalising SQL, silver type, checks.

``plan(contract)`` turns a feed contract into staged SQL expressions (stage *n* may read
columns of stages < *n*), the reason-code checks with their human-readable details, and
the silver output columns. ``frame`` runs the plan; nothing here touches data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from civlake.clean import sql_macros
from civlake.contracts import Column, FeedContract

# Order of codes in ``reasons``: fixed, so the same row always lists them the same way.
REASONS = (
    "ROW_MALFORMED", "REQUIRED_MISSING", "DATE_INVALID", "AMOUNT_INVALID", "ENUM_INVALID",
    "DIVISION_UNKNOWN", "USCC_INVALID", "ID_UNUSABLE",
)  # fmt: skip
UTC_US = pa.timestamp("us", tz="UTC")
lit = sql_macros.lit


@dataclass
class Plan:
    stages: list[dict[str, str]] = field(default_factory=list)
    checks: list[tuple[str, str, str]] = field(default_factory=list)  # reason, cond, detail
    outputs: list[tuple[str, str, pa.DataType]] = field(default_factory=list)  # name, sql, type
    names: list[str] = field(default_factory=list)  # silver columns that go through OpenCC
    lookups: dict[str, str] = field(default_factory=dict)  # out column -> delivered division
    described: dict[str, str] = field(default_factory=dict)  # raw expr -> its value's wording
    wording: dict[str, str] = field(default_factory=dict)  # that column -> its SQL

    def add(self, stage: int, **cols: str) -> None:
        while len(self.stages) <= stage:
            self.stages.append({})
        self.stages[stage].update(cols)

    def out(self, name: str, sql: str, typ: pa.DataType | None = None) -> None:
        self.outputs.append((name, sql, typ or pa.string()))

    def bad(self, reason: str, cond: str, label: str, what: str, raw: str | None) -> None:
        """Register a check; its detail names the field and, if given, the bad value (a
        spreadsheet error value by name: its JSON alone reads like any other typo)."""
        detail = lit(f"{label}: {what}")
        if raw is not None:
            detail += f" || coalesce(' (' || {self._described(raw)} || ')', '')"
        self.checks.append((reason, cond, detail))

    def _described(self, raw: str) -> str:
        """A column naming the delivered value of ``raw``, one per delivered field:
        inlined into every check's detail, the macros took ~0.4 s per query just to bind.
        Only quarantined rows read it, so ``frame`` computes it for those rows alone (as a
        stage column it was computed for every distinct value: 0.4 s per 500,000 IDs)."""
        name = self.described.get(raw)
        if name is None:
            name = self.described[raw] = f"d__{len(self.described)}"
            self.wording[name] = (
                f"CASE WHEN cl_xlerr({raw}) IS NOT NULL"
                f" THEN 'spreadsheet error value ' || cl_xlerr({raw})"
                f" ELSE 'delivered ' || to_json({raw}) END"
            )
        return name


_SIMPLE = {
    # kind: (macro, silver type, reason when present but unreadable, what is wrong)
    "date": ("cl_date({r})", pa.date32(), "DATE_INVALID", "not a real date"),
    "month": ("cl_month({r})", pa.string(), "DATE_INVALID", "not a month (YYYY-MM)"),
    "amount": ("cl_amount({r})", pa.decimal128(18, 2), "AMOUNT_INVALID", "not an amount"),
    "integer": ("cl_int({r})", pa.int64(), "AMOUNT_INVALID", "not a whole number"),
    "sex": ("cl_sex({r})", pa.string(), "ENUM_INVALID", "not a sex code (1/2/0/9, 男/女)"),
    "code12": ("cl_div({r})", pa.string(), "DIVISION_UNKNOWN", "not a 6/9/12-digit code"),
    "division_self": ("cl_div({r})", pa.string(), "DIVISION_UNKNOWN", "not a 6/9/12-digit code"),
    "phone": ("cl_phone({r})", pa.string(), None, ""),
    "string": ("cl_trim({r})", pa.string(), None, ""),
}


def _column(p: Plan, c: Column) -> None:
    raw, o, label = f'"{c.name}"', f"o_{c.name}", f"{c.name}（{c.header}）"
    # presence is computed once per column in stage 0; checks read the flag
    present = f"p_{c.name}"
    p.add(0, **{present: f"cl_present({raw})"})
    missing = f"NOT {present}"
    if c.kind in _SIMPLE:
        macro, typ, reason, what = _SIMPLE[c.kind]
        p.add(0, **{o: macro.format(r=raw)})
        p.out(c.name, o, typ)
        if reason:
            p.bad(reason, f"{present} AND {o} IS NULL", label, what, raw)
        else:  # text: NULL when blank or a spreadsheet error value, which are both missing
            missing = f"{o} IS NULL"
    elif c.kind == "enum":
        p.add(0, **{o: f"cl_enum_{c.enum}({raw})"})
        p.out(c.name, o)
        p.bad("ENUM_INVALID", f"{present} AND {o} IS NULL", label, f"not a value of {c.enum}", raw)
    elif c.kind == "bool":
        p.add(0, **{o: f"cl_enum_yes_no({raw})"})
        p.out(c.name, f"{o} = 'true'", pa.bool_())
        p.bad("ENUM_INVALID", f"{present} AND {o} IS NULL", label, "not 是/否 or true/false", raw)
    elif c.kind == "name":
        p.add(0, **{o: f"cl_name_value({raw})", f"{o}_note": f"cl_name_note({raw})"})
        p.out(c.name, o)
        p.out(f"{c.name}_note", f"{o}_note")
        p.names.append(c.name)
        missing = f"{o} IS NULL"
    elif c.kind == "timestamp":
        for i, stage in enumerate(sql_macros.ts_layers(raw, o)):
            p.add(i, **stage)
        p.out(c.name, o, UTC_US)
        p.bad("DATE_INVALID", f"{present} AND {o} IS NULL", label, "not a readable date/time", raw)
    elif c.kind == "citizen_id":
        for i, stage in enumerate(sql_macros.id_layers(raw, o, "__maxd")):
            p.add(i, **stage)
        p.out(c.name, o)
        p.out(f"{c.name}_status", f"{o}_status")
        missing = f"{o}_status = 'missing'"
    elif c.kind == "disability_cert_no":
        _cert(p, c, raw, o)
    elif c.kind == "uscc":
        p.add(0, **{o: f"cl_uscc_value({raw})", f"{o}_status": f"cl_uscc_status({raw})"})
        p.out(c.name, o)
        p.out(f"{c.name}_status", f"{o}_status")
        if c.invalid == "quarantine":
            p.bad("USCC_INVALID", f"{o}_status = 'invalid'", label, "check character wrong", raw)
    elif c.kind == "division":
        d = f"{o}_delivered"
        p.add(0, **{d: f"cl_div({raw})"})
        p.lookups[o] = d  # today's code: an Arrow lookup in divmap, see frame._run_stages
        p.out(c.name, o)
        p.out(f"{c.name}_delivered", d)
        p.bad(
            "DIVISION_UNKNOWN", f"{present} AND {o} IS NULL", label,
            "neither a current nor an obsolete code in silver.divisions", raw,
        )  # fmt: skip
    else:  # a new kind in contracts.KINDS must be taught here
        raise NotImplementedError(f"clean gate has no canonicaliser for kind {c.kind!r}")
    if c.required:
        p.bad("REQUIRED_MISSING", missing, label, "required but blank or unusable", raw)


def _cert(p: Plan, c: Column, raw: str, o: str) -> None:
    """残疾人证号 = 18-char ID (or legacy 15) + category digit + grade digit.

    Cleaned like an ID (width, spaces, hyphens, text-marker apostrophes) before the ID is
    cut out of it: cut first, a leading ' took an ID digit. An error value is no number."""
    p.add(0, **{o: f"CASE WHEN cl_xlerr({raw}) IS NULL THEN nullif(cl_id_clean({raw}), '') END"})
    idsrc, ido = f"{o}__idsrc", f"o_{c.derives_id}"
    p.add(
        1,
        **{
            idsrc: f"CASE WHEN length({o}) = 17 THEN substr({o}, 1, 15) ELSE substr({o}, 1, 18) END"
        },
    )
    for i, stage in enumerate(sql_macros.id_layers(idsrc, ido, "__maxd"), start=2):
        p.add(i, **stage)
    p.out(c.name, o)
    p.out(c.derives_id, ido)
    # the ID stages saw the cleaned cert number; dirt in the delivered one is normalisation
    p.out(
        f"{c.derives_id}_status",
        f"CASE WHEN {ido}_status = 'valid' AND {o} <> {raw} THEN 'normalized'"
        f" ELSE {ido}_status END",
    )
    if c.required:
        p.bad(
            "REQUIRED_MISSING", f"{o} IS NULL", f"{c.name}（{c.header}）",
            "required but blank or unusable", raw,
        )  # fmt: skip


def _roles(p: Plan, contract: FeedContract) -> None:
    """ID_UNUSABLE for subjects; secondary references without a usable ID are dropped."""
    last = len(p.stages)
    for role in contract.persons:
        extra = [f"o_{a} IS NOT NULL" for a in (role.birth_date, role.stable_key) if a]
        identified = f"o_{role.name} IS NOT NULL AND ({' OR '.join(extra) or 'false'})"
        flag = f"u_{role.role}"
        p.add(last, **{flag: f"o_{role.id}_status = 'missing' AND NOT ({identified})"})
        if role.subject:
            what = (
                f"no usable ID for the {role.role} and no birth date or stable key beside the"
                " name, so the person cannot be identified"
            )
            src = f'"{role.id}"' if _delivered(contract, role.id) else None
            p.bad("ID_UNUSABLE", flag, role.id, what, src)
        else:
            p.outputs = [
                (n, f"CASE WHEN {flag} THEN NULL ELSE {sql} END" if n == role.name else sql, t)
                for n, sql, t in p.outputs
            ]


def _delivered(contract: FeedContract, name: str) -> bool:
    return name in contract.names


def plan(contract: FeedContract) -> Plan:
    p = Plan()
    for c in contract.columns:
        _column(p, c)
    _roles(p, contract)
    return p
