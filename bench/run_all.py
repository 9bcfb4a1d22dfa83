"""Every performance figure of the service beside its baseline, in one run.

    python bench/run_all.py --size small --prepare     # a few minutes: small data sets
    python bench/run_all.py --size full --prepare      # 1,000,000 records, 10,000 retail kits

Sections (`--only` picks some; each prints its figures as soon as it has them):

* `read`: `partInventories(first: 50)` filtered and sorted over HTTP on SQLite and PostgreSQL,
  Kitwright against raw SQL + JSON behind a minimal Starlette/uvicorn server with the same worker
  count (bench_read_path.py); aim: p50 at most 1.5x the raw p50.
* `kits`: on a PostgreSQL copy of the read data set (it writes): a `--lines`-line fulfil
  against the same choice and writes in raw SQL, and `issueItemToKit` with `--clients`
  keep-alive clients and `--workers` workers against the same transactions in raw SQL
  (bench_kits.py); aim: at least 35% of the raw rate.
* `write`: server CPU per request of `{ __typename }`, `createPartInventory`, `createPartKitItem`
  and `issueItemToKit` against the same transactions in raw SQL (bench_write_path.py, on fresh
  small databases). Skipped with a note when that module is not in the tree.
* `availability`: the availability feed against one hand-written aggregate, and one delta,
  on a retail data set (bench_availability.py, run as its own process; its output is shown
  as it prints it).

The load average is read before and after each figure and printed beside it: the machine may be
shared. `--json` writes every figure; `--markdown` prints the rows of bench/README.md's table.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from kitwright.store.db import normalise_url  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432"
SIZES: dict[str, dict[str, Any]] = {
    # records: inventory of the read data sets; requests: timed list requests per side and scenario
    "small": {"records": 20_000, "requests": 60, "warmup": 10, "lines": 50, "fulfils": 3, "seconds": 8.0,
              "write_requests": 50, "kits": 500, "sites": 20, "components": 5,
              "sqlite": "sqlite:////tmp/kitwright-bench-small.db", "postgres": f"{PG}/kitwright_bench_small",
              "retail_sqlite": "sqlite:////tmp/kitwright-retail-small.db",
              "retail_postgres": f"{PG}/kitwright_retail_small"},
    "full": {"records": 1_000_000, "requests": 300, "warmup": 20, "lines": 200, "fulfils": 5, "seconds": 20.0,
             "write_requests": 300, "kits": 10_000, "sites": 100, "components": 5,
             "sqlite": "sqlite:////tmp/kitwright-bench-read.db", "postgres": f"{PG}/kitwright_bench_read",
             "retail_sqlite": "sqlite:////tmp/kitwright-retail.db", "retail_postgres": f"{PG}/kitwright_retail"},
}
SECTIONS = ("read", "kits", "write", "availability")


@dataclass
class Figure:
    section: str
    name: str
    value: float | None
    unit: str
    baseline: float | None
    ratio: float | None  # value / baseline
    aim: str
    samples: str
    load: tuple[float, float]
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def row(self) -> str:
        def number(x: float | None) -> str:
            return "—" if x is None else (f"{x:,.2f}" if x < 100 else f"{x:,.1f}")

        ratio = "—" if self.ratio is None else f"{self.ratio:.2f}x"
        return (f"| {self.name} | {number(self.value)} {self.unit} | {number(self.baseline)} {self.unit} | {ratio} "
                f"| {self.aim} | {self.samples} | {self.load[0]:.1f}→{self.load[1]:.1f} |")


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def say(text: str) -> None:
    print(text, flush=True)


# -- data sets -------------------------------------------------------------------------------


def database_exists(url: str) -> bool:
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite":
        return Path(parsed.database or "").exists()
    admin = sa.create_engine(parsed.set(database="postgres"))
    try:
        with admin.connect() as conn:
            return bool(conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                     {"n": parsed.database}).first())
    finally:
        admin.dispose()


def prepare(size: dict[str, Any], urls: list[str], retail: list[str]) -> None:
    """Generate the data sets that are missing (an existing one is used as it is)."""
    for url in urls:
        if not database_exists(url):
            say(f"generating {size['records']:,} records into {url}")
            subprocess.run([sys.executable, str(HERE / "generate.py"), "--database-url", url,
                            "--inventory", str(size["records"]), "--replace"], check=True)
    for url in retail:
        if not database_exists(url):
            say(f"generating {size['kits']:,} retail kits x {size['sites']} sites into {url}")
            subprocess.run([sys.executable, str(HERE / "generate_retail.py"), "--database-url", url,
                            "--kits", str(size["kits"]), "--sites", str(size["sites"]),
                            "--components", str(size["components"]), "--replace"], check=True)


def copy_postgres(source: str, name: str) -> str:
    """A scratch copy of a PostgreSQL data set for benchmarks that write."""
    parsed = make_url(normalise_url(source))
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        # TEMPLATE needs the source to have no other sessions.
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"),
                     {"d": parsed.database})
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"'))
    admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def drop_postgres(url: str) -> None:
    parsed = make_url(normalise_url(url))
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


# -- sections --------------------------------------------------------------------------------


def section_read(args: argparse.Namespace, size: dict[str, Any]) -> list[Figure]:
    from bench_read_path import TARGET_RATIO, measure

    figures = []
    for url in (args.sqlite, args.postgres):
        results = measure(url, workers=args.workers, requests=args.requests or size["requests"],
                          warmup=size["warmup"], targets=20, seed=7, scenarios=[], port=args.port,
                          raw_port=args.port + 1, max_seconds=600)
        for r in results:
            figures.append(Figure(
                "read", f"list page p50, {r['engine']}, {r['scenario']} ({r['records']:,} records)",
                r["kitwright_p50_ms"], "ms", r["raw_p50_ms"], r["ratio_p50"], f"≤ {TARGET_RATIO}x",
                f"{r['requests']} each (p95 {r['kitwright_p95_ms']:.1f} / {r['raw_p95_ms']:.1f} ms)",
                (r["load"][0], r["load"][1]), extra=r))
            say(figures[-1].row())
    return figures


def _cpu_note(issue: dict[str, Any]) -> str:
    """CPU per request and cores in use, server / client / database, for each side."""
    g, r = issue["graphql_cpu"], issue["raw_cpu"]
    return (f"CPU ms/request server {g['server_cpu_ms_per_request']} client {g['client_cpu_ms_per_request']} "
            f"database {g['database_cpu_ms_per_request']} (cores {g['server_cores']} + {g['client_cores']} + "
            f"{g['database_cores']}); raw client {r['client_cpu_ms_per_request']} database "
            f"{r['database_cpu_ms_per_request']} (cores {r['client_cores']} + {r['database_cores']})")


def section_kits(args: argparse.Namespace, size: dict[str, Any]) -> list[Figure]:
    import bench_kits

    before = loadavg()
    scratch = copy_postgres(args.postgres, f"{make_url(normalise_url(args.postgres)).database}_kits")
    try:
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            bench_kits.main(["--database-url", scratch, "--lines", str(size["lines"]),
                             "--fulfils", str(size["fulfils"]), "--clients", str(args.clients),
                             "--workers", str(args.workers), "--seconds", str(size["seconds"]),
                             "--port", str(args.port + 2), "--json", out.name])
            result = json.loads(Path(out.name).read_text())
    finally:
        if not args.keep_copies:
            drop_postgres(scratch)
    after = loadavg()
    fulfil, issue = result["fulfil"], result["issue"]
    figures = [
        Figure("kits", f"fulfil a {fulfil['lines']}-line kit, median (postgresql, {result['records']:,} records)",
               fulfil["service_median_ms"], "ms", fulfil["raw_median_ms"],
               round(fulfil["service_median_ms"] / fulfil["raw_median_ms"], 2), "—",
               f"{fulfil['runs']} each", (before, after)),
        Figure("kits", f"issueItemToKit, {issue['clients']} clients, {issue['workers']} workers (postgresql)",
               issue["graphql_per_s"], "/s", issue["raw_per_s"], round(issue["graphql_per_s"] / issue["raw_per_s"], 2),
               "≥ 0.35x the raw rate",
               f"{size['seconds']:g} s each; p50 {issue['graphql_p50_ms']} / {issue['raw_p50_ms']} ms; "
               f"failed {issue['graphql_failed']} / {issue['raw_failed']}; " + _cpu_note(issue), (before, after)),
    ]
    for f in figures:
        say(f.row())
    return figures


def section_write(args: argparse.Namespace, size: dict[str, Any]) -> list[Figure]:
    """Server CPU per request of the write path: bench_write_path.py, when it is in the tree."""
    try:
        write_path = importlib.import_module("bench_write_path")
    except ImportError:
        note = "bench/bench_write_path.py is not in this tree: hook `section_write` runs it once it is"
        say(f"write: skipped ({note})")
        return [Figure("write", "server CPU per request (write path)", None, "ms", None, None, "≤ 3 ms (postgresql)",
                       "—", (loadavg(), loadavg()), note=note)]
    before = loadavg()
    urls = ["sqlite:////tmp/kitwright-bench-write.db", f"{PG}/kitwright_bench_write"]
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        argv = [a for url in urls for a in ("--database-url", url)]
        write_path.main([*argv, "--requests", str(size["write_requests"]), "--port", str(args.port + 3),
                         "--json", out.name])
        result = json.loads(Path(out.name).read_text())
    after = loadavg()
    figures = []
    for engine in ("sqlite", "postgresql"):
        found = result.get(engine) or {}
        for operation, served in (found.get("server") or {}).items():
            raw = (found.get("raw") or {}).get(operation) or {}
            value, base = served.get("server_cpu_ms"), raw.get("cpu_ms")
            figures.append(Figure(
                "write", f"server CPU per request, {operation}, {engine}, 1 worker", value, "ms", base,
                round(value / base, 2) if value and base else None, "≤ 3 ms (postgresql)",
                f"{size['write_requests']} each; p50 {served.get('p50_ms')} / {raw.get('p50_ms', '—')} ms",
                (before, after), extra={"server": served, "raw": raw}))
            say(figures[-1].row())
    return figures


def section_availability(args: argparse.Namespace, size: dict[str, Any]) -> list[Figure]:
    """The feed against the aggregate, and one delta: bench_availability.py as its own process.

    Its figures are shown as it prints them (the script is being extended with the delta); when
    it offers `--json`, its results are also kept in this run's JSON."""
    script = HERE / "bench_availability.py"
    urls = [a for url in (args.retail_sqlite, args.retail_postgres) for a in ("--database-url", url)]
    help_text = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, check=False).stdout
    before = loadavg()
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        extra = ["--json", out.name] if "--json" in help_text else []
        completed = subprocess.run([sys.executable, str(script), *urls, *extra], capture_output=True, text=True, check=False)
        say(completed.stdout)
        if completed.returncode != 0:
            say(completed.stderr[-3000:])
        kept: Any = json.loads(Path(out.name).read_text() or "null") if extra and completed.returncode == 0 else None
    after = loadavg()
    return [Figure("availability", "availability feed vs the hand-written aggregate, and one delta", None, "", None,
                   None, "feed ≤ 1.5x the aggregate; delta ≤ 50 ms", f"{size['kits']:,} kits x {size['sites']} sites",
                   (before, after), note="see bench_availability.py's table above",
                   extra={"output": completed.stdout, "json": kept, "returncode": completed.returncode})]


