"""Offline Data Docs: a self-contained static HTML report per gate run.

GX's own Data Docs pull Bootstrap, jQuery and fonts from CDNs, which the city's
intranet cannot reach; this report has inline CSS, no scripts and no external URL, so
it opens from a file share. Layout: ``<home>/data_docs/index.html`` (all runs, newest
first) and ``<home>/data_docs/runs/<run_id>/index.html``, built from one JSON file per
feed gated under that run id (``<feed_id>.json``, the machine-readable outcomes).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
from pathlib import Path

from civlake.expectations.outcome import GateResult, Outcome

_CSS = """
body{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top;font-size:.9em}
th{background:#f3f3f3}.ok{color:#176f2c}.fail{color:#b00020;font-weight:bold}
.warn{color:#a15c00;font-weight:bold}code{font-size:.85em}
"""


def _status(o: Outcome) -> str:
    if o.success:
        return '<span class="ok">pass</span>'
    cls = "fail" if o.severity == "critical" else "warn"
    return f'<span class="{cls}">{"FAIL" if cls == "fail" else "warn"}</span>'


def _row(o: Outcome) -> str:
    e = html.escape
    examples = "<br>".join(
        e(", ".join(f"{k}={v}" for k, v in row.items())) for row in o.examples[:5]
    )
    counts = "" if o.unexpected_count is None else f"{o.unexpected_count} / {o.element_count}"
    if o.error:
        counts = e(o.error)
    elif o.observed is not None and not counts:
        counts = f"observed {e(str(o.observed))}"
    return (
        f"<tr><td>{_status(o)}</td><td>{e(o.severity)}</td><td><code>{e(o.expectation)}</code>"
        f"</td><td>{e(o.description)}</td><td>{counts}</td><td>{examples}</td></tr>"
    )


def render_run(result: GateResult, *, at: dt.datetime) -> str:
    e = html.escape
    parts = [
        f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        f"<title>silver gate {e(result.run_id)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Silver quality gate — {e(result.run_id)}</h1>",
        f"<p>{e(result.summary())}. Generated {e(at.isoformat())}.</p>",
    ]
    if result.feeds_skipped:
        items = "".join(f"<li>{e(f)}: {e(w)}</li>" for f, w in result.feeds_skipped.items())
        parts.append(f"<h2>Skipped</h2><ul>{items}</ul>")
    suites: dict[str, list[Outcome]] = {}
    for o in result.outcomes:
        suites.setdefault(o.suite, []).append(o)
    for name, outcomes in suites.items():
        failed = sum(not o.success for o in outcomes)
        parts.append(
            f"<h2 id='{e(name)}'>{e(name)} — {len(outcomes) - failed} passed, {failed} failed</h2>"
        )
        parts.append(
            "<table><tr><th>result</th><th>severity</th><th>expectation</th><th>meaning</th>"
            "<th>unexpected / rows</th><th>example rows</th></tr>"
        )
        # Failures first: the reader came here because something failed.
        parts += [_row(o) for o in sorted(outcomes, key=lambda o: o.success)]
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _index(runs_dir: Path) -> str:
    links = []
    runs = [d for d in runs_dir.iterdir() if (d / "index.html").exists()]
    for run in sorted(runs, key=lambda d: d.stat().st_mtime, reverse=True):
        name = html.escape(run.name)
        summary = html.escape((run / "summary.txt").read_text("utf-8"))
        links.append(
            f"<tr><td><a href='runs/{name}/index.html'>{name}</a></td><td>{summary}</td></tr>"
        )
    return (
        f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>civlake data docs"
        f"</title><style>{_CSS}</style></head><body><h1>Silver quality gate runs</h1><table>"
        f"<tr><th>run</th><th>summary</th></tr>{''.join(links)}</table></body></html>"
    )


def _run_so_far(run_dir: Path, run_id: str) -> GateResult:
    """All feeds gated under this run id so far (each ingest DAG gates one feed)."""
    merged = GateResult(run_id=run_id)
    for path in sorted(run_dir.glob("*.json")):
        doc = json.loads(path.read_text("utf-8"))
        if doc.get("skipped"):
            merged.feeds_skipped[path.stem] = doc["skipped"]
        else:
            merged.feeds_checked.append(path.stem)
            merged.outcomes += [Outcome.from_dict(o) for o in doc["outcomes"]]
    return merged


def write_data_docs(root: Path, result: GateResult, *, at: dt.datetime) -> Path:
    """Write this call's feeds into ``runs/<run_id>/`` and re-render the run and index."""
    run_dir = root / "runs" / result.run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    for feed in result.feeds_checked:
        outcomes = [dataclasses.asdict(o) for o in result.outcomes if o.feed_id == feed]
        doc = {"feed_id": feed, "at": at.isoformat(), "outcomes": outcomes}
        (run_dir / f"{feed}.json").write_text(
            json.dumps(doc, ensure_ascii=False, indent=1, default=str), "utf-8"
        )
    for feed, why in result.feeds_skipped.items():
        doc = {"feed_id": feed, "at": at.isoformat(), "skipped": why}
        (run_dir / f"{feed}.json").write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    merged = _run_so_far(run_dir, result.run_id)
    page = run_dir / "index.html"
    page.write_text(render_run(merged, at=at), "utf-8")
    (run_dir / "summary.txt").write_text(merged.summary(), "utf-8")
    (root / "index.html").write_text(_index(root / "runs"), "utf-8")
    return page
