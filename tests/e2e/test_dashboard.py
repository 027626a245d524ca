"""The 免申即享 loop and the bureau dashboard (issue 20 items 3 and 4).

Two warehouses: a tiny city taken through dbt twice, a month apart (tests/support/
loop_city.py: February lists the candidates, March's payments close one), and the
sample warehouse with synthetic marts of the same columns but city-sized counts (so the
small-cell rule hides some cells, not all). The loop mart is checked against a hand
count from the raw rows; every panel's JSON against the mart read and aggregated here
in Python; the page in headless Chromium on a real loopback server.
"""

from __future__ import annotations

import json
import math
import os
import time
import urllib.error
import urllib.request
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pytest

from civlake.agency import create_agency
from civlake.publish import publish_all
from civlake.publish.catalog import Suppression
from civlake.publish.suppress import suppress
from civlake.serve.app import create_app
from civlake.serve.dashboard_panels import PANELS
from civlake.settings import load_settings
from tests.e2e.browser import Browser, find_chromium
from tests.support.loop_city import LoopCity, build_loop_city, read_rows
from tests.support.sample_marts import write_sample_marts
from tests.support.sample_warehouse import build_sample_warehouse
from tests.support.server import serve_in_background
from tests.support.small_city import PEOPLE

pytestmark = pytest.mark.e2e
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
MONTHS = ("2026-08", "2026-09", "2026-10")
UNCLAIMED = ("GL_UNCLAIMED", "CJHL_UNCLAIMED", "CJSH_UNCLAIMED")
IMPROPER = ("DEATH_PAID", "PAY_NO_BASIS", "NOT_IN_HUKOU")
CITY = "440100000000"
MARTS = (
    "mart_low_income", "mart_elderly_children", "mart_disability_subsidies", "mart_deaths",
    "mart_verification", "mart_proactive_entitlement", "mart_payment_recovery",
    "mart_data_governance",
)  # fmt: skip


@pytest.fixture(scope="module")
def loop(tmp_path_factory) -> LoopCity:
    return build_loop_city(tmp_path_factory.mktemp("loop"))


@pytest.fixture(scope="module")
def loop_site(loop):
    with serve_in_background(create_app(loop.settings)) as base:
        yield loop.settings.warehouse, base


@pytest.fixture(scope="module")
def sample_site(tmp_path_factory):
    home = tmp_path_factory.mktemp("dashboard")
    settings = load_settings(env={"CIVLAKE_HOME": str(home)})
    build_sample_warehouse(settings.warehouse, months=MONTHS)
    write_sample_marts(settings.warehouse, months=MONTHS)
    with serve_in_background(create_app(settings)) as base:
        yield settings.warehouse, base


@pytest.fixture(scope="module")
def browser():
    binary = find_chromium()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed: run scripts/install-browser")
        pytest.skip("chromium is not installed and scripts/install-browser could not install it")
    with Browser(binary) as b:
        yield b


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=20) as resp:
        return json.loads(resp.read())


# --- the loop mart against a hand count ----------------------------------------------


def hand_count(loop: LoopCity) -> dict[tuple, dict]:
    """mart_proactive_entitlement recomputed from the raw rows, without the SQL."""
    candidates: dict[str, dict] = {}
    for snapshot in loop.findings:  # the lists as published month by month
        for f in snapshot:
            if f["rule_code"] in UNCLAIMED:
                candidates.setdefault(f["finding_id"], f)
    key_of = {v[0]: k for k, v in PEOPLE.items()}
    confirmed = {
        r["finding_id"] for city in loop.rounds
        for r in city.rows.get("finding_reviews", []) if r["decision"] == "属实"
    }  # fmt: skip
    latest: dict[str, dict] = {}  # the last line sent for each payment_id wins
    for city in loop.rounds:
        for line in city.rows.get("benefit_payments", []):
            latest[line["payment_id"]] = line
    out: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
    for f in candidates.values():
        paid = sorted(
            (p for p in latest.values()
             if p["status"] == "success" and key_of.get(p["id_number"]) == f["person_key"]
             and p["program_code"] == f["program_code"] and p["pay_month"] >= f["period_start"]),
            key=lambda p: p["pay_month"],
        )  # fmt: skip
        row = out[(f["district_code"], f["rule_code"], f["period_start"])]
        row["candidates"] += 1
        row["confirmed"] += f["finding_id"] in confirmed
        row["amount_due"] += f["amount_at_risk"]
        if paid:
            first = paid[0]["pay_month"]
            in_first = [p for p in paid if p["pay_month"] == first]
            days = (min(p["paid_at"] for p in in_first) - f["first_detected_at"]).total_seconds()
            row["paid"] += 1
            row["first_paid_amount"] += sum(p["amount"] for p in in_first)
            row["amount_paid"] += sum(p["amount"] for p in paid)
            row["days_to_first_payment_sum"] += math.floor(days / 86400)
        else:
            row["unpaid"] += 1
            row["amount_due_unpaid"] += f["amount_at_risk"]
    return out


