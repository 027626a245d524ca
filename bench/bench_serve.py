"""``civlake serve`` under load: requests/s, p50/p99 latency and errors per route and
concurrency, then the audit log checked line for line.

    .venv/bin/python bench/bench_serve.py --seconds 15 --clients 1 16 64

Builds a small published city in a temporary CIVLAKE_HOME (``civlake generate`` +
``civlake run``; ``--city sample`` uses the tests' sample warehouse + publish instead,
seconds instead of minutes; ``--home DIR`` reuses one already built), grants one agency
a key with ``civlake agency create``, starts ``civlake serve`` on a free loopback port
with the rate limits raised through its configuration (the defaults answer a
16-connection run with 429s almost only, which measures the limiter, not the server),
and drives five routes with wrk (Debian's ``wrk``; ``apt-get install -y wrk``), one
route and one concurrency at a time, each for ``--seconds``:

* ``package_search``: ``GET /api/3/action/package_search?q=<keyword>&rows=10``
* ``package_show``: ``GET /api/3/action/package_show?id=<open dataset>``
* ``download``: ``GET /download/<open dataset>/v<N>/<dataset>.csv``
* ``changes``: ``GET /api/v1/datasets/<person-level dataset>/changes?since_version=0``
  with the granted key (a first, full pull)
* ``verify``: ``POST /api/v1/verify`` ``is_alive`` for a known person, granted key

wrk's Lua hooks count every request written and every status received, so errors are
split 4xx / 429 / 5xx, and the audit log, which must hold one line per request the
server received, is compared with the requests wrk wrote (run by run, and in total
with the bench's own probe requests). wrk stops with requests in flight: those are
written and audited but not answered within the run, so "answered" can be lower than
"written" by at most the number of connections.

The server and the load generator share the machine's cores; the bench prints how much
CPU each used. Prints, never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests.support
from _common import tree_rss_mib

CLI = [sys.executable, "-m", "civlake.cli"]
KEY_RE = re.compile(r"clk_[0-9a-f]{12}_[A-Za-z0-9_\-]{43}")
# High enough that no bucket empties during a run: 64 clients at a few thousand
# requests/s for 20 s is well under a million tokens.
RAISED_RATE_PER_MINUTE = 60_000_000
RAISED_BURST = 1_000_000

# wrk script: one request (method, path, headers, body filled in per scenario); counts
# requests written and statuses received per thread, gathered in done() as one JSON line.
WRK_LUA = r"""
local method, path, body = %(method)s, %(path)s, %(body)s
local headers = %(headers)s
local req
sent = 0
statuses = {}
local threads = {}

function setup(thread) table.insert(threads, thread) end
function init(args) req = wrk.format(method, path, headers, body) end
function request() sent = sent + 1; return req end
function response(status, hdrs, b) statuses[status] = (statuses[status] or 0) + 1 end

function done(summary, latency, requests)
  local total_sent, by_status = 0, {}
  for _, t in ipairs(threads) do
    total_sent = total_sent + t:get("sent")
    for k, v in pairs(t:get("statuses")) do by_status[k] = (by_status[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(by_status) do table.insert(parts, string.format('"%%d": %%d', k, v)) end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"sent": %%d, "answered": %%d, "duration_us": %%d, "bytes": %%d, ' ..
    '"p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "max_us": %%d, "mean_us": %%.1f, ' ..
    '"connect": %%d, "read": %%d, "write": %%d, "timeout": %%d, "statuses": {%%s}}\n',
    total_sent, summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, e.connect, e.read, e.write, e.timeout, table.concat(parts, ", ")))
