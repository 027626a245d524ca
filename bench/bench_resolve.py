"""Benchmark person resolution: civlake's resolver against a Splink baseline, on silver
made by civlake's own stages from a generated city.

    .venv/bin/python bench/bench_resolve.py --persons 100000 --months 1

Data: `civlake generate` (with its corrupted IDs, namesakes and repairable dirt), then
ingest and clean through `civlake.pipeline`, so silver (and each reference's
`id_status`) is the real thing. Truth: the generator's `records.parquet` names the person
of every (feed, delivery, file, row, role), the keys silver keeps as lineage.

Contenders, each in its own spawned process (peak RSS is its own), on the same
references (`civlake.resolve.references.read_references`):

* ``civlake``: ``resolve_persons`` as the pipeline runs it; its xref is the answer.
* ``splink_library``: one Splink dedupe with Splink's library comparisons on at least the
  fields civlake uses: DamerauLevenshteinAtThresholds(id_number, [1, 2]),
  JaroWinklerAtThresholds(name), DateOfBirthComparison(birth_date), ExactMatch on sex,
  division, phone and stable key; blocking on ID, name, birth date and stable key;
  lambda from exact-ID pairs, u by random sampling, EM on two blocks, clusters at 0.95.

Scores are pairwise (two references are a pair when they share a cluster): precision,
recall and F1 over all references, and over pairs touching a reference whose ID is
`invalid` in silver (and, for reference, `missing`). Prints seconds, references/s, peak
MiB, the scores and the ratios; the report lines are also written to
docs/bench-output/bench_resolve-<persons>.txt (Splink's own log goes to stdout only).

Last run (2 shared cores, load ~7; 10,000 persons, 1 month, 11,518 references, 15 with an
invalid ID; the resolver mid-rewrite, working tree of 2026-12-05): civlake 43.2 s,
435 MiB, P/R/F1 1.0/1.0/1.0 overall and 1.0/1.0/1.0 on invalid-ID pairs; Splink library
63.5 s, 357 MiB, F1 0.9966 overall (P 0.9948, R 0.9983), invalid-ID P 1.0 R 0.818 F1 0.90.
Setup (generate 3 s, ingest 14 s, clean 152 s) put 100,000 persons past 10 minutes here.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

KEYS = ["feed_id", "_delivery_id", "_source_file", "_source_row", "role"]
OUT_DIR = Path(__file__).resolve().parents[1] / "docs" / "bench-output"
SECRET = {"CIVLAKE_PERSON_KEY_SECRET": "bench"}
# What each contender reads of a reference (civlake: resolve/references.REF_COLUMNS that
# identify a person; name_norm and name_pinyin are derived from name).
FIELDS = {
    "civlake": ["id_number", "id_status", "name", "name_norm", "name_pinyin", "birth_date",
                "sex", "division", "phone", "stable_key"],
    "splink_library": ["id_number", "name", "birth_date", "sex", "division", "phone",
                       "stable_key"],
}  # fmt: skip


def _peak_mib() -> float:
    """This process's own peak RSS. Not ru_maxrss: Linux carries it over fork and exec, so
    a spawned child would report the parent's peak (the city build) as its own floor."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_civlake(home: str, queue) -> None:
    import pyarrow.parquet as pq

    from civlake import lake
    from civlake.resolve import resolve_persons
    from civlake.settings import load_settings

    os.environ.update(SECRET)
    settings = load_settings(env={"CIVLAKE_HOME": home, **SECRET})
    started = time.perf_counter()
    stats = resolve_persons(settings, now=datetime.now(UTC))
    seconds = time.perf_counter() - started
    xref = lake.read_arrow(lake.table_path(settings.lake, "core", "person_source_xref"))
    out = Path(home) / "xref_civlake.parquet"
    pq.write_table(xref.select([*KEYS, "person_key"]), out)
    queue.put({"seconds": seconds, "peak_mib": _peak_mib(), "references": stats["references"],
               "xref": str(out)})  # fmt: skip