def test_loop_mart_equals_hand_count(loop: LoopCity) -> None:
    # GIVEN February's list and March's payments; WHEN the mart is read
    got = {
        (r["division_code"], r["rule_code"], r["month"]): r
        for r in read_rows(loop.settings.warehouse, "select * from mart.mart_proactive_entitlement")
    }
    want = hand_count(loop)
    # THEN it holds the same cells and the same figures
    assert set(got) == set(want)
    for key, w in want.items():
        g = got[key]
        for col in ("candidates", "confirmed", "paid", "unpaid"):
            assert g[col] == w[col], (key, col)
        for col in ("amount_due", "amount_due_unpaid", "first_paid_amount", "amount_paid"):
            assert g[col] == Decimal(w[col]).quantize(Decimal("0.01")), (key, col)
        assert g["days_to_first_payment_sum"] == (
            w["days_to_first_payment_sum"] if w["paid"] else None
        )
    # and the sample is not trivial: one candidate closed by March's payment, one still open
    assert sum(w["paid"] for w in want.values()) >= 1
    assert sum(w["unpaid"] for w in want.values()) >= 1
    assert sum(w["confirmed"] for w in want.values()) >= 1
    assert any(w["days_to_first_payment_sum"] > 0 for w in want.values() if w["paid"])


def payment_hand_count(loop: LoopCity) -> dict[tuple, dict]:
    """mart_payment_recovery recomputed from the rounds' raw rows and the findings each
    round listed, without the SQL: a finding is stopped when its payment still went out in
    the month it was first listed and the latest month now is past its last month; money
    returned is a counted payment whose returned line came in a later round."""
    key_of = {v[0]: k for k, v in PEOPLE.items()}
    months: set[str] = set()
    latest_month = []  # the latest complete month after each round: its latest pay_month
    for city in loop.rounds:
        months |= {p["pay_month"] for p in city.rows.get("benefit_payments", [])}
        latest_month.append(max(months))
    seen: dict[str, dict] = {}
    for i, snapshot in enumerate(loop.findings):
        for f in snapshot:
            if f["rule_code"] in IMPROPER:
                s = seen.setdefault(f["finding_id"], {
                    "round": i, "month": latest_month[i], "running": f["period_end"] >= latest_month[i],
                    "start": f["period_start"], "end": f["period_end"]})  # fmt: skip
                s["start"], s["end"] = (
                    min(s["start"], f["period_start"]),
                    max(s["end"], f["period_end"]),
                )
                s["last"] = f
    line_of: dict[str, tuple[int, dict]] = {}  # payment_id -> (round, line in force)
    for i, city in enumerate(loop.rounds):
        for line in city.rows.get("benefit_payments", []):
            line_of[line["payment_id"]] = (i, line)
    decision: dict[str, str] = {}  # the latest review of each finding
    for city in loop.rounds:
        for r in city.rows.get("finding_reviews", []):
            decision[r["finding_id"]] = r["decision"]
    confirmed = {
        r["finding_id"] for city in loop.rounds
        for r in city.rows.get("finding_reviews", []) if r["decision"] == "属实"
    }  # fmt: skip
    out: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
    for fid, s in seen.items():
        f = s["last"]
        counted = [
            line for arrived, line in line_of.values()
            if key_of.get(line["id_number"]) == f["person_key"]
            and f["program_code"] in (None, line["program_code"])
            and s["start"] <= line["pay_month"] <= s["end"]
            and (line["status"] == "success" or (line["status"] == "returned" and arrived > s["round"]))
        ]  # fmt: skip
        stopped = s["running"] and s["end"] < latest_month[-1]
        row = out[(f["district_code"] or CITY, f["rule_code"], s["month"])]
        row["findings"] += 1
        row["confirmed"] += fid in confirmed
        row["dismissed"] += decision.get(fid) == "不属实"
        row["running_at_detection"] += s["running"]
        row["stopped"] += stopped
        row["still_paid"] += s["running"] and not stopped
        row["amount_at_risk"] += f["amount_at_risk"]
        row["amount_returned"] += sum(p["amount"] for p in counted if p["status"] == "returned")
        if stopped and counted:
            last = max(p["pay_month"] for p in counted)
            row["amount_stopped_monthly"] += sum(
                p["amount"] for p in counted if p["pay_month"] == last
            )
    return out


