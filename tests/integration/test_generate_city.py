"""A small generated city on disk: delivery protocol, contract headers, determinism, faults,
and ground truth that agrees with what the files say."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from python_calamine import CalamineWorkbook

from civlake import tables
from civlake.contracts import get_contract, load_contracts
from civlake.generate import generate
from civlake.identifiers import is_valid_id, upgrade_15
from civlake.transform.rules import rule_codes

pytestmark = pytest.mark.integration
CODECS = {"UTF-8": "utf-8", "UTF-8-SIG": "utf-8-sig", "GB18030": "gb18030"}
BREAKING = {"id_typo", "id_bad_birthdate", "id_blank", "id_sci"}
# civlake.generate.corrupt's kinds: invalid, one edit from the person's ID (checked below).
CORRUPTED = {"id_date_impossible", "id_date_wrong", "id_digit_typo", "id_check_wrong",
             "id_transposed", "id_15_date"}  # fmt: skip


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> tuple[Path, Path, dict]:
    out = tmp_path_factory.mktemp("gen") / "landing"
    summary = generate(out, persons=500, months=3, seed=11, dirt_rate=0.08)
    return out, Path(str(out) + "_truth"), summary


def _truth(city, name):
    return pq.read_table(city[1] / f"{name}.parquet").to_pylist()


def read_rows(path: Path, feed: str, encoding: str | None) -> tuple[list[str], list[list]]:
    """Header and data rows as a consumer must read them (title / total / blank rows skipped)."""
    headers = [c.header for c in get_contract(feed).columns]
    if path.suffix == ".xlsx":
        rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
        start = next(
            i for i, r in enumerate(rows) if [str(x) for x in r[: len(headers)]] == headers
        )
        data = []
        for r in rows[start + 1 :]:
            if str(r[0]) == "合计" or all(str(x) == "" for x in r):
                continue
            data.append(r)
        return [str(x) for x in rows[start]], data
    text = path.read_bytes().decode(CODECS[encoding or "UTF-8"])
    if path.suffix == ".jsonl":
        lines = [ln for ln in text.split("\n") if ln]
        return [], [json.loads(ln) for ln in lines]
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def _loaded(city):
    return [d for d in _truth(city, "deliveries") if d["expected_status"] == "loaded"]


def test_all_feeds_delivered_with_contract_headers(city):
    out = city[0]
    loaded = _loaded(city)
    # Every feed but the returned worklists (finding_reviews): those come from civlake's
    # own worklists, filled by caseworkers, not from the city's systems.
    feeds = set(load_contracts()) - {tables.REVIEWS_FEED}
    assert {d["feed_id"] for d in loaded} == feeds
    for feed in sorted(feeds):
        d = next(x for x in loaded if x["feed_id"] == feed)
        manifest = json.loads((out / feed / d["delivery_id"] / "manifest.json").read_text("utf-8"))
        f = manifest["files"][0]
        header, rows = read_rows(out / feed / d["delivery_id"] / f["name"], feed, f["encoding"])
        contract = get_contract(feed)
        if f["name"].endswith(".jsonl"):
            keys = {k for r in rows if isinstance(r, dict) for k in r}
            assert keys <= set(contract.names)
        else:
            assert header == [c.header for c in contract.columns]


def test_manifests_match_files_and_are_written_last(city):
    out = city[0]
    for d in _loaded(city):
        folder = out / d["feed_id"] / d["delivery_id"]
        manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
        assert manifest["delivery_id"] == d["delivery_id"] and manifest["feed"] == d["feed_id"]
        for key in ("source_unit", "source_unit_name", "period", "mode", "produced_at"):
            assert manifest[key]
        total = 0
        for f in manifest["files"]:
            path = folder / f["name"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == f["sha256"]
            assert path.stat().st_mtime_ns <= (folder / "manifest.json").stat().st_mtime_ns
            _, rows = read_rows(path, d["feed_id"], f["encoding"])
            assert len(rows) == f["rows"], (d["delivery_id"], f["name"])
            total += f["rows"]
        assert total == d["rows_declared"]


def test_every_delivery_has_its_own_folder(city):
    deliveries = _truth(city, "deliveries")
    keys = [(d["feed_id"], d["delivery_id"]) for d in deliveries]
    assert len(keys) == len(set(keys))
    folders = {(p.parent.name, p.name) for p in city[0].glob("*/*") if p.is_dir()}
    assert folders == set(keys)


PERIOD = {
    "yearly": r"\d{4}",
    "monthly": r"\d{4}-\d{2}",
    "weekly": r"\d{4}-W\d{2}",
    "daily": r"\d{4}-\d{2}-\d{2}",
}
DISTRICT_FEEDS = {"assistance_recipients", "child_welfare", "cremation_records"}


def test_periods_modes_and_source_units_follow_the_contracts(city):
    import re

    for d in _truth(city, "deliveries"):
        contract = get_contract(d["feed_id"])
        assert re.fullmatch(PERIOD[contract.cadence], d["period"]), d
        assert d["mode"] in contract.modes
        assert re.fullmatch(r"\d{8}-\d{6}-\d{3}", d["delivery_id"])
        if d["feed_id"] in DISTRICT_FEEDS:
            assert d["source_unit"] != "440100" and d["source_unit"].startswith("4401")
        else:
            assert d["source_unit"] == "440100"
    modes = {(d["feed_id"], d["mode"]) for d in _truth(city, "deliveries")}
    assert {("hukou_population", "full"), ("hukou_population", "incremental")} <= modes


def test_refuses_a_non_empty_landing_folder(tmp_path):
    (tmp_path / "old").mkdir()
    with pytest.raises(FileExistsError, match="not empty"):
        generate(tmp_path, persons=200, months=1)


def test_fault_deliveries_are_present(city):
    out = city[0]
    deliveries = _truth(city, "deliveries")
    reasons = {d["expected_reason"] for d in deliveries if d["expected_status"] == "rejected"}
    assert reasons == {
        "HASH_MISMATCH",
        "ROWCOUNT_MISMATCH",
        "SCHEMA_MISMATCH",
        "ENCODING_ERROR",
        "MANIFEST_INVALID",
    }
    pending = [d for d in deliveries if d["expected_status"] == "pending"]
    assert len(pending) == 1
    folder = out / pending[0]["feed_id"] / pending[0]["delivery_id"]
    assert folder.is_dir() and not (folder / "manifest.json").exists()
    broken = next(d for d in deliveries if d["expected_reason"] == "MANIFEST_INVALID")
    with pytest.raises(json.JSONDecodeError):
        json.loads(
            (out / broken["feed_id"] / broken["delivery_id"] / "manifest.json").read_text("utf-8")
        )
    enc = next(d for d in deliveries if d["expected_reason"] == "ENCODING_ERROR")
    data = next((out / enc["feed_id"] / enc["delivery_id"]).glob("*.csv")).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    # The duplicate carries the same files (names and bytes) as a loaded delivery of its feed.
    dup = next(d for d in deliveries if d["expected_status"] == "duplicate")
    dup_files = json.loads(
        (out / dup["feed_id"] / dup["delivery_id"] / "manifest.json").read_text("utf-8")
    )["files"]
    fingerprints = {
        json.dumps(
            json.loads(
                (out / d["feed_id"] / d["delivery_id"] / "manifest.json").read_text("utf-8")
            )["files"]
        )
        for d in _loaded(city)
        if d["feed_id"] == dup["feed_id"]
    }
    assert json.dumps(dup_files) in fingerprints
    # The superseded delivery has a loaded resubmission of the same feed, unit and period.
    old = next(d for d in deliveries if d["expected_status"] == "superseded")
    new = [d for d in _loaded(city) if (d["feed_id"], d["source_unit"], d["period"]) ==
           (old["feed_id"], old["source_unit"], old["period"])]  # fmt: skip
    assert len(new) == 1 and new[0]["produced_at"] > old["produced_at"]


def test_truth_persons_have_valid_consistent_ids(city):
    for p in _truth(city, "persons"):
        pid = p["id_number"]
        assert is_valid_id(pid), pid
        assert pid[6:14] == p["birth_date"].strftime("%Y%m%d")
        assert int(pid[16]) % 2 == (1 if p["sex"] == "1" else 0)


def _normalise_id(value) -> str:
    fw = str.maketrans("０１２３４５６７８９", "0123456789")
    text = str(value).translate(fw).replace(" ", "").replace("-", "").lstrip("'").upper()
    return upgrade_15(text) if len(text) == 15 else text


def _one_edit(a: str, b: str) -> bool:
    """One substitution or one swap of adjacent characters (a 15-digit upgrade recomputes
    the check character, so there only the 17-digit body is compared)."""
    diff = [i for i in range(min(len(a), len(b))) if a[i] != b[i]]
    if len(a) != len(b) or not diff:
        return False
    i, j = diff[0], diff[-1]
    return len(diff) == 1 or (len(diff) == 2 and j == i + 1 and (a[i], a[j]) == (b[j], b[i]))


def test_records_agree_with_the_files(city):
    """Every record's row, re-read from its file, names the truth's person (ID after
    normalisation), unless its dirt breaks the ID on purpose."""
    assert _check_records(city) > 1000


def test_chunked_hukou_files_keep_row_numbers(tmp_path, monkeypatch):
    """The monthly hukou file is written in chunks; row numbers run on across them."""
    from civlake.generate import render_registers

    real = render_registers._parts
    monkeypatch.setattr(render_registers, "_parts", lambda idxs, size=0: real(idxs, 97))
    out = tmp_path / "landing"
    generate(out, persons=300, months=1, seed=8)
    city = (out, Path(str(out) + "_truth"), {})
    assert _check_records(city) > 300
    hukou = [r for r in _truth(city, "records") if r["feed_id"] == "hukou_population"]
    assert any(r["source_row"] > 97 for r in hukou) and any(
        r["expected"] == "quarantine" for r in hukou
    )


def _check_records(city) -> int:
    out = city[0]
    persons = {p["person_uid"]: p["id_number"] for p in _truth(city, "persons")}
    records = _truth(city, "records")
    by_file: dict[tuple, list] = {}
    for r in records:
        by_file.setdefault((r["feed_id"], r["delivery_id"], r["source_file"]), []).append(r)
    checked = corrupted = 0
    for (feed, delivery, name), recs in sorted(by_file.items()):
        manifest = json.loads((out / feed / delivery / "manifest.json").read_text("utf-8"))
        encoding = next(f["encoding"] for f in manifest["files"] if f["name"] == name)
        header, rows = read_rows(out / feed / delivery / name, feed, encoding)
        contract = get_contract(feed)
        assert max(r["source_row"] for r in recs) == len(rows)
        for r in recs:
            if r["role"] is None or r["expected"] == "quarantine" or BREAKING & set(r["dirt"]):
                continue
            role = next(p for p in contract.persons if p.role == r["role"])
            row = rows[r["source_row"] - 1]
            if role.id == "id_number" and feed == "disability_certs":
                value = _normalise_id(_cell(row, header, contract, "cert_no"))[:18]
            else:
                value = _normalise_id(_cell(row, header, contract, role.id))
            true_id = persons[r["person_uid"]]
            if CORRUPTED & set(r["dirt"]) and value != true_id:  # (or another role's ID)
                assert not is_valid_id(value) or value[6:14] > "20261231", (feed, r["dirt"], value)
                legacy = "id_15_date" in r["dirt"]
                assert _one_edit(value[:17], true_id[:17]) if legacy else _one_edit(value, true_id)
                corrupted += 1
                continue
            assert value == true_id, (
                feed,
                delivery,
                r["source_row"],
                r["role"],
                r["dirt"],
            )
            checked += 1
    return checked + corrupted


def _cell(row, header, contract, column):
    if isinstance(row, dict):
        return row.get(column) or ""
    col = contract.column(column)
    return row[header.index(col.header)]


def test_corrupted_ids_land_on_the_roles_that_carry_little_else(city):
    records = _truth(city, "records")
    hit = {(r["feed_id"], r["role"]) for r in records if CORRUPTED & set(r["dirt"])}
    assert ("benefit_payments", "payee") in hit and len({feed for feed, _ in hit}) >= 3, hit
    assert hit <= {("benefit_payments", "payee"), ("volunteer_service", "volunteer"),
                   ("disability_certs", "person"), ("child_welfare", "guardian"),
                   ("child_welfare", "child"), ("elderly_allowance", "person")}  # fmt: skip
    # An invalid ID is kept (SOURCE_FEEDS.md section 2): those rows all reach silver.
    assert all(r["expected"] == "silver" for r in records if CORRUPTED & set(r["dirt"]))


def test_xlsx_error_cells_are_quarantined_amounts(city):
    """A `#DIV/0!`-style amount cell (t="e" in the sheet XML) is an AMOUNT_INVALID row."""
    import re
    import zipfile

    out = city[0]
    errors = [r for r in _truth(city, "records") if r["reasons"] == ["AMOUNT_INVALID"]
              and r["source_file"].endswith(".xlsx")]  # fmt: skip
    rows = {(r["feed_id"], r["delivery_id"], r["source_file"], r["source_row"]) for r in errors}
    found = {}
    for feed, delivery, name in {k[:3] for k in rows}:
        sheet = zipfile.ZipFile(out / feed / delivery / name).read("xl/worksheets/sheet1.xml")
        cells = re.findall(rb'<c r="[A-Z]+\d+" t="e"><f>[^<]+</f><v>(#[A-Z0-9/!]+[!A])</v>', sheet)
        # the other AMOUNT_INVALID rows are noise.py's text amounts ("壹仟元")
        assert len(cells) <= sum(1 for k in rows if k[:3] == (feed, delivery, name))
        assert set(cells) <= {b"#DIV/0!", b"#VALUE!", b"#N/A", b"#REF!"}
        found[feed] = found.get(feed, 0) + len(cells)
    assert found.get("assistance_recipients") and found.get("child_welfare"), found


def test_namesakes_are_distinct_persons_with_near_valid_ids(city):
    persons = {p["person_uid"]: p for p in _truth(city, "persons")}
    pairs = _truth(city, "namesakes")
    assert pairs
    for pair in pairs:
        a, b = persons[pair["person_uid"]], persons[pair["namesake_uid"]]
        assert a["person_uid"] != b["person_uid"] and a["id_number"] != b["id_number"]
        assert is_valid_id(a["id_number"]) and is_valid_id(b["id_number"])
        assert (a["name"], a["birth_date"]) == (b["name"], b["birth_date"])
        assert a["id_number"][:14] == b["id_number"][:14]
        assert sum(x != y for x, y in zip(a["id_number"], b["id_number"], strict=True)) == 2


def test_findings_do_not_depend_on_id_corruption(tmp_path, monkeypatch):
    """The oracle reads the truth persons: corrupted IDs and error cells change files and
    records, never the expected findings."""
    import civlake.generate as gen

    with_dirt = _findings(generate(tmp_path / "a" / "landing", persons=400, months=2, seed=9))
    monkeypatch.setattr(gen, "ID_CORRUPT_SHARE", 0.0)
    monkeypatch.setattr(gen, "ERROR_CELL_SHARE", 0.0)
    without = _findings(generate(tmp_path / "b" / "landing", persons=400, months=2, seed=9))
    assert with_dirt == without and with_dirt


def _findings(summary) -> list[dict]:
    return pq.read_table(Path(summary["truth"]) / "findings.parquet").to_pylist()


def test_quarantine_rows_and_dirt_are_recorded(city):
    records = _truth(city, "records")
    reasons = {x for r in records for x in r["reasons"]}
    assert {"REQUIRED_MISSING", "DATE_INVALID", "AMOUNT_INVALID", "ENUM_INVALID", "DIVISION_UNKNOWN",
            "USCC_INVALID", "ID_UNUSABLE", "ROW_MALFORMED"} <= reasons  # fmt: skip
    dirt = {x for r in records for x in r["dirt"]}
    # Which variants land on a 500-person city is chance; tests/unit/test_generate_dirt.py
    # covers every kind. Here: plenty of variety, and the serial-date districts' cells.
    assert len(dirt) >= 15 and "date_excel_serial" in dirt
    assert any(k.startswith("id_") for k in dirt) and any(k.startswith("name_") for k in dirt)
    assert all((r["expected"] == "quarantine") == bool(r["reasons"]) for r in records)


def test_findings_reference_known_persons(city):
    ids = {p["id_number"] for p in _truth(city, "persons")}
    findings = _truth(city, "findings")
    assert {f["rule_code"] for f in findings} == set(rule_codes())
    for f in findings:
        assert (
            (f["id_number"] in ids) if f["rule_code"] != "ORG_INACTIVE_DONATION" else f["org_uscc"]
        )


def test_generation_is_deterministic(tmp_path):
    def snapshot(root: Path) -> dict[str, bytes]:
        truth = Path(str(root) + "_truth")
        files = sorted(p for base in (root, truth) for p in base.rglob("*") if p.is_file())
        return {
            str(p.relative_to(p.parents[len(p.relative_to(root.parent).parts) - 2])): p.read_bytes()
            for p in files
        }

    a = snapshot(_gen(tmp_path / "a"))
    b = snapshot(_gen(tmp_path / "b"))
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []


def _gen(base: Path) -> Path:
    out = base / "landing"
    generate(out, persons=300, months=2, seed=5)
    return out


def test_district_files_vary_like_real_exports(city):
    """Assistance: half the districts XLSX, half GB18030 CSV; XLSX with merged titles,
    合计 rows and Excel serial dates in some districts."""
    out = city[0]
    titles = totals = serials = 0
    csv_gb = 0
    for manifest_path in sorted((out / "assistance_recipients").glob("*/manifest.json")):
        f = json.loads(manifest_path.read_text("utf-8"))["files"][0]
        path = manifest_path.parent / f["name"]
        if path.suffix == ".csv":
            assert f["encoding"] == "GB18030"
            path.read_bytes().decode("gb18030")
            csv_gb += 1
            continue
        rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
        titles += str(rows[0][0]).endswith("名册")
        totals += any(str(r[0]) == "合计" for r in rows)
        serials += any(isinstance(c, float) for r in rows[2:] for c in r[11:12])
    assert csv_gb and titles and totals and serials


def test_clean_city_without_faults(tmp_path):
    out = tmp_path / "landing"
    summary = generate(out, persons=250, months=1, seed=3, dirt_rate=0.0, faults=False)
    assert summary["deliveries_by_status"] == {"loaded": summary["deliveries"]}
    records = pq.read_table(Path(str(out) + "_truth") / "records.parquet").to_pylist()
    # Serial dates are some districts' export format, not dirt drawn at a rate.
    assert {k for r in records for k in r["dirt"]} <= {"date_excel_serial"}
    quarantined = {r["person_uid"] for r in records if r["expected"] == "quarantine"} - {None}
    noise = {
        p["person_uid"]
        for p in pq.read_table(Path(str(out) + "_truth") / "persons.parquet").to_pylist()
        if p["is_noise"]
    }
    assert quarantined <= noise  # only the noise carriers' rows are ever quarantined