end
"""


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str
    headers: dict[str, str]
    body: str | None = None


def _lua_str(text: str | None) -> str:
    if text is None:
        return "nil"
    return "[==[" + text + "]==]"


def _cores_busy() -> tuple[float, float]:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [float(v) for v in fields]
    idle = values[3] + values[4]
    return sum(values), idle


def _proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(cmd: list[str], env: dict, what: str) -> str:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    print(f"  {what}: exit {proc.returncode} in {time.perf_counter() - started:.1f} s")
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
        raise SystemExit(f"{what} failed")
    return proc.stdout


def _provenance() -> str:
    """The commit measured, and any uncommitted change to the package that ran with it."""
    repo = Path(__file__).resolve().parents[1]
    git = ["git", "-C", str(repo)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--short", "--", "jobs"], capture_output=True,
                           text=True).stdout.split()[1::2]  # fmt: skip
    return f"code: commit {head.stdout.strip() or '?'}" + (
        f", with uncommitted changes to {', '.join(dirty)}" if dirty else ", clean jobs/"
    )


# --- the city --------------------------------------------------------------------------
def build_city(home: Path, args, env: dict) -> None:
    if args.city == "sample":
        from civlake.publish import publish_all
        from civlake.settings import load_settings
        from tests.support.sample_warehouse import build_sample_warehouse

        started = time.perf_counter()
        settings = load_settings(env={"CIVLAKE_HOME": str(home)})
        build_sample_warehouse(settings.warehouse)
        publish_all(settings, now=datetime.now(UTC))
        print(f"  sample warehouse + publish_all: {time.perf_counter() - started:.1f} s")
        return
    _run([*CLI, "generate", "--out", str(home / "landing"), "--persons", str(args.persons),
                "--months", str(args.months), "--seed", "42"], env, "civlake generate")  # fmt: skip
    _run([*CLI, "run"], env, "civlake run")


def targets(home: Path) -> dict:
    """Real targets from the published city: datasets, a file, a person to verify."""
    import duckdb

    from civlake.publish.versions import latest_version, version_dir
    from civlake.serve.directory import Directory
    from civlake.settings import load_settings

    settings = load_settings(env={"CIVLAKE_HOME": str(home)})
    directory = Directory.load(settings.publish)
    published = {
        name: (ds, n)
        for name, ds in directory.catalog.items()
        if (n := latest_version(settings.publish, name)) is not None
    }

    def rows(name: str) -> int:
        _ds, n = published[name]
        manifest = version_dir(settings.publish, name, n) / "version.json"
        return int(json.loads(manifest.read_text("utf-8"))["rows"])

    open_names = [n for n, (ds, _) in published.items() if ds.is_open]
    person = [n for n, (ds, _) in published.items() if ds.is_person_level]
    if not open_names or not person:
        raise SystemExit(f"published city lacks an open or a person-level dataset: {published}")
    show = "assistance_statistics" if "assistance_statistics" in open_names else open_names[0]
    download = max(open_names, key=rows)
    changes = max(person, key=rows)
    ds, version = published[download]
    filename = f"{download}.csv"
    if filename not in directory.download_names(ds, version):
        filename = sorted(directory.download_names(ds, version))[0]
    keyword = directory.catalog[show].keywords[0]
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        row = con.execute(
            "select id_number from core.dim_person where is_alive and id_number is not null "
            "order by id_number limit 1"
        ).fetchone()
    finally:
        con.close()
    if row is None:
        raise SystemExit("no living person with an ID in core.dim_person to verify")
    size = (version_dir(settings.publish, download, version) / filename).stat().st_size
    notes = [
        f"package_search q={keyword!r}; package_show id={show}",
        f"download {download} v{version} {filename}: {size:,} bytes, {rows(download):,} rows",
        f"changes {changes} since_version=0: {rows(changes):,} rows per answer",
        "verify is_alive for one living person (one read-only DuckDB connection per question)",
    ]
    return {
        "keyword": keyword,
        "show": show,
        "download": download,
        "version": version,
        "filename": filename,
        "changes": changes,
        "id_number": row[0],
        "notes": notes,
    }


def scenarios(t: dict, key: str) -> list[Scenario]:
    auth = {"Authorization": f"Bearer {key}"}
    keyword, show, download, changes = t["keyword"], t["show"], t["download"], t["changes"]
    version, filename = t["version"], t["filename"]
    verify_body = json.dumps(
        {"question": "is_alive", "id_number": t["id_number"], "purpose": "load benchmark 压测"},
        ensure_ascii=False,
    )
    return [        Scenario("package_search", "GET",
                 "/api/3/action/package_search?" + urlencode({"q": keyword, "rows": 10}), {}),
        Scenario("package_show", "GET", "/api/3/action/package_show?" + urlencode({"id": show}), {}),
        Scenario("download", "GET", f"/download/{download}/v{version}/{filename}", {}),
        Scenario("changes", "GET", f"/api/v1/datasets/{changes}/changes?"
                 + urlencode({"since_version": 0, "purpose": "load benchmark"}), auth),
        Scenario("verify", "POST", "/api/v1/verify",
                 auth | {"Content-Type": "application/json; charset=utf-8"}, verify_body),
    ]  # fmt: skip


def create_key(home: Path, changes_dataset: str, env: dict) -> str:
    expires = (date.today() + timedelta(days=30)).isoformat()
    name = f"压测部门-{datetime.now(UTC):%H%M%S}"
    stdout = _run([*CLI, "agency", "create", name, "--grant", changes_dataset,
                         "--grant", "verify:is_alive", "--expires", expires],
                  env, f"civlake agency create {name}")  # fmt: skip
    found = KEY_RE.findall(stdout)
    if not found:
        raise SystemExit(f"no API key in `civlake agency create` output:\n{stdout}")
    return found[-1]


# --- the server ------------------------------------------------------------------------
def limit_env() -> dict[str, str]:
    """Environment raising every rate limit of ``civlake serve`` for the run: each
    ``settings.Limits`` rate and burst as ``CIVLAKE_RATE_<NAME>`` (its memory bounds
    stay as they are). Empty when this tree has no such settings."""
    try:
        from civlake.settings import Limits
    except ImportError:
        return {}
    raised = {"per_minute": RAISED_RATE_PER_MINUTE, "burst": RAISED_BURST}
    return {
        f"CIVLAKE_RATE_{name.upper()}": str(value)
        for name in Limits.__dataclass_fields__
        for suffix, value in raised.items()
        if name.endswith(suffix)
    }


def start_server(home: Path, env: dict) -> tuple[subprocess.Popen, str, Path]:
    from civlake.osutil import free_port

    port = free_port()
    log = home / "serve.log"
    cmd = [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("ab") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)
    # Ready when the port accepts a connection: a TCP connect is not an HTTP request, so
    # it leaves no audit line.
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"civlake serve exited {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, f"http://127.0.0.1:{port}", log
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("civlake serve did not accept connections within 60 s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def audit_lines(path: Path) -> int:
    if not path.is_file():
        return 0
    with path.open("rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))


def settle(path: Path, *, at_least: int = 0, quiet: float = 1.0, limit: float = 120.0) -> int:
    """Audit line count once it has reached ``at_least`` (requests still in flight when
    wrk stopped are answered later: 64 verify requests take several seconds) and then
    stopped growing for ``quiet`` seconds; or whatever it is after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while audit_lines(path) < at_least and time.monotonic() < deadline:
        time.sleep(0.2)
    last, since = audit_lines(path), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = audit_lines(path)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return last