def test_payment_recovery_mart_equals_hand_count(loop: LoopCity) -> None:
    # GIVEN February's improper payments, March's (one stopped and sent back, one going on)
    # WHEN the mart is read
    got = {
        (r["division_code"], r["rule_code"], r["month"]): r
        for r in read_rows(loop.settings.warehouse, "select * from mart.mart_payment_recovery")
    }
    want = payment_hand_count(loop)
    # THEN it holds the same cells and the same figures
    assert set(got) == set(want)
    for key, w in want.items():
        g = got[key]
        for col in ("findings", "confirmed", "dismissed", "running_at_detection", "stopped",
                    "still_paid"):  # fmt: skip
            assert g[col] == w[col], (key, col)
        for col in ("amount_at_risk", "amount_stopped_monthly", "amount_returned"):
            assert g[col] == Decimal(w[col]).quantize(Decimal("0.01")), (key, col)
    # and the sample is not trivial: a confirmed payment stopped and sent back, one going on
    assert sum(w["stopped"] for w in want.values()) >= 1
    assert sum(w["still_paid"] for w in want.values()) >= 1
    assert sum(w["confirmed"] for w in want.values()) >= 1
    assert sum(w["amount_returned"] for w in want.values()) > 0
    assert sum(w["amount_stopped_monthly"] for w in want.values()) > 0


def test_candidate_log_keeps_a_paid_candidate(loop: LoopCity) -> None:
    # The GL candidate paid in March is no longer a finding, but the log keeps it.
    current = {f["finding_id"] for f in loop.findings[-1]}
    log = read_rows(loop.settings.warehouse, "select * from verify.entitlement_candidates")
    gone = [r for r in log if r["finding_id"] not in current]
    assert gone and all(not r["is_listed"] for r in gone)
    assert {r["rule_code"] for r in gone} == {"GL_UNCLAIMED"}


def test_published_list_is_the_months_open_candidates(loop: LoopCity) -> None:
    rows = read_rows(
        loop.settings.warehouse, "select * from publish.pub_proactive_entitlement_candidates"
    )
    open_now = [f for f in loop.findings[-1] if f["rule_code"] in UNCLAIMED]
    assert sorted(r["finding_id"] for r in rows) == sorted(f["finding_id"] for f in open_now)
    assert all(r["id_number"] in {v[0] for v in PEOPLE.values()} for r in rows)
    assert {r["list_month"] for r in rows} == {"2026-03"}
    assert {r["first_listed_month"] for r in rows} == {"2026-02"}


