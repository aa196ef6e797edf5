"""Import benchmark: 100,000 generated customers (half temporary codes, half bcrypt legacy
hashes) into a fresh SQLite database through the real ``idp customers import`` code path.

    python bench/bench_import.py [--rows 100000]

Prints the seconds taken and the peak RSS. Temporary codes are stored as keyed HMACs (see
``idp.core.credentials.hash_temporary_code`` for why), legacy hashes are kept as given, so no
password hashing happens at import time; the bcrypt hashes of the file are generated once
(cost 4) and reused, since the import only checks their format.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import bcrypt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def write_csv(path: Path, rows: int) -> None:
    legacy = bcrypt.hashpw(b"Ancien-mdp1", bcrypt.gensalt(4)).decode()
    with path.open("w", encoding="utf-8") as f:
        f.write("identifier,email,given_name,family_name,temporary_password,"
                "legacy_password_hash\n")
        for i in range(rows):
            ident = 1_000_000 + i
            if i % 2:
                f.write(f"{ident},,Prénom{i},Nom{i},{i % 1_000_000:06d},\n")
            else:
                f.write(f"{ident},c{ident}@example.test,Prénom{i},Nom{i},,{legacy}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    from idp import create_app
    from idp.core.customer_import import import_customers
    from idp.core.db import db
    from idp.core.models import Realm

    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "customers.csv"
        write_csv(csv_path, args.rows)
        app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI":
                          f"sqlite:///{Path(tmp) / 'bench.db'}"})
        with app.app_context():
            db.create_all()
            realm = Realm(slug="bench", display_name="Bench", settings={})
            db.session.add(realm)
            db.session.commit()
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            start = time.perf_counter()
            cfg = app.extensions["idp.settings"]
            with csv_path.open("rb") as f:
                report = import_customers(cfg, realm, f)
            took = time.perf_counter() - start
            start = time.perf_counter()
            with csv_path.open("rb") as f:
                again = import_customers(cfg, realm, f)
            took_again = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        size_mb = csv_path.stat().st_size / 1e6
    print(f"rows: {args.rows} ({size_mb:.1f} MB CSV)")
    print(f"import: {took:.1f} s ({args.rows / took:,.0f} rows/s); created={report.created} "
          f"failed={len(report.errors)}")
    print(f"re-import (idempotent): {took_again:.1f} s; unchanged={again.unchanged}")
    print(f"peak RSS: {peak / 1024:.0f} MB (before import: {rss_before / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
