"""A million customers in PostgreSQL: ``python -m bench scale`` (``make bench
BENCH_ARGS=scale``).

Builds, once, two named PostgreSQL databases through the idp's own code: one with
1,000,000 imported customers and one with 10,000 (the bench's realm and its active
customer 100001 besides). They are kept and reused by the next runs (``--rebuild``
drops them); the import's figures, measured when a database was built, are stored in it.

Reports:

* the import: total seconds, and the rate of the first and of the last batch (linear if
  they match), through :func:`idp.core.customer_import.import_customers` (what ``idp
  customers import`` runs);
* at 10k and at 1M customers: the latency (p50, p99) of a password sign-in and of a
  première connexion's first step (identifier + temporary code) over HTTP on a real
  gunicorn (one worker), and of the console's customer search and of the migration
  dashboard's counts (the core operations, in process: what changes with the table's
  size is their SQL);
* the idp's resident memory after the run (the Kubernetes requests are sized from it).

Options: ``--rows N`` (default 1,000,000), ``--samples N`` (HTTP requests per figure,
default 100), ``--rebuild``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import requests

from . import harness

SMALL = 10_000
FIRST_IDENTIFIER = 2_000_000
# What staff type: an identifier or its first digits, an email, a name (at both sizes
# "2000" matches 1,000 customers and the full values one; a short name prefix such as
# "nom1" matches a share of the realm, so it grows with it: see docs/performance.md).
SEARCHES = ("2000", "2004242", "c2004241@example.test", "nom4242", "prénom7777", "zz")


def write_csv(path: Path, rows: int) -> None:
    """The issue's file: identifier, an email for two rows in three, names, a code."""
    with path.open("w", encoding="utf-8") as f:
        f.write("identifier,email,given_name,family_name,temporary_password\n")
        for i in range(rows):
            ident = FIRST_IDENTIFIER + i
            email = f"c{ident}@example.test" if i % 3 else ""
            f.write(f"{ident},{email},Prénom{i},Nom{i},{code_of(ident)}\n")


def code_of(identifier: int) -> str:
    return f"{(identifier * 7919) % 1_000_000:06d}"


def db_url(name: str) -> str:
    base = harness.PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://",
                                                          "postgresql+psycopg://")
    return f"{base}/{name}"


def exists(name: str) -> bool:
    with psycopg.connect(harness.PG_ADMIN_URL, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (name,)).fetchone() is not None


def stored_figures(name: str) -> dict[str, Any] | None:
    """The import figures kept in a complete database; None if absent or half-built."""
    if not exists(name):
        return None
    url = db_url(name).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        found = conn.execute("SELECT to_regclass('bench_scale_figures')").fetchone()[0]
        if found is None:
            return None
        row = conn.execute("SELECT figures FROM bench_scale_figures").fetchone()
        return json.loads(row[0]) if row else None