def test_candidates_are_published_and_pulled_by_grant(loop: LoopCity) -> None:
    # GIVEN the month's list published by the normal publish job
    settings = loop.settings
    publish_all(settings, now=datetime(2026, 4, 1, 2, 0, tzinfo=UTC))
    name = "proactive_entitlement_candidates"
    assert (settings.publish / name / "v1" / "datapackage.json").is_file()
    listed = read_rows(settings.warehouse, f"select * from publish.pub_{name}")
    finance = create_agency(settings, "广州市财政局", [name], "2030-12-31")
    tianhe = create_agency(settings, "天河区民政局", [f"{name}@440106"], "2030-12-31")
    other = create_agency(settings, "广州市教育局", ["assistance_recipients_current"], None)
    url = f"api/v1/datasets/{name}/changes?since_version=0"
    with serve_in_background(create_app(settings)) as base:

        def pull(key: str | None) -> tuple[int, dict]:
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            req = urllib.request.Request(base + url, headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=20) as resp:
                    return resp.status, json.loads(resp.read())
            except urllib.error.HTTPError as err:
                return err.code, {}

        # WHEN the payment side pulls it THEN it gets the list, person by person
        status, body = pull(finance)
        assert status == 200
        assert sorted(c["finding_id"] for c in body["changes"]) == sorted(
            r["finding_id"] for r in listed
        )
        assert {c["id_number"] for c in body["changes"]} == {r["id_number"] for r in listed}
        # a district's grant sees its district only (the open candidate is 越秀区's)
        status, body = pull(tianhe)
        assert status == 200 and body["changes"] == []
        assert pull(None)[0] == 401
        assert pull(other)[0] == 403


def test_sample_marts_have_the_real_columns(loop: LoopCity, sample_site) -> None:
    # The browser test's synthetic marts must stay the shape dbt builds.
    warehouse, _ = sample_site
    sql = "select * from mart.{} limit 0"
    for mart in MARTS:
        real = read_rows_columns(loop.settings.warehouse, sql.format(mart))
        synthetic = read_rows_columns(warehouse, sql.format(mart))
        assert sorted(synthetic) == sorted(real), mart


def read_rows_columns(warehouse: Path, sql: str) -> list[str]:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return [c[0] for c in con.execute(sql).description]
    finally:
        con.close()


# --- every panel's JSON against the mart ------------------------------------------------


def _is_district(code: str | None) -> bool:
    return bool(code) and code.startswith("4401") and code != "440100000000"


def _group(rows, keys, sums, *, name="division_name", extra=()) -> list[dict]:
    out: dict[tuple, dict] = {}
    for r in rows:
        k = tuple(r[c] for c in keys)
        g = out.setdefault(k, {**{c: r[c] for c in keys}, name: r[name],
                               **{c: r[c] for c in extra}, **{c: 0 for c in sums}})  # fmt: skip
        for c in sums:
            g[c] += r[c] or 0
    return list(out.values())