# --- load ------------------------------------------------------------------------------
def run_wrk(base: str, sc: Scenario, clients: int, seconds: int, work: Path, server_pid: int,
            audit: Path) -> dict:  # fmt: skip
    script = work / f"{sc.name}.lua"
    script.write_text(WRK_LUA % {
        "method": _lua_str(sc.method), "path": _lua_str(sc.path), "body": _lua_str(sc.body),
        "headers": "{" + ", ".join(f"[ {_lua_str(k)} ] = {_lua_str(v)}"
                                   for k, v in sc.headers.items()) + "}",
    })  # fmt: skip
    threads = 1 if clients < 16 else 2
    cmd = ["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{seconds}s", "--timeout", "30s",
           "--latency", "-s", str(script), base]  # fmt: skip
    before_lines = settle(audit, quiet=0.5)
    cpu_server = _proc_cpu_seconds(server_pid)
    total0, idle0 = _cores_busy()
    wrk_cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    rss_before = tree_rss_mib(server_pid)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    total1, idle1 = _cores_busy()
    wrk_cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_server = _proc_cpu_seconds(server_pid) - cpu_server
    match = re.search(r"^WRK_JSON (.*)$", proc.stdout, re.M)
    # wrk calls request() once on thread 1's script before the run to check the request
    # (script_verify_request); that one is never sent.
    sent = json.loads(match.group(1))["sent"] - 1 if match else 0
    after_lines = settle(audit, at_least=before_lines + sent)
    print(f"\n$ {' '.join(cmd)}   # {sc.method} {sc.path[:90]}")
    raw = proc.stdout.rstrip()
    print("\n".join("    " + line for line in raw.splitlines()))
    if proc.stderr.strip():
        print("    stderr: " + proc.stderr.strip()[-2000:])
    if proc.returncode != 0 or match is None:
        raise SystemExit(f"wrk failed (exit {proc.returncode})")
    r = json.loads(match.group(1)) | {"sent": sent}
    statuses = {int(k): v for k, v in r["statuses"].items()}
    wall = r["duration_us"] / 1e6
    ticks = total1 - total0
    r.update(
        scenario=sc.name, clients=clients, wall=wall,
        rps=r["answered"] / wall,
        ok=sum(v for k, v in statuses.items() if 200 <= k < 300),
        s429=statuses.get(429, 0),
        s4xx=sum(v for k, v in statuses.items() if 400 <= k < 500 and k != 429),
        s5xx=sum(v for k, v in statuses.items() if k >= 500),
        other=sum(v for k, v in statuses.items() if k < 200 or 300 <= k < 400),
        audit=after_lines - before_lines,
        server_cores=cpu_server / wall,
        wrk_cores=((wrk_cpu1.ru_utime + wrk_cpu1.ru_stime)
                   - (wrk_cpu0.ru_utime + wrk_cpu0.ru_stime)) / wall,
        machine_cores=(1 - (idle1 - idle0) / ticks if ticks else 0.0) * (os.cpu_count() or 1),
        server_rss=max(rss_before, tree_rss_mib(server_pid)),
    )  # fmt: skip
    r["socket_errors"] = r["connect"] + r["read"] + r["write"] + r["timeout"]
    r["other_cores"] = max(0.0, r["machine_cores"] - r["server_cores"] - r["wrk_cores"])
    print(f"    -> {r['rps']:,.0f} req/s, p50 {r['p50_us'] / 1000:.1f} ms, p99 "
          f"{r['p99_us'] / 1000:.1f} ms, written {r['sent']:,}, answered {r['answered']:,}, "
          f"audit lines {r['audit']:,}, server CPU {r['server_cores']:.2f} cores, "
          f"wrk CPU {r['wrk_cores']:.2f} cores")  # fmt: skip
    return r


