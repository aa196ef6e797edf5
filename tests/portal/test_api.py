"""Bearer API: local RFC 9068 verification, RFC 6750 errors, isolation, OpenAPI."""

from __future__ import annotations

import pytest

from .fake_op import new_rsa_key


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_missing_token_gets_401_without_error_code(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer") and "error=" not in challenge


def test_non_bearer_scheme_is_invalid_request(client):
    response = client.get("/api/v1/me", headers={"Authorization": "Basic abc"})
    assert response.status_code == 401
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("make_token,description", [
    (lambda op: op.access_token(lifetime=-3600), "token expired"),
    (lambda op: op.access_token(aud=["someone-else"]), "wrong audience"),
    (lambda op: op.access_token(typ="JWT"), "token type must be at+jwt"),
    (lambda op: op.access_token(key=new_rsa_key("key-1")), "invalid signature"),
    (lambda op: op.access_token(iss="http://127.0.0.1:1/realms/x"), "wrong issuer"),
    (lambda op: op.access_token(kid="no-such-key"), "unknown signing key"),
    (lambda op: "abc.def", "malformed token"),
])
def test_invalid_tokens_get_401_invalid_token(client, op, make_token, description):
    response = client.get("/api/v1/me", headers=bearer(make_token(op)))
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="invalid_token"' in challenge
    assert f'error_description="{description}"' in challenge
    assert response.get_json()["error"] == "invalid_token"


def test_id_token_cannot_be_used_as_access_token(client, op):
    id_token = op.sign(op.id_token_claims("100001", "n", "sid"))
    response = client.get("/api/v1/me", headers=bearer(id_token))
    assert response.status_code == 401


def test_scope_without_customer_gets_403_insufficient_scope(client, op):
    response = client.get("/api/v1/me", headers=bearer(op.access_token(scope="openid profile")))
    assert response.status_code == 403
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="customer"' in challenge


def test_me_returns_the_customers_summary(client, op):
    response = client.get("/api/v1/me", headers=bearer(op.access_token("100001")))
    assert response.status_code == 200
    body = response.get_json()
    assert body["customer_id"] == "100001" and body["sub"] == "sub-100001"
    assert body["balance"]["amount_cents"] == 123456
    assert body["balance"]["formatted"] == "1\u202f234,56\u00a0€"
    assert body["open_interventions"] == 1
    assert body["agency"]["code"] == "paris-15"
    assert response.headers["Cache-Control"] == "no-store"


def test_extra_audience_is_accepted(app, client, op):
    app.extensions["portal_token_validator"].audience = "https://api.example/portal"
    token = op.access_token(aud=["mobile-app", "https://api.example/portal"])
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert client.get("/api/v1/me", headers=bearer(op.access_token())).status_code == 401


def test_lists_are_the_token_holders_only(client, op):
    jean = bearer(op.access_token("100002"))
    props = client.get("/api/v1/properties", headers=jean).get_json()["properties"]
    assert [p["ref"] for p in props] == ["LOT-2001"] and props[0]["role"] == "tenant"
    accounts = client.get("/api/v1/accounts", headers=jean).get_json()
    assert accounts["balance_cents"] == 0 and len(accounts["entries"]) == 4
    assert accounts["entries"][0]["balance_cents"] == -92000
    inter = client.get("/api/v1/interventions?status=en_cours", headers=jean).get_json()
    assert [i["ref"] for i in inter["interventions"]] == ["INT-5002"]
    docs = client.get("/api/v1/documents", headers=jean).get_json()["documents"]
    assert {d["ref"] for d in docs} == {"DOC-2001-01", "DOC-2001-02"}
    assert client.get(docs[0]["download_url"], headers=jean).status_code == 200
    assert client.get("/api/v1/documents/DOC-1001-01", headers=jean).status_code == 404


def test_same_customer_id_of_another_issuer_sees_nothing(app, client, op):
    # A token for 100001 from another realm (same keys, to isolate the issuer check).
    assert client.get("/api/v1/me", headers=bearer(op.access_token())).status_code == 200
    app.extensions["portal_oidc"].verifier.issuer = "http://127.0.0.1:1/realms/other"
    token = op.access_token("100001", iss="http://127.0.0.1:1/realms/other")
    body = client.get("/api/v1/me", headers=bearer(token)).get_json()
    assert body["balance"]["amount_cents"] == 0 and body["agency"] is None


def test_key_rotation_is_picked_up_by_the_api(app, client, op):
    assert client.get("/api/v1/me", headers=bearer(op.access_token())).status_code == 200
    op.rotate_keys(kind="EC")
    response = client.get("/api/v1/me", headers=bearer(op.access_token()))
    assert response.status_code == 200


def test_introspection_mode(app, client, op):
    from portal.api import IntrospectionValidator

    app.extensions["portal_token_validator"] = IntrospectionValidator(
        app.extensions["portal_oidc"], "portal")
    assert client.get("/api/v1/me", headers=bearer(op.access_token())).status_code == 200
    expired = client.get("/api/v1/me", headers=bearer(op.access_token(lifetime=-60)))
    assert expired.status_code == 401


def test_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert {"/me", "/properties", "/accounts", "/interventions", "/documents"} <= set(doc["paths"])
    assert doc["components"]["securitySchemes"]["bearer"]["bearerFormat"] == "JWT"


def test_api_404_is_json(client):
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"


def test_customer_claim_name_is_a_setting(app, client, op):
    app.config["CUSTOMER_CLAIM"] = "numero_client"
    renamed = op.access_token(scope="openid customer", numero_client="100001")
    response = client.get("/api/v1/me", headers=bearer(renamed))
    assert response.status_code == 200
    assert response.json["customer_id"] == "100001"
    assert response.json["balance"]["amount_cents"] == 123456
    usual = op.access_token("100001")  # carries customer_id, not numero_client
    refused = client.get("/api/v1/me", headers=bearer(usual))
    assert refused.status_code == 401
    assert "token has no numero_client" in refused.headers["WWW-Authenticate"]


def test_me_reads_again_through_sqlalchemy_when_the_driver_path_fails(app, client, op,
                                                                       monkeypatch):
    # The fast path's SQL fails at the driver (as a connection killed by a restart would):
    # the connection is discarded and SQLAlchemy's own path answers.
    from portal import models

    monkeypatch.setattr(models, "_compiled", lambda dialect: ("SELECT * FROM no_such", None))
    response = client.get("/api/v1/me", headers=bearer(op.access_token("100001")))
    assert response.status_code == 200
    assert response.get_json()["balance"]["amount_cents"] == 123456


def test_me_answers_503_when_the_database_is_down(app, client, op, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from portal import models

    def down(*_args):
        raise OperationalError("SELECT", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(models, "_summary_on_driver", down)
    monkeypatch.setattr(models, "_summary_through_core", down)
    response = client.get("/api/v1/me", headers=bearer(op.access_token("100001")))
    assert response.status_code == 503
    assert response.get_json()["error"] == "temporarily_unavailable"
    assert "Retry-After" in response.headers and "Traceback" not in response.text


def test_me_hands_connections_back_in_transactional_mode(app, client, op):
    # The API reads in autocommit; the ORM, on the next use of the pooled connection, must
    # still get a transaction it can roll back.
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.models import Agency

    for _ in range(3):
        assert client.get("/api/v1/me", headers=bearer(op.access_token())).status_code == 200
    with app.app_context():
        db.session.add(Agency(code="rolled-back", name="Rolled back"))
        db.session.flush()
        db.session.rollback()
        kept = db.session.scalar(select(func.count()).select_from(Agency)
                                 .where(Agency.code == "rolled-back"))
    assert kept == 0


def test_api_ignores_the_browser_session(app, signed_in, op):
    # A session cookie sent to the API is neither read nor written back (no Set-Cookie).
    response = signed_in.get("/api/v1/me", headers=bearer(op.access_token()))
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert signed_in.get("/api/v1/me").status_code == 401  # the cookie alone is no credential


def test_me_survives_a_reading_connection_closed_under_it(app, client, op):
    # A database restart kills the thread's reading connection (PostgreSQL; SQLite reads
    # on pooled connections): the calls read through the pool for a few seconds, then
    # the thread opens a new one.
    from portal import models

    headers = bearer(op.access_token("100001"))
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    reader = models._READER.connection
    if reader is not None:
        from sqlalchemy import text

        from portal.extensions import db

        with app.app_context():
            db.session.execute(text("SELECT pg_terminate_backend(:pid)"),
                               {"pid": reader.dbapi_connection.info.backend_pid})
            db.session.commit()
    for _ in range(2):
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 200
        assert response.get_json()["balance"]["amount_cents"] == 123456
    if reader is not None:
        assert models._READER.connection is None  # the dead one was dropped
        models._READER.resting_until = {}  # the few seconds are over
        assert client.get("/api/v1/me", headers=headers).status_code == 200
        assert models._READER.connection not in (None, reader)


def test_me_leaves_the_fast_path_alone_for_a_while_after_a_failure(app, client, op,
                                                                    monkeypatch):
    # During an outage each call makes one connection attempt, not two.
    from portal import models

    calls = []

    def failing(engine, params):
        calls.append(1)
        raise engine.dialect.loaded_dbapi.OperationalError("server closed the connection")

    monkeypatch.setattr(models, "_summary_on_driver", failing)
    monkeypatch.setattr(models._READER, "resting_until", {})
    headers = bearer(op.access_token("100001"))
    for _ in range(3):
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert len(calls) == 1