def expected_panel(warehouse: Path, panel: str) -> list[dict]:
    """The panel's rows from ``select *`` of its marts, aggregated here in Python."""

    def mart(name: str) -> list[dict]:
        rows = read_rows(warehouse, f"select * from mart.{name}")
        return [r for r in rows if _is_district(r["division_code"])]

    per_cell = ("month", "division_code")
    if panel == "low_income":
        rows = [r for r in mart("mart_low_income") if r["assistance_type"] in ("低保", "特困")]
        return _group(rows, (*per_cell, "assistance_type"), ("households", "persons", "amount"))
    if panel == "elderly_allowance":
        cols = ("population_80_plus", "population_80_plus_covered", "allowance_recipients",
                "allowance_coverage_rate")  # fmt: skip
        return [
            {c: r[c] for c in (*per_cell, "division_name", *cols)}
            for r in mart("mart_elderly_children")
        ]
    if panel == "disability":
        cols = (
            "certified_persons",
            "cjhl_recipients",
            "cjhl_amount",
            "cjsh_recipients",
            "cjsh_amount",
        )
        return [
            {c: r[c] for c in (*per_cell, "division_name", *cols)}
            for r in mart("mart_disability_subsidies")
        ]
    if panel == "elderly_children":
        cols = ("population_80_plus", "population_children", "children_in_difficulty",
                "children_orphans", "children_left_behind")  # fmt: skip
        return [
            {c: r[c] for c in (*per_cell, "division_name", *cols)}
            for r in mart("mart_elderly_children")
        ]
    if panel == "deaths":
        cells: dict[tuple, dict] = {}
        for r in mart("mart_deaths"):
            cells[(r["month"], r["division_code"])] = {
                **{c: r[c] for c in (*per_cell, "division_name")},
                "deaths": r["deaths"], "cremations": r["cremations"],
                "paid_after_death_persons": 0, "paid_after_death_amount": 0,
            }  # fmt: skip
        for r in mart("mart_verification"):
            if r["rule_code"] == "DEATH_PAID":
                c = cells.setdefault((r["month"], r["division_code"]), {
                    **{k: r[k] for k in (*per_cell, "division_name")}, "deaths": 0,
                    "cremations": 0, "paid_after_death_persons": 0, "paid_after_death_amount": 0})  # fmt: skip
                c["paid_after_death_persons"] += r["persons"]
                c["paid_after_death_amount"] += r["amount_at_risk"]
        return list(cells.values())
    if panel == "findings":
        return _group(
            mart("mart_verification"), per_cell, ("persons", "findings", "amount_at_risk")
        )
    if panel == "proactive":  # the two sides of the loop, cell by cell
        zero = dict.fromkeys(("candidates", "confirmed", "paid", "unpaid", "amount_paid",
                              "amount_due_unpaid", "days_to_first_payment_sum",
                              "payment_findings", "stopped", "still_paid",
                              "amount_stopped_monthly", "amount_returned"), 0)  # fmt: skip
        cells: dict[tuple, dict] = {}
        for r in mart("mart_proactive_entitlement"):
            c = cells.setdefault((r["month"], r["division_code"]), {
                **{k: r[k] for k in (*per_cell, "division_name")}, **zero,
                "days_to_first_payment_sum": None})  # fmt: skip
            for k in ("candidates", "confirmed", "paid", "unpaid", "amount_paid",
                      "amount_due_unpaid"):  # fmt: skip
                c[k] += r[k]
            if r["days_to_first_payment_sum"] is not None:
                c["days_to_first_payment_sum"] = (c["days_to_first_payment_sum"] or 0) + r[
                    "days_to_first_payment_sum"
                ]
        for r in mart("mart_payment_recovery"):
            c = cells.setdefault((r["month"], r["division_code"]), {
                **{k: r[k] for k in (*per_cell, "division_name")}, **zero,
                "days_to_first_payment_sum": None})  # fmt: skip
            c["payment_findings"] += r["findings"]
            for k in ("stopped", "still_paid", "amount_stopped_monthly", "amount_returned"):
                c[k] += r[k]
        rows = list(cells.values())
        for r in rows:
            days = r.pop("days_to_first_payment_sum")
            r["avg_days_to_first_payment"] = (
                days / r["paid"] if r["paid"] and days is not None else None
            )
        return rows
    if panel == "governance":
        rows = read_rows(warehouse, "select * from mart.mart_data_governance")
        rows = _group(rows, (*per_cell, "feed_id"),
                      ("periods_received", "deliveries_expected", "rows_declared",
                       "rows_quarantined"), extra=("feed_title",))  # fmt: skip
        by_cell = defaultdict(list)
        for r in read_rows(warehouse, "select * from mart.mart_data_governance"):
            by_cell[(r["month"], r["division_code"], r["feed_id"])].append(r)
        for r in rows:
            cell = by_cell[(r["month"], r["division_code"], r["feed_id"])]
            r["completeness_rate"] = (
                r["periods_received"] / r["deliveries_expected"]
                if r["deliveries_expected"]
                else None
            )
            r["quarantine_rate"] = (
                r["rows_quarantined"] / r["rows_declared"] if r["rows_declared"] else None
            )
            behind = [
                c["hours_behind_latest_ingest"]
                for c in cell
                if c["hours_behind_latest_ingest"] is not None
            ]
            r["hours_behind_latest_ingest"] = min(behind) if behind else None
        return rows
    raise AssertionError(f"no expectation for panel {panel}")


def _suppressed(rows: list[dict], panel: str) -> list[dict]:
    spec = PANELS[panel]
    if not spec.counts or not rows:
        return rows
    rule = Suppression(spec.counts, spec.dims, spec.linked, spec.additive)
    rows = sorted(rows, key=lambda r: tuple(str(r[d]) for d in spec.dims))
    out, _ = suppress(pd.DataFrame(rows), rule)
    return out.astype(object).where(out.notna(), None).to_dict(orient="records")


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=0.005)


