"""The portal through a PostgreSQL outage, and ``portal sessions purge`` (issue 11, 1-2, 8)."""

from __future__ import annotations

import datetime as dt
import warnings

import pytest

from .services import PostgresCluster, preserved_logging, wait_for

pytestmark = pytest.mark.e2e


def portal_cli(app, *args: str):  # type: ignore[no-untyped-def]
    """The ``portal`` command itself (its groups live on the FlaskGroup, not app.cli)."""
    from click.testing import CliRunner
    from flask.cli import ScriptInfo

    from portal.cli import cli

    return CliRunner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app))


@pytest.fixture
def portal_app(postgres: PostgresCluster, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    from portal import create_app
    from portal.extensions import db

    url = postgres.create_database(f"portal_{request.node.name[:40].lower()}")
    app = create_app({"TESTING": True, "SECRET_KEY": "portal-ops",
                      "SQLALCHEMY_DATABASE_URI": url,
                      "OIDC_ISSUER": "http://127.0.0.1:9/realms/r"})
    # Alembic's env.py uses a deprecated helper and reconfigures logging.
    with warnings.catch_warnings(), preserved_logging():
        warnings.simplefilter("ignore", DeprecationWarning)
        result = portal_cli(app, "db", "upgrade")
    assert result.exit_code == 0, result.output
    yield app
    with app.app_context():
        db.engine.dispose()


def _session_row(app, expires: dt.datetime) -> str:  # type: ignore[no-untyped-def]
    """A stored session as the portal writes it; returns the browser's cookie value."""
    import secrets

    from portal.extensions import db
    from portal.models import ServerSession
    from portal.sessions import _hash

    session_id = secrets.token_urlsafe(32)
    with app.app_context():
        db.session.add(ServerSession(id_hash=_hash(session_id), data={"name": "Marie"},
                                     expires_at=expires))
        db.session.commit()
    return session_id


def test_portal_answers_503_during_an_outage_and_recovers(portal_app, postgres) -> None:  # type: ignore[no-untyped-def]
    from portal.models import utcnow

    cookie = _session_row(portal_app, utcnow() + dt.timedelta(hours=1))
    client = portal_app.test_client()
    client.set_cookie("portal_session", cookie)
    assert client.get("/readyz").json == {"status": "ok", "checks": {"database": "ok"}}

    postgres.stop()
    try:
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json["status"] == "unavailable"
        assert client.get("/healthz").status_code == 200
        page = client.get("/biens")  # the session cannot even be read
        assert page.status_code == 503 and "Retry-After" in page.headers
        assert page.mimetype == "text/html" and "Traceback" not in page.text
        # A bad token needs no database, and the API reads no browser session: the
        # same client, cookie and all, gets its 401 rather than the session store's 503.
        api = client.get("/api/v1/me", headers={"Authorization": "Bearer x"})
        assert api.status_code == 401
        assert "Traceback" not in api.text
        assert "portal_session" not in page.headers.get("Set-Cookie", "")  # kept for later
    finally:
        postgres.start()
    wait_for(lambda: client.get("/readyz").status_code == 200, 15, "portal ready")
    assert client.get("/biens").status_code != 503


def test_sessions_purge_deletes_only_expired_sessions(portal_app) -> None:  # type: ignore[no-untyped-def]
    from portal.extensions import db
    from portal.models import ServerSession, utcnow

    for _ in range(3):
        _session_row(portal_app, utcnow() - dt.timedelta(minutes=1))
    alive = _session_row(portal_app, utcnow() + dt.timedelta(hours=1))
    result = portal_cli(portal_app, "sessions", "purge")
    assert result.exit_code == 0, result.output
    assert "3 expired session(s) deleted" in result.output
    with portal_app.app_context():
        from portal.sessions import _hash

        left = db.session.execute(db.select(ServerSession.id_hash)).scalars().all()
        assert left == [_hash(alive)]
