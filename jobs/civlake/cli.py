"""civlake command line (OUTPUTS.md section 6: stable, acceptance checks call it)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from civlake.pipeline import STAGES
from civlake.settings import ENGINES

console = Console(width=None if sys.stdout.isatty() else 160)


def _cmd_generate(args) -> int:
    from civlake.generate import generate

    out = Path(args.out).resolve()
    console.print(
        f"Generating a city of {args.persons:,} persons, {args.months} month(s), seed {args.seed} -> {out}"
    )

    def progress(stage: str, count: int) -> None:
        console.print(f"  {stage}: {count:,}")

    summary = generate(
        out, persons=args.persons, months=args.months, seed=args.seed,
        dirt_rate=args.dirt_rate, faults=not args.no_faults, progress=progress,
    )  # fmt: skip
    console.print(f"Done: {summary}")
    console.print(f"Ground truth: {out}_truth")
    return 0


def _cmd_run(args) -> int:
    from civlake.orchestrate import RunFailed, run_pipeline
    from civlake.report import print_summary
    from civlake.settings import load_settings

    settings = load_settings(
        landing=args.landing, lake=args.lake, warehouse=args.warehouse, publish=args.publish,
        engine=args.engine, spark_master=args.master,
    )  # fmt: skip
    if not settings.landing.is_dir():
        console.print(f"[red]Landing folder {settings.landing} does not exist.[/] Generate sample feeds "
                      "with `civlake generate --out DIR` or pass --landing DIR.")  # fmt: skip
        return 2
    engine = settings.engine if settings.engine != "spark" else f"spark ({settings.spark_master})"
    console.print(f"civlake run through {args.through} on {engine}: landing {settings.landing}")
    try:
        run_pipeline(
            settings, through=args.through, logical_date=datetime.now(UTC), progress=console.print
        )
    except RunFailed as exc:
        console.print(f"[red]Run stopped:[/] {exc}")
        return 1
    print_summary(settings, console, through=args.through)
    return 0


def _cmd_serve(args) -> int:
    import uvicorn

    from civlake.serve.app import create_app
    from civlake.settings import load_settings

    uvicorn.run(create_app(load_settings()), host=args.host, port=args.port)
    return 0


def _cmd_agency(args) -> int:
    from civlake.agency import create_agency
    from civlake.agency.grants import district_grants
    from civlake.publish.catalog import load_catalog
    from civlake.settings import load_settings

    grants = [*(args.grant or [])]
    if args.district:
        grants += district_grants(args.district, load_catalog())
    key = create_agency(load_settings(), args.name, grants, args.expires)
    if args.profile:
        from civlake.agency.commands import save_profile

        save_profile(args, load_settings(), key, console)
    console.print(f"Agency {args.name!r} created. Its API key (shown once, only a hash is stored):")
    print(key)
    return 0


def _cmd_agency_keys(args) -> int:
    from civlake.agency.commands import run

    return run(args, console)


def _cmd_exchange_sim(args) -> int:
    from civlake.exchange.simulator import serve
    from civlake.settings import load_settings

    serve(Path(args.data), host=args.host, port=args.port, settings=load_settings())
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="civlake", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write a deterministic sample city's deliveries")
    g.add_argument("--out", required=True, help="landing root to write deliveries into")
    g.add_argument("--persons", type=int, default=2000)
    g.add_argument("--months", type=int, default=3)
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--dirt-rate", type=float, default=0.03, help="share of values made dirty")
    g.add_argument("--no-faults", action="store_true", help="no faulty deliveries")
    g.set_defaults(func=_cmd_generate)

    r = sub.add_parser("run", help="run the pipeline through Airflow on the landing folder")
    r.add_argument("--landing")
    r.add_argument("--lake")
    r.add_argument("--warehouse")
    r.add_argument("--publish")
    r.add_argument("--through", choices=STAGES, default="publish")
    r.add_argument(
        "--engine", choices=ENGINES, default=None,
        help="duckdb (embedded, default) or spark; env CIVLAKE_ENGINE",
    )  # fmt: skip
    r.add_argument(
        "--master", default=None,
        help="Spark master URL for --engine spark (default local[*]); env CIVLAKE_SPARK_MASTER",
    )  # fmt: skip
    r.set_defaults(func=_cmd_run)

    s = sub.add_parser("serve", help="serve the open-data catalog, agency pulls and verification")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.set_defaults(func=_cmd_serve)

    a = sub.add_parser("agency", help="manage agencies")
    asub = a.add_subparsers(dest="agency_command", required=True)
    ac = asub.add_parser("create", help="register an agency and print its API key once")
    ac.add_argument("name")
    ac.add_argument(
        "--grant", action="append", metavar="GRANT",
        help="a dataset (all rows), DATASET@DIVISION (rows of a district 440106 or street "
        "440106001 only), verify:<question>, review:<district> or worklist:<district>",
    )  # fmt: skip
    ac.add_argument(
        "--district", metavar="CODE",
        help="a district office (数据属地回流): every person-level dataset scoped to CODE "
        "(440106), plus review:CODE and worklist:CODE",
    )  # fmt: skip
    ac.add_argument("--expires", help="YYYY-MM-DD (default: 365 days from today)")
    ac.set_defaults(func=_cmd_agency)
    al = asub.add_parser("list", help="agencies, key ids, grants, expiry, status (never a key)")
    al.add_argument("--json", action="store_true", help="print JSON, for scripts")
    ar = asub.add_parser("revoke", help="refuse an agency's keys (or one key id) from now on")
    ar.add_argument("target", metavar="NAME_OR_KEY_ID")
    ao = asub.add_parser("rotate", help="print a new key once; the old one stops working")
    ao.add_argument("name")
    ao.add_argument("--expires", help="YYYY-MM-DD (default: 365 days from today)")
    ao.add_argument("--grace-days", type=int, default=0, help="keep the old key N more days")
    for command in (ac, ao):
        command.add_argument(
            "--profile", metavar="FILE",
            help="also write the Delta Sharing profile (endpoint, the new key, its expiry) "
            "to FILE, mode 0600",
        )  # fmt: skip
        command.add_argument(
            "--endpoint", metavar="URL",
            help="the server's URL for the profile (default: CIVLAKE_PUBLIC_URL, else "
            "http://127.0.0.1:8000)",
        )  # fmt: skip
    for command in (al, ar, ao):
        command.set_defaults(func=_cmd_agency_keys)

    from civlake.serve import audit_cli  # light: its commands import the server lazily

    audit_cli.register(sub)  # civlake audit verify | checkpoint | show

    e = sub.add_parser(
        "exchange-sim", help="serve a generated city's API feeds like the exchange platform"
    )
    e.add_argument("--data", required=True)
    e.add_argument("--host", default="127.0.0.1")
    e.add_argument("--port", type=int, default=8765)
    e.set_defaults(func=_cmd_exchange_sim)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]")
        return 130
    except (FileExistsError, FileNotFoundError, ValueError) as exc:
        # A person's mistake (a folder, an option, a contract): say it, no traceback.
        # ContractError is a ValueError; bugs still raise with their traceback.
        console.print(f"[red]civlake {args.command}: {exc}[/]")
        return 2


if __name__ == "__main__":
    sys.exit(main())