def _check_panel(warehouse: Path, base: str, panel: str) -> dict:
    body = _get(f"{base}api/v1/dashboard/{panel}")
    got = [dict(zip(body["columns"], row, strict=True)) for row in body["rows"]]
    want = _suppressed(expected_panel(warehouse, panel), panel)
    key = PANELS[panel].dims
    assert sorted(tuple(r[k] for k in key) for r in got) == sorted(
        tuple(r[k] for k in key) for r in want
    ), panel
    by_key = {tuple(r[k] for k in key): r for r in want}
    for row in got:
        w = by_key[tuple(row[k] for k in key)]
        assert set(row) == set(w), panel
        bad = {c: (row[c], w[c]) for c in row if not _same(row[c], w[c])}
        assert not bad, (panel, row, bad)
    # the small-cell rule, as a visitor would check it: no count from 1 to 4, no amount
    # or rate shown beside a hidden count
    for row in got:
        for count in PANELS[panel].counts:
            assert row[count] is None or not 1 <= row[count] <= 4, (panel, count, row)
        for value, count in PANELS[panel].linked.items():
            if row[count] is None:
                assert row[value] is None, (panel, value, row)
    return body


@pytest.mark.parametrize("panel", list(PANELS))
def test_panel_json_equals_the_mart(panel: str, sample_site, loop_site) -> None:
    for warehouse, base in (sample_site, loop_site):
        body = _check_panel(warehouse, base, panel)
        assert body["rows"], f"{panel} is empty on {warehouse}"
        # no raw identifiers: the only codes are division codes
        text = json.dumps(body, ensure_ascii=False)
        assert not any(v[0] in text for v in PEOPLE.values())
        assert "person_key" not in body["columns"] and "id_number" not in body["columns"]


def test_district_drill_is_the_city_rows_of_that_district(sample_site) -> None:
    _, base = sample_site
    for panel in PANELS:
        city = _get(f"{base}api/v1/dashboard/{panel}")
        one = _get(f"{base}api/v1/dashboard/{panel}?district=440106000000")
        i = city["columns"].index("division_code")
        assert one["rows"] == [r for r in city["rows"] if r[i] == "440106000000"], panel
        assert one["rows"], panel


def test_unknown_panel_and_bad_district_are_refused(sample_site) -> None:
    _, base = sample_site
    for path, statuses in (("api/v1/dashboard/salaries", {404}),
                           ("api/v1/dashboard/findings?district=4401", {409, 422})):  # fmt: skip
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + path, timeout=10)
        assert err.value.code in statuses, path


def test_panels_say_what_is_missing_before_the_first_run(tmp_path) -> None:
    # GIVEN a warehouse with the published datasets but no marts yet
    settings = load_settings(env={"CIVLAKE_HOME": str(tmp_path)})
    build_sample_warehouse(settings.warehouse, months=MONTHS)
    with serve_in_background(create_app(settings)) as base:
        # THEN the page loads and each panel answers empty, naming what is missing
        with urllib.request.urlopen(base + "dashboard", timeout=10) as resp:
            assert "广州市民政一屏统揽" in resp.read().decode()
        body = _get(f"{base}api/v1/dashboard/proactive")
        assert body["rows"] == [] and "mart_proactive_entitlement" in body["missing"]


# --- the page in headless Chromium ------------------------------------------------------