def probe(base: str, sc: Scenario) -> str:
    import httpx

    resp = httpx.request(sc.method, base + sc.path, headers=sc.headers,
                         content=sc.body.encode() if sc.body else None, timeout=60)  # fmt: skip
    return f"{sc.name}: {resp.status_code}, {len(resp.content):,} bytes"


def verify_audit(home: Path, path: Path, env: dict) -> list[str]:
    out = []
    help_proc = subprocess.run([*CLI, "audit", "verify", "--help"], env=env, capture_output=True,
                               text=True)  # fmt: skip
    if help_proc.returncode == 0:
        proc = subprocess.run([*CLI, "audit", "verify"], env=env, capture_output=True, text=True)
        text = (proc.stdout + proc.stderr).strip()
        out.append(f"`civlake audit verify`: exit {proc.returncode}: {text[-1500:]}")
    else:
        out.append("`civlake audit verify`: not available in this tree")
    try:
        from civlake.serve.audit import verify_chain

        bad = verify_chain(path)
        out.append(f"verify_chain(audit.jsonl): {'intact' if bad is None else bad}")
    except Exception as exc:  # the audit module is being changed: say what it raised
        out.append(f"verify_chain(audit.jsonl) raised {type(exc).__name__}: {exc}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=15, help="per route and concurrency")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 16, 64])
    ap.add_argument("--city", choices=("generated", "sample"), default="generated")
    ap.add_argument("--persons", type=int, default=2000)
    ap.add_argument("--months", type=int, default=1)
    ap.add_argument("--home", help="reuse a CIVLAKE_HOME with a published city")
    ap.add_argument("--only", nargs="+", help="run only these scenarios")
    ap.add_argument("--keep", action="store_true", help="keep the temporary home")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")

    home = Path(args.home or tempfile.mkdtemp(prefix="civlake-bench-serve-")).resolve()
    env = {**os.environ, "CIVLAKE_HOME": str(home)}
    load1 = os.getloadavg()[0]
    print(f"bench_serve {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores, "
          f"load average {load1:.2f} before the run. Server (one uvicorn process, as "
          "`civlake serve` starts it) and load generator (wrk) share these cores.")  # fmt: skip
    print(f"CIVLAKE_HOME {home}")
    print(_provenance())
    if not args.home:
        print(f"Building the city ({args.city}"
              + (f", {args.persons:,} persons, {args.months} month(s))" if args.city == "generated"
                 else ")"))  # fmt: skip
        build_city(home, args, env)
    from civlake.settings import load_settings

    settings = load_settings(env={"CIVLAKE_HOME": str(home)})
    audit = settings.state_dir / "audit.jsonl"
    found = targets(home)
    key = create_key(home, found["changes"], env)
    plan = [s for s in scenarios(found, key) if not args.only or s.name in args.only]
    print("Targets: " + "; ".join(found["notes"]))

    raised = limit_env()
    server_env = env | raised
    if raised:
        print("Rate limits raised for the run: " + ", ".join(f"{k}={v}" for k, v in raised.items()))
    else:
        print("NOTE: this tree has no rate-limit settings (civlake.settings.Limits); the server "
              "runs with its default limits, so 429s measure the limiter, not capacity")  # fmt: skip
    proc, base, log = start_server(home, server_env)
    start_lines = audit_lines(audit)
    results: list[dict] = []
    probes = 0
    try:
        print(f"civlake serve pid {proc.pid} on {base} (its uvicorn access log to {log}); "
              f"audit {audit} ({start_lines} lines before)")  # fmt: skip
        for sc in plan:
            print("  probe " + probe(base, sc))
            probes += 1
        for sc in plan:
            for clients in args.clients:
                results.append(run_wrk(base, sc, clients, args.seconds, home, proc.pid, audit))
                time.sleep(1)
    finally:
        stop_server(proc)
    end_lines = audit_lines(audit)

    print("\n## Figures (wrk, loopback; 4xx excludes 429; socket = connect/read/write/timeout)")
    print(f"{args.seconds} s per row. CPU in cores used during the row: the server process, wrk, "
          f"and every other process on the machine; all share {os.cpu_count()} cores.\n")  # fmt: skip
    print(
        "| route | clients | req/s | p50 ms | p99 ms | 2xx | 4xx | 429 | 5xx | socket |"
        " CPU server | CPU wrk | CPU others | written | audit lines |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['scenario']} | {r['clients']} | {r['rps']:,.0f} | {r['p50_us'] / 1000:.1f} | "
              f"{r['p99_us'] / 1000:.1f} | {r['ok']:,} | {r['s4xx']:,} | {r['s429']:,} | "
              f"{r['s5xx']:,} | {r['socket_errors']:,} | {r['server_cores']:.2f} | "
              f"{r['wrk_cores']:.2f} | {r['other_cores']:.2f} | {r['sent']:,} | "
              f"{r['audit']:,} |")  # fmt: skip
    errors = sum(r["s4xx"] + r["s429"] + r["s5xx"] + r["socket_errors"] + r["other"]
                 for r in results)  # fmt: skip
    sent = sum(r["sent"] for r in results)
    answered = sum(r["answered"] for r in results)
    print(f"\nErrors (non-2xx answers and socket errors), all runs: {errors:,}")
    print(f"Load average after the runs: {os.getloadavg()[0]:.2f}")
    print(f"Peak server RSS: {max(r['server_rss'] for r in results):,.0f} MiB")

    print("\n## Audit log")
    added = end_lines - start_lines
    expected = sent + probes
    print(f"lines added while serving: {added:,}; requests written: wrk {sent:,} + probes "
          f"{probes} = {expected:,} (answered within the runs: {answered:,}; "
          f"{sent - answered:,} were in flight when wrk stopped)")  # fmt: skip
    mismatched = [r for r in results if r["audit"] != r["sent"]]
    for r in mismatched:
        print(
            f"  {r['scenario']} x{r['clients']}: written {r['sent']:,}, audit lines {r['audit']:,}"
        )
    verdict = "exactly one line per request" if added == expected and not mismatched else (
        f"DIFFERENCE of {added - expected:+,} lines")  # fmt: skip
    print(f"one line per request: {verdict}")
    for line in verify_audit(home, audit, env):
        print(line)
    server_log = log.read_text(errors="replace").splitlines()
    noisy = [ln for ln in server_log if "Traceback" in ln or "ERROR" in ln]
    print(f"server log {log}: {len(server_log):,} lines, {len(noisy)} with ERROR/Traceback")
    for ln in noisy[:5]:
        print("  " + ln[:300])
    if not args.keep and not args.home:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
