"""Admin CLI: realm import/export idempotency, clients, keys."""

import json

from idp.core.models import AuditEvent, Client
from idp.extensions import db

from .conftest import REALM
from .oidc_helpers import TOKEN, basic


def run(runner, *args):
    result = runner.invoke(args=list(args))
    return result


def test_realm_export_then_import_changes_nothing(app, runner, tmp_path):
    exported = run(runner, "realms", "export", REALM)
    assert exported.exit_code == 0, exported.output
    data = json.loads(exported.output)
    assert data["display_name"] == "Paris Île-de-France"
    assert {c["client_id"] for c in data["clients"]} == {"rp", "spa", "third", "post"}
    assert all("client_secret" not in c for c in data["clients"])
    path = tmp_path / "realm.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with app.app_context():
        before = {c.client_id: c.secret_hash for c in db.session.scalars(db.select(Client))}
    again = run(runner, "realms", "import", str(path), "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["generated_client_secrets"] == {}
    with app.app_context():
        after = {c.client_id: c.secret_hash for c in db.session.scalars(db.select(Client))}
    assert before == after
    assert json.loads(run(runner, "realms", "export", REALM).output) == data


def test_realm_import_updates_and_rejects_bad_files(app, runner, tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"realm": REALM, "display_name": "Paris IDF"}), encoding="utf-8")
    assert run(runner, "realms", "import", str(path)).exit_code == 0
    listed = json.loads(run(runner, "realms", "list", "--json").output)
    assert listed == [{"realm": REALM, "display_name": "Paris IDF", "enabled": True}]
    path.write_text("{not json", encoding="utf-8")
    bad = run(runner, "realms", "import", str(path))
    assert bad.exit_code != 0 and "invalid realm file" in bad.output
    path.write_text(json.dumps({"realm": "x", "clients": [
        {"client_id": "c", "token_endpoint_auth_method": "magic"}]}), encoding="utf-8")
    bad = run(runner, "realms", "import", str(path))
    assert bad.exit_code != 0 and "token_endpoint_auth_method" in bad.output


def test_client_lifecycle(app, runner, client):
    created = run(runner, "clients", "create", "--realm", REALM, "--client-id", "agency-app",
                  "--redirect-uri", "https://agency.example/cb", "--grant-type",
                  "client_credentials", "--json")
    assert created.exit_code == 0, created.output
    secret = json.loads(created.output)["client_secret"]
    assert len(secret) >= 43
    dup = run(runner, "clients", "create", "--realm", REALM, "--client-id", "agency-app")
    assert dup.exit_code != 0
    ok = client.post(TOKEN, data={"grant_type": "client_credentials"},
                     headers=basic("agency-app", secret))
    assert ok.status_code == 200
    rotated = json.loads(run(runner, "clients", "rotate-secret", "--realm", REALM, "agency-app",
                             "--json").output)["client_secret"]
    assert rotated != secret
    old = client.post(TOKEN, data={"grant_type": "client_credentials"},
                      headers=basic("agency-app", secret))
    assert old.status_code == 401
    new = client.post(TOKEN, data={"grant_type": "client_credentials"},
                      headers=basic("agency-app", rotated))
    assert new.status_code == 200
    shown = json.loads(run(runner, "clients", "show", "--realm", REALM, "agency-app").output)
    assert shown["redirect_uris"] == ["https://agency.example/cb"]
    assert "client_secret" not in shown and "secret_hash" not in shown
    assert run(runner, "clients", "delete", "--realm", REALM, "agency-app").exit_code == 0
    gone = client.post(TOKEN, data={"grant_type": "client_credentials"},
                       headers=basic("agency-app", rotated))
    assert gone.status_code == 401
    with app.app_context():
        events = {e.event for e in db.session.scalars(db.select(AuditEvent))}
    assert {"admin_client_created", "admin_client_secret_rotated", "admin_client_deleted"} <= events


def test_unknown_realm_is_a_clear_error(runner):
    result = run(runner, "clients", "list", "--realm", "nope")
    assert result.exit_code != 0 and "unknown realm" in result.output


def test_customers_create_states(runner, app):
    from idp.core.models import Customer

    active = run(runner, "customers", "create", "--realm", REALM, "--identifier", "A1",
                 "--email", "a@example.test", "--email-verified", "--password", "Aa-123456!")
    assert active.exit_code == 0 and "active" in active.output
    pending = run(runner, "customers", "create", "--realm", REALM, "--identifier", "A2",
                  "--temporary-password", "123456")
    assert pending.exit_code == 0
    bad = run(runner, "customers", "create", "--realm", REALM, "--identifier", "A3",
              "--temporary-password", "12ab")
    assert bad.exit_code != 0
    with app.app_context():
        a1 = db.session.execute(db.select(Customer).filter_by(identifier="A1")).scalar_one()
        a2 = db.session.execute(db.select(Customer).filter_by(identifier="A2")).scalar_one()
        assert a1.required_actions == [] and a1.password_hash.startswith("$argon2id$")
        assert set(a2.required_actions) == {"SET_EMAIL", "VERIFY_EMAIL", "UPDATE_PASSWORD"}