def _wait_ready(browser: Browser, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        states = browser.evaluate(
            "Object.fromEntries([...document.querySelectorAll('section[data-panel]')]"
            ".map(s => [s.dataset.panel, s.dataset.state || '']))"
        )
        if states and all(s in ("ready", "error") for s in states.values()):
            return states
        if time.monotonic() > deadline:
            raise AssertionError(f"panels not drawn within {timeout:.0f}s: {states}")
        time.sleep(0.1)


# Per panel: its ECharts option has series with data, and its canvas has drawn pixels
# (more than one colour among a sample of them).
PANEL_CHECK = """
[...document.querySelectorAll('section[data-panel]')].map(s => {
  const el = s.querySelector('.chart');
  const chart = echarts.getInstanceByDom(el);
  const option = chart ? chart.getOption() : null;
  const canvas = el.querySelector('canvas');
  let colours = 0;
  if (canvas) {
    const ctx = canvas.getContext('2d');
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    const seen = new Set();
    for (let i = 0; i < data.length; i += 4 * 97) seen.add(data.slice(i, i + 4).join(','));
    colours = seen.size;
  }
  const points = option ? option.series.reduce(
    (n, x) => n + x.data.filter(v => v !== null && v !== undefined).length, 0) : 0;
  return {panel: s.dataset.panel, state: s.dataset.state, series: option ? option.series.length : 0,
          points: points, colours: colours, note: s.querySelector('[data-note]').textContent};
})
"""


def _check_page(browser: Browser, base: str, shot: str | None) -> list[dict]:
    states = _wait_ready(browser)
    assert set(states.values()) == {"ready"}, states
    panels = browser.evaluate(PANEL_CHECK)
    assert {p["panel"] for p in panels} == set(PANELS)
    for p in panels:
        assert p["series"] >= 1 and p["points"] >= 1, p
        assert p["colours"] >= 3, p
    if shot:  # (a full-page capture resizes the viewport: clicks after it would miss)
        browser.screenshot(ARTIFACTS / shot)
    errors = [e for e in browser.events("Runtime.consoleAPICalled") if e.get("type") == "error"]
    errors += browser.events("Runtime.exceptionThrown")
    errors += [e for e in browser.events("Log.entryAdded") if e["entry"]["level"] == "error"]
    assert not errors, errors
    host = urlparse(base).netloc
    requests = [e["request"]["url"] for e in browser.events("Network.requestWillBeSent")]
    assert requests, "the page made no request at all?"
    assert all(urlparse(u).netloc == host for u in requests), requests
    assert {"/static/echarts.min.js", "/static/dashboard.js"} <= {
        urlparse(u).path for u in requests
    }
    return panels


def test_dashboard_in_chromium(sample_site, browser: Browser) -> None:
    _, base = sample_site
    browser.record("Network", "Log")
    # GIVEN the bureau head opens the city view
    browser.goto(base + "dashboard")
    assert browser.evaluate("document.title") == "广州市民政一屏统揽"
    _check_page(browser, base, None)

    # WHEN they click the tallest district bar of the findings panel
    bar = browser.evaluate(
        "(() => { const el = document.querySelector('#chart-findings');"
        " const chart = echarts.getInstanceByDom(el); const option = chart.getOption();"
        " const values = option.series[0].data; let i = 0;"
        " values.forEach((v, j) => { if ((v || 0) > (values[i] || 0)) i = j; });"
        " const box = chart.getModel().getSeriesByIndex(0).getData().getItemLayout(i);"
        " el.scrollIntoView(); const at = el.getBoundingClientRect();"
        " return {name: option.xAxis[0].data[i], x: at.left + box.x + box.width / 2,"
        "         y: at.top + box.y + box.height / 2}; })()"
    )
    code = browser.evaluate(
        "[...document.querySelectorAll('#district option')]"
        f".find(o => o.textContent === {json.dumps(bar['name'])}).value"
    )
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
        browser.call(
            "Input.dispatchMouseEvent",
            {"type": kind, "x": bar["x"], "y": bar["y"], "button": "left", "clickCount": 1},
            session=browser._session,
        )
    # THEN every panel redraws as that district's monthly trend
    deadline = time.monotonic() + 10
    while browser.evaluate("document.getElementById('district').value") != code:
        assert time.monotonic() < deadline, f"clicking {bar['name']} did not drill down"
        time.sleep(0.1)
    assert browser.url.endswith(f"?district={code}")
    panels = _check_page(browser, base, "dashboard_district.png")
    assert all(bar["name"] in p["note"] for p in panels if p["panel"] != "governance")

    # AND the select goes back to the whole city
    browser.evaluate("(() => { const s = document.getElementById('district'); s.value = '';"
                     " s.dispatchEvent(new Event('change')); })()")  # fmt: skip
    _check_page(browser, base, "dashboard_city.png")