# -- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=list(SIZES), default="small")
    parser.add_argument("--only", action="append", choices=SECTIONS, default=[], help="repeat; default: all")
    parser.add_argument("--prepare", action="store_true", help="generate the data sets that are missing")
    parser.add_argument("--sqlite", help="the read data set on SQLite (default per --size)")
    parser.add_argument("--postgres", help="the read data set on PostgreSQL (default per --size)")
    parser.add_argument("--retail-sqlite")
    parser.add_argument("--retail-postgres")
    parser.add_argument("--workers", type=int, default=2, help="server workers (the README's recommendation)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients of issueItemToKit")
    parser.add_argument("--requests", type=int, help="timed list requests per side (default per --size)")
    parser.add_argument("--port", type=int, default=8780, help="first of 4 consecutive ports")
    parser.add_argument("--keep-copies", action="store_true", help="keep the scratch PostgreSQL copies")
    parser.add_argument("--json", help="write every figure here")
    parser.add_argument("--markdown", action="store_true", help="print the rows of bench/README.md's table")
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    args.sqlite = args.sqlite or size["sqlite"]
    args.postgres = args.postgres or size["postgres"]
    args.retail_sqlite = args.retail_sqlite or size["retail_sqlite"]
    args.retail_postgres = args.retail_postgres or size["retail_postgres"]
    # In this order whatever --only says: the write section's script changes this process's
    # environment (it authenticates with an API key), which the earlier servers must not inherit.
    sections = [name for name in SECTIONS if name in args.only] if args.only else list(SECTIONS)
    if args.prepare:
        needs_read = {"read", "kits"} & set(sections)
        prepare(size, [args.sqlite, args.postgres] if needs_read else [],
                [args.retail_sqlite, args.retail_postgres] if "availability" in sections else [])
    started = time.monotonic()
    say(f"run_all --size {args.size}: {', '.join(sections)}; load average {loadavg()}, {os.cpu_count()} CPUs")
    figures: list[Figure] = []
    runners = {"read": section_read, "kits": section_kits, "write": section_write,
               "availability": section_availability}
    for name in sections:
        say(f"\n== {name} (load average {loadavg()})")
        figures += runners[name](args, size)
    say(f"\n== all figures ({time.monotonic() - started:.0f} s)")
    say("| figure | value | baseline | ratio | aim | samples | load avg |")
    say("|---|---|---|---|---|---|---|")
    for f in figures:
        say(f.row() + (f" {f.note}" if f.note else ""))
    if args.markdown:
        say("\nREADME rows (figure | before | after | baseline | ratio):")
        for f in figures:
            if f.value is not None:
                baseline = "—" if f.baseline is None else f"{f.baseline:g} {f.unit}"
                say(f"| {f.name} | {f.value:g} {f.unit} (load {f.load[1]:.1f}) |  | {baseline} "
                    f"| {f.ratio}x |")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(f) for f in figures], indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