def run_splink_library(home: str, queue) -> None:
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from civlake.resolve.references import read_references
    from civlake.settings import load_settings

    settings = load_settings(env={"CIVLAKE_HOME": home})
    started = time.perf_counter()
    refs = read_references(settings.lake)

    def text(col: str) -> pd.Series:
        return refs[col].astype("string").where(refs[col].notna())

    df = pd.DataFrame({
        "unique_id": range(len(refs)),
        # silver's normalised ID (invalid ones as normalised); null when missing
        "id_number": text("id_number").where(refs["id_status"] != "missing"),
        "name": text("name"),  # silver's name: no script folding or pinyin of its own
        "birth_date": text("birth_date"),
        "sex": text("sex"),
        "division": text("division"),
        "phone": text("phone"),
        "stable_key": text("stable_key"),
    })  # fmt: skip
    spec = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.DamerauLevenshteinAtThresholds("id_number", [1, 2]),
            cl.JaroWinklerAtThresholds("name"),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.ExactMatch("sex"),
            cl.ExactMatch("division"),
            cl.ExactMatch("phone"),
            cl.ExactMatch("stable_key"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("id_number"), block_on("name"), block_on("birth_date"),
            block_on("stable_key"),
        ],
    )  # fmt: skip
    linker = Linker(DuckDBAPI().register(df), spec)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("id_number")], recall=0.9
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    for rule in (block_on("birth_date"), block_on("name")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    pairs = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pairs, 0.95)
    cl_df = clusters.as_pandas_dataframe()[["unique_id", "cluster_id"]]
    seconds = time.perf_counter() - started
    xref = refs.assign(unique_id=range(len(refs))).merge(cl_df, on="unique_id", how="left")
    xref["person_key"] = xref["cluster_id"].astype(str)
    out = Path(home) / "xref_splink.parquet"
    xref[[*KEYS, "person_key"]].to_parquet(out)
    queue.put({"seconds": seconds, "peak_mib": _peak_mib(), "references": len(refs),
               "xref": str(out)})  # fmt: skip


def _guarded(target, home: str, queue) -> None:
    try:
        target(home, queue)
    except Exception:  # the resolver is being rewritten: report, do not hang the parent
        queue.put({"error": traceback.format_exc(limit=6)})


