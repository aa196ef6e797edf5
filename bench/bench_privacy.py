"""Mes données benchmark: the export of a customer with 1,000 audit events (the
requirement: under 2 s), as JSON and as the readable page.

    python -m bench privacy [--events 1000] [--n 10] [--url URL]

Builds a throwaway idp (SQLite in a temporary directory unless ``--url`` names a database
to fill and drop), a customer with ``--events`` sign-ins in the audit trail, two passkeys,
a social link and live sessions; then times ``idp.core.privacy.export`` plus the JSON
encoding, and the HTML page through the Flask test client (fresh sign-in).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--url", default=None, help="SQLAlchemy URL (default: SQLite)")
    args = parser.parse_args()

    from idp import create_app
    from idp.core import passkeys as pk
    from idp.core import privacy
    from idp.core.db import db
    from idp.core.models import AuditEvent, Customer, FederatedIdentity, SsoSession
    from idp.core.realm_io import import_realm
    from idp.core.realms import find_realm

    tmp = tempfile.mkdtemp(prefix="bench-privacy-")
    app = create_app({
        "TESTING": True, "SECRET_KEY": "bench-" + "x" * 40, "PUBLIC_URL": "http://idp.test",
        "SQLALCHEMY_DATABASE_URI": args.url or f"sqlite:///{tmp}/idp.db",
        "RATELIMIT_ENABLED": False, "MAIL_SUPPRESS_SEND": True, "CACHE_SIGNAL": False,
        "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1})
    with app.app_context():
        db.drop_all()
        db.create_all()
        import_realm(app.extensions["idp.settings"].client_secret_key,
                     {"realm": "bench", "display_name": "Bench"})
        realm = find_realm("bench")
        assert realm is not None
        c = Customer(realm_id=realm.id, identifier="100001", given_name="Marie",
                     family_name="Dupont")
        c.set_email("marie@example.test", verified=True)
        db.session.add(c)
        db.session.flush()
        for i in range(2):
            db.session.add(pk.Passkey(realm_id=realm.id, customer_id=c.id,
                                      credential_id=f"c{i}".encode(), public_key=b"k",
                                      name=f"Clé {i}"))
        db.session.add(FederatedIdentity(realm_id=realm.id, customer_id=c.id,
                                         provider="google", subject="g-1"))
        for _ in range(3):
            db.session.add(SsoSession(realm_id=realm.id, customer_id=c.id, auth_time=0,
                                      amr=["pwd"], user_agent="Firefox/128.0 Linux",
                                      ip="192.0.2.1"))
        db.session.add_all([
            AuditEvent(realm_id=realm.id, customer_id=c.id, event="login",
                       ip=f"192.0.2.{i % 250}",
                       detail={"amr": ["pwd"], "idp": None, "acr": "1",
                               "device": "Firefox, Linux"})
            for i in range(args.events)])
        db.session.commit()
        times = []
        for _ in range(args.n):
            start = time.perf_counter()
            doc = privacy.export(realm, c)
            json.dumps(doc, ensure_ascii=False)
            times.append(time.perf_counter() - start)
        assert len(doc["sign_ins"]) == args.events
        print(f"export with {args.events} audit events on {db.engine.dialect.name}: "
              f"median {statistics.median(times) * 1000:.0f} ms, "
              f"max {max(times) * 1000:.0f} ms over {args.n} runs")
        page_times = []
        with app.test_request_context(f"/realms/{realm.slug}/account/data"):
            from flask import g, render_template

            g.realm = realm
            for _ in range(args.n):
                start = time.perf_counter()
                render_template("privacy/data.html", data=privacy.export(realm, c))
                page_times.append(time.perf_counter() - start)
        print(f"readable page (export + render): median "
              f"{statistics.median(page_times) * 1000:.0f} ms, "
              f"max {max(page_times) * 1000:.0f} ms")
        if args.url:
            db.drop_all()


if __name__ == "__main__":
    main()
