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
    batches: list[tuple[int, float]] = []
    with app_env(env) as app:
        from idp.core.customer_import import import_customers
        from idp.core.db import db
        from idp.core.models import Realm

        realm = db.session.execute(db.select(Realm).filter_by(
            slug=harness.REALM_SLUG)).scalar_one()
        print(f"importing {rows:,} rows into {name}…", flush=True)
        started = time.perf_counter()
        with csv_path.open("rb") as f:
            report = import_customers(app.extensions["idp.settings"], realm, f,
                                      on_batch=lambda n, s: batches.append((n, s)))
        total = time.perf_counter() - started
        if report.created != rows or report.errors:
            raise RuntimeError(f"import: {report.as_dict()}")
        db.session.execute(db.text("ANALYZE"))
        figures = {"rows": rows, "total_s": round(total, 2),
                   "rows_per_s": round(rows / total),
                   "batch_rows": batches[0][0],
                   "first_batch_rows_per_s": round(batches[0][0] / batches[0][1]),
                   "last_batch_rows_per_s": round(batches[-1][0] / batches[-1][1]),
                   "slowest_batch_rows_per_s": round(min(n / s for n, s in batches))}
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


def timed(call: Any, samples: int) -> dict[str, float]:
    out = []
    for _ in range(samples):
        started = time.perf_counter()
        call()
        out.append(time.perf_counter() - started)
    return percentiles(out)


def measure(name: str, rows: int, samples: int) -> dict[str, Any]:
    from .workloads import cookie_header, login_form

    env = harness.idp_env(db_url(name), harness.free_port())
    port = int(env["IDP_PUBLIC_URL"].rsplit(":", 1)[1])
    figures: dict[str, Any] = {}
    with harness.serving("idp.wsgi:app", env, port) as server:
        url = f"{server.url}/realms/{harness.REALM_SLUG}/login"
        session = requests.Session()
        csrf = login_form(session, url)
        cookie = cookie_header(session)

        def post(login: str, password: str) -> None:
            resp = requests.post(url, data=f"csrf_token={quote(csrf)}&login={login}"
                                 f"&password={quote(password)}", allow_redirects=False,
                                 headers={"Cookie": cookie, "Content-Type":
                                          "application/x-www-form-urlencoded"}, timeout=30)
            if resp.status_code != 302:
                raise RuntimeError(f"sign-in of {login}: {resp.status_code}")

        post(harness.CUSTOMER, harness.PASSWORD)  # warm
        figures["sign_in"] = timed(lambda: post(harness.CUSTOMER, harness.PASSWORD), samples)
        rng = random.Random(20)
        # customers without an email (one row in three): the première connexion's first step
        pool = [FIRST_IDENTIFIER + 3 * rng.randrange(rows // 3) for _ in range(samples + 1)]

        def first_step() -> None:
            ident = pool.pop()
            post(str(ident), code_of(ident))

        first_step()
        figures["premiere_connexion"] = timed(first_step, samples)
        figures["idp_rss_mib"] = round(sum(_rss(pid) for pid in server.pids) / 1024, 1)
    with app_env(env):
        from idp.core import staff
        from idp.core.operations import customers as customer_ops
        from idp.core.operations import migration
        from idp.core.realms import find_realm

        boss = staff.Principal(actor="staff:bench", super_admin=True)
        realm = find_realm(harness.REALM_SLUG)
        queries = [SEARCHES[i % len(SEARCHES)] for i in range(samples)]
        for q in SEARCHES:
            customer_ops.search_customers(boss, realm, q)
        figures["search"] = timed(lambda: customer_ops.search_customers(
            boss, realm, queries.pop()), samples)
        migration.counts(boss, realm)
        figures["dashboard_counts"] = timed(lambda: migration.counts(boss, realm), 50)
        counts = migration.counts(boss, realm)
        figures["imported"] = counts.imported
    return figures


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
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rows in (SMALL, args.rows):
            name = f"bench_scale_{rows}"
            figures = None if args.rebuild else stored_figures(name)
            if figures is None:
                figures = build(name, rows, Path(tmp))
                figures["built_now"] = True
            else:
                print(f"reusing {name} (built before; --rebuild to start again)", flush=True)
            result[rows] = {"import": figures,
                            "latency": measure(name, rows, args.samples)}
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