def _in_child(target, home: str) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_guarded, args=(target, home, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def build_silver(home: Path, persons: int, months: int, seed: int, dirt: float, say) -> Path:
    """Generate a city into home/landing, ingest and clean it; returns the truth folder."""
    from civlake import pipeline
    from civlake.contracts import load_contracts
    from civlake.generate import generate
    from civlake.settings import load_settings

    settings = load_settings(env={"CIVLAKE_HOME": str(home)})
    now = datetime.now(UTC)
    started = time.perf_counter()
    summary = generate(settings.landing, persons=persons, months=months, seed=seed, dirt_rate=dirt)
    say(f"generate: {time.perf_counter() - started:.1f} s, {summary['rows']:,} rows")
    feeds = ["divisions", "hukou_population"]
    feeds += [f for f in sorted(load_contracts()) if f not in feeds]
    started = time.perf_counter()
    for feed in feeds:
        pipeline.ingest(settings, feed, now=now)
    say(f"ingest: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    silver = sum(pipeline.clean(settings, feed, now=now)["rows_silver"] for feed in feeds)
    say(f"clean: {time.perf_counter() - started:.1f} s, {silver:,} silver rows")
    return Path(summary["truth"])


def _pairs(sizes) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def _counts(df, by: list[str]) -> dict[str, int]:
    """Pairs within groups of `by`: all, and those touching each subset flag."""
    g = df.groupby(by, dropna=False)
    size = g.size()
    out = {"all": _pairs(size)}
    for flag in ("invalid", "missing"):
        out[flag] = out["all"] - _pairs(size - g[flag].sum())
    return out


def score(xref_path: str, refs, truth) -> dict:
    """Pairwise precision / recall / F1 of one contender's clusters against the truth."""
    import pandas as pd

    pred = pd.read_parquet(xref_path)
    pred["_source_row"] = pred["_source_row"].astype("int64")
    joined = refs.merge(truth, on=KEYS, how="inner").merge(pred, on=KEYS, how="left")
    # a reference a contender left without a cluster is a cluster of its own
    lone = joined["person_key"].isna() | (joined["person_key"] == "nan")
    joined.loc[lone, "person_key"] = "lone:" + joined.index[lone].astype(str)
    tp = _counts(joined, ["person_key", "person_uid"])
    predicted = _counts(joined, ["person_key"])
    true = _counts(joined, ["person_uid"])
    out = {"references_scored": len(joined)}
    for subset in ("all", "invalid", "missing"):
        p = tp[subset] / predicted[subset] if predicted[subset] else 1.0
        r = tp[subset] / true[subset] if true[subset] else 1.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        out[subset] = {"precision": round(p, 5), "recall": round(r, 5), "f1": round(f1, 5),
                       "pairs_true": true[subset], "pairs_predicted": predicted[subset],
                       "pairs_right": tp[subset]}  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dirt-rate", type=float, default=0.03,
                        help="generator dirt rate (its default; IDs corrupt at a quarter of it)")  # fmt: skip
    parser.add_argument("--output", type=Path, default=None,
                        help="raw output file (default docs/bench-output/bench_resolve-<persons>.txt)")  # fmt: skip
    args = parser.parse_args()
    buffer = io.StringIO()

    def say(line: str) -> None:
        print(line, flush=True)
        buffer.write(line + "\n")

    import pyarrow.parquet as pq

    from civlake.resolve.references import read_references
    from civlake.settings import load_settings

    say(f"bench_resolve {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} persons={args.persons} "
        f"months={args.months} seed={args.seed} dirt_rate={args.dirt_rate} cpus={os.cpu_count()} "
        f"load={os.getloadavg()[0]:.1f} python={sys.version.split()[0]}")  # fmt: skip
    home = Path(tempfile.mkdtemp(prefix="bench_resolve_"))
    truth_dir = build_silver(home, args.persons, args.months, args.seed, args.dirt_rate, say)
    refs = read_references(load_settings(env={"CIVLAKE_HOME": str(home)}).lake)
    statuses = refs["id_status"].value_counts().to_dict()
    say(f"references: {len(refs):,} by id_status {json.dumps(statuses)}")
    refs = refs[KEYS].assign(
        invalid=(refs["id_status"] == "invalid").astype(int),
        missing=(refs["id_status"] == "missing").astype(int),
    )
    truth = pq.read_table(truth_dir / "records.parquet").to_pandas()
    lineage = {"delivery_id": "_delivery_id", "source_file": "_source_file",
               "source_row": "_source_row"}  # fmt: skip
    truth = truth[truth["person_uid"].notna()].rename(columns=lineage)[[*KEYS, "person_uid"]]
    truth["_source_row"] = truth["_source_row"].astype("int64")
    namesakes = pq.read_table(truth_dir / "namesakes.parquet").num_rows
    say(f"truth: {len(truth):,} person records, {truth['person_uid'].nunique():,} persons, "
        f"{namesakes} namesake pairs")  # fmt: skip
    report: dict = {}
    for name, target in (("civlake", run_civlake), ("splink_library", run_splink_library)):
        say(f"{name} sees: {', '.join(FIELDS[name])}")
        result = _in_child(target, str(home))
        if "error" in result:
            say(f"{name} FAILED:\n{result['error']}")
            continue
        scores = score(result.pop("xref"), refs, truth)
        report[name] = {**result, "refs_per_second": round(result["references"] / result["seconds"]),
                        **scores}  # fmt: skip
        r = report[name]
        say(
            f"{name}: {r['seconds']:.1f} s, {r['refs_per_second']:,} refs/s, peak {r['peak_mib']:,.0f} MiB"
        )
        for subset in ("all", "invalid", "missing"):
            s = r[subset]
            say(f"  {subset:<8} P {s['precision']:.4f}  R {s['recall']:.4f}  F1 {s['f1']:.4f}  "
                f"(pairs true {s['pairs_true']:,}, predicted {s['pairs_predicted']:,}, "
                f"right {s['pairs_right']:,})")  # fmt: skip
    if len(report) == 2:
        a, b = report["civlake"], report["splink_library"]
        say("ratios splink/civlake: "
            f"time {b['seconds'] / a['seconds']:.2f}, memory {b['peak_mib'] / a['peak_mib']:.2f}, "
            f"F1 {b['all']['f1'] / max(a['all']['f1'], 1e-9):.3f}, "
            f"F1 invalid-ID {b['invalid']['f1'] / max(a['invalid']['f1'], 1e-9):.3f}")  # fmt: skip
    say(json.dumps(report, indent=2, default=str))
    say(f"work dir: {home}")
    out = args.output or OUT_DIR / f"bench_resolve-{args.persons}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(buffer.getvalue(), encoding="utf-8")
    print(f"raw output written to {out}")


if __name__ == "__main__":
    main()