def drop(name: str) -> None:
    with psycopg.connect(harness.PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def app_env(env: dict) -> Any:
    """The idp app, in process, configured from ``env`` as the CLI would be."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        from idp import create_app

        app = create_app()
        with app.app_context():
            yield app
    finally:
        os.environ.clear()
        os.environ.update(saved)


def build(name: str, rows: int, tmp: Path) -> dict[str, Any]:
    """Create the database, migrate, set up the realm, import ``rows`` customers."""
    drop(name)
    with psycopg.connect(harness.PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = harness.idp_env(db_url(name), 1)
    harness.cli(env, "db", "upgrade")
    realm_file = tmp / "realm.json"
    realm_file.write_text(json.dumps(harness.REALM), encoding="utf-8")
    harness.cli(env, "realms", "import", realm_file, "--json")
    harness.cli(env, "customers", "create", "--realm", harness.REALM_SLUG, "--identifier",
                harness.CUSTOMER, "--email", f"c{harness.CUSTOMER}@example.test",
                "--email-verified", "--password", harness.PASSWORD)
    csv_path = tmp / f"customers-{rows}.csv"
    write_csv(csv_path, rows)
    batches: list[dict[str, float]] = []
    with app_env(env) as app:
        from idp.core.customer_import import import_customers
        from idp.core.db import db
        from idp.core.models import Realm

        realm = db.session.execute(db.select(Realm).filter_by(
            slug=harness.REALM_SLUG)).scalar_one()
        # The machine may be shared: CPU-seconds of the import (this process) and of its
        # PostgreSQL backend say what the wall clock alone cannot.
        backend = int(db.session.execute(db.text("SELECT pg_backend_pid()")).scalar())
        last = {"cpu": time.process_time(), "pg": harness.cpu_seconds([backend])}

        def on_batch(rows_done: int, seconds: float) -> None:
            cpu, pg = time.process_time(), harness.cpu_seconds([backend])
            batches.append({"rows": rows_done, "wall": seconds, "cpu": cpu - last["cpu"],
                            "pg": pg - last["pg"]})
            last.update(cpu=cpu, pg=pg)

        print(f"importing {rows:,} rows into {name}…", flush=True)
        started, cpu0 = time.perf_counter(), time.process_time()
        pg0 = harness.cpu_seconds([backend])
        with csv_path.open("rb") as f:
            report = import_customers(app.extensions["idp.settings"], realm, f,
                                      on_batch=on_batch)
        total = time.perf_counter() - started
        cpu, pg = time.process_time() - cpu0, harness.cpu_seconds([backend]) - pg0
        if report.created != rows or report.errors:
            raise RuntimeError(f"import: {report.as_dict()}")
        db.session.execute(db.text("ANALYZE"))
        first, final = batches[0], batches[-1]
        figures = {"rows": rows, "total_s": round(total, 2),
                   "rows_per_s": round(rows / total),
                   "cpu_s": round(cpu, 1), "postgres_cpu_s": round(pg, 1),
                   "load_average": os.getloadavg()[0],
                   "batch_rows": first["rows"],
                   "first_batch_rows_per_s": round(first["rows"] / first["wall"]),
                   "last_batch_rows_per_s": round(final["rows"] / final["wall"]),
                   "slowest_batch_rows_per_s": round(min(b["rows"] / b["wall"]
                                                         for b in batches)),
                   "first_batch_cpu_ms_per_1000": round(
                       (first["cpu"] + first["pg"]) / first["rows"] * 1e6),
                   "last_batch_cpu_ms_per_1000": round(
                       (final["cpu"] + final["pg"]) / final["rows"] * 1e6),
                   # per batch: [rows/s, import CPU ms and PostgreSQL CPU ms per 1,000 rows]
                   "batches": [[round(b["rows"] / b["wall"]),
                                round(b["cpu"] / b["rows"] * 1e6),
                                round(b["pg"] / b["rows"] * 1e6)] for b in batches]}
        db.session.execute(db.text("CREATE TABLE bench_scale_figures (figures text)"))
        db.session.execute(db.text("INSERT INTO bench_scale_figures VALUES (:f)"),
                           {"f": json.dumps(figures)})
        db.session.commit()
    csv_path.unlink()
    return figures


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(p99 * 1000, 2), "n": len(ordered)}


def measure(names: dict[int, str], samples: int) -> dict[int, dict[str, Any]]:
    """Latencies at every size, the sizes interleaved sample by sample so a load spike
    on a shared machine weighs on them alike."""
    from .workloads import cookie_header, login_form

    sizes = list(names)
    figures: dict[int, dict[str, Any]] = {size: {} for size in sizes}
    envs = {size: harness.idp_env(db_url(names[size]), harness.free_port()) for size in sizes}
    with harness.serving("idp.wsgi:app", envs[sizes[0]],
                         int(envs[sizes[0]]["IDP_PUBLIC_URL"].rsplit(":", 1)[1])) as one, \
            harness.serving("idp.wsgi:app", envs[sizes[1]],
                            int(envs[sizes[1]]["IDP_PUBLIC_URL"].rsplit(":", 1)[1])) as two:
        servers = {sizes[0]: one, sizes[1]: two}
        forms = {}
        for size, server in servers.items():
            url = f"{server.url}/realms/{harness.REALM_SLUG}/login"
            session = requests.Session()
            forms[size] = (url, login_form(session, url), cookie_header(session))

        def post(size: int, login: str, password: str) -> None:
            url, csrf, cookie = forms[size]
            resp = requests.post(url, data=f"csrf_token={quote(csrf)}&login={login}"
                                 f"&password={quote(password)}", allow_redirects=False,
                                 headers={"Cookie": cookie, "Content-Type":
                                          "application/x-www-form-urlencoded"}, timeout=30)
            if resp.status_code != 302:
                raise RuntimeError(f"sign-in of {login}: {resp.status_code}")

        rng = random.Random(20)
        # customers without an email (one row in three): the première connexion's first step
        pools = {size: [FIRST_IDENTIFIER + 3 * rng.randrange(size // 3)
                        for _ in range(samples + 5)] for size in sizes}

        def first_step(size: int) -> None:
            ident = pools[size].pop()
            post(size, str(ident), code_of(ident))

        calls = {"sign_in": lambda size: post(size, harness.CUSTOMER, harness.PASSWORD),
                 "premiere_connexion": first_step}
        for key, call in calls.items():
            interleaved(figures, key, call, sizes, samples)
        for size, server in servers.items():
            figures[size]["idp_rss_mib"] = round(sum(_rss(p) for p in server.pids) / 1024, 1)
    apps = {}
    for size in sizes:
        with app_env(envs[size]) as app:
            apps[size] = app
    from idp.core import staff
    from idp.core.operations import customers as customer_ops
    from idp.core.operations import migration
    from idp.core.realms import find_realm

    boss = staff.Principal(actor="staff:bench", super_admin=True)
    queries = {size: [SEARCHES[i % len(SEARCHES)] for i in range(samples + 2 * len(SEARCHES))]
               for size in sizes}

    def search(size: int) -> None:
        with apps[size].app_context():
            customer_ops.search_customers(boss, find_realm(harness.REALM_SLUG),
                                          queries[size].pop())

    def counts(size: int) -> None:
        with apps[size].app_context():
            migration.counts(boss, find_realm(harness.REALM_SLUG))

    interleaved(figures, "search", search, sizes, samples, warm=2 * len(SEARCHES))
    interleaved(figures, "dashboard_counts", counts, sizes, 50)
    for size in sizes:
        with apps[size].app_context():
            figures[size]["imported"] = migration.counts(
                boss, find_realm(harness.REALM_SLUG)).imported
    return figures


def interleaved(figures: dict[int, dict[str, Any]], key: str, call: Any, sizes: list[int],
                samples: int, warm: int = 3) -> None:
    """``call(size)`` timed ``samples`` times per size, alternating the sizes."""
    for _ in range(warm):
        for size in sizes:
            call(size)
    times: dict[int, list[float]] = {size: [] for size in sizes}
    for _ in range(samples):
        for size in sizes:
            started = time.perf_counter()
            call(size)
            times[size].append(time.perf_counter() - started)
    for size in sizes:
        figures[size][key] = percentiles(times[size])


def _rss(pid: int) -> int:
    """Resident memory of ``pid`` in KiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench scale",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(harness.SOURCE))
    result: dict[int, Any] = {}
    names = {SMALL: f"bench_scale_{SMALL}", args.rows: f"bench_scale_{args.rows}"}
    with tempfile.TemporaryDirectory() as tmp:
        for rows, name in names.items():
            figures = None if args.rebuild else stored_figures(name)
            if figures is None:
                figures = build(name, rows, Path(tmp))
                figures["built_now"] = True
            else:
                print(f"reusing {name} (built before; --rebuild to start again)", flush=True)
            result[rows] = {"import": figures}
    latency = measure(names, args.samples)
    for rows in names:
        result[rows]["latency"] = latency[rows]
    print(report(result, args.rows))
    out = harness.ROOT / "bench" / "results" / f"scale-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"\nsaved {out}")


def report(result: dict[int, Any], big: int) -> str:
    imp = result[big]["import"]
    lines = [
        f"import of {big:,} rows: {imp['total_s']} s ({imp['rows_per_s']:,} rows/s); "
        f"batches of {imp['batch_rows']:,}: first {imp['first_batch_rows_per_s']:,} rows/s, "
        f"last {imp['last_batch_rows_per_s']:,} rows/s, slowest "
        f"{imp['slowest_batch_rows_per_s']:,} rows/s",
        f"CPU: import process {imp.get('cpu_s')} s, its PostgreSQL backend "
        f"{imp.get('postgres_cpu_s')} s; CPU ms per 1,000 rows (both): first batch "
        f"{imp.get('first_batch_cpu_ms_per_1000')}, last batch "
        f"{imp.get('last_batch_cpu_ms_per_1000')}; load average {imp.get('load_average')}",
        "",
        f"| figure | {SMALL:,} customers p50 / p99 (ms) | {big:,} customers p50 / p99 (ms)"
        " | p99 change |",
        "|---|---|---|---|",
    ]
    for key, title in (("sign_in", "password sign-in (HTTP)"),
                       ("premiere_connexion", "première connexion, code step (HTTP)"),
                       ("search", "console search (operation)"),
                       ("dashboard_counts", "dashboard counts, all (operation)")):
        small, large = result[SMALL]["latency"][key], result[big]["latency"][key]
        change = (large["p99_ms"] - small["p99_ms"]) / small["p99_ms"] * 100
        lines.append(f"| {title} | {small['p50_ms']} / {small['p99_ms']} | "
                     f"{large['p50_ms']} / {large['p99_ms']} | {change:+.0f} % |")
    lines.append("")
    lines.append(f"idp RSS after the run (gunicorn master + 1 worker): "
                 f"{result[SMALL]['latency']['idp_rss_mib']} MiB at {SMALL:,}, "
                 f"{result[big]['latency']['idp_rss_mib']} MiB at {big:,}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
