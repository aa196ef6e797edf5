"""``idp customers import / export / set-temporary-password / unlock``."""

from __future__ import annotations

import json

import bcrypt

from .conftest import REALM, make_customer
from .journey_helpers import customer_row, set_realm_settings, sign_in

BCRYPT = bcrypt.hashpw(b"Ancien-mdp1", bcrypt.gensalt(4)).decode()
GOOD = (
    "identifier,email,given_name,family_name,temporary_password,legacy_password_hash\n"
    "200001,anne@example.test,Anne,Durand,123456,\n"
    "200002,,Paul,Petit,654321,\n"
    f"200003,sophie@example.test,Sophie,Bernard,,{BCRYPT}\n"
)


def run_import(runner, tmp_path, text, *extra):
    path = tmp_path / "c.csv"
    path.write_text(text, encoding="utf-8")
    return runner.invoke(args=["customers", "import", "--realm", REALM, str(path), *extra])


def test_import_creates_with_pending_actions(app, runner, tmp_path):
    result = run_import(runner, tmp_path, GOOD, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["created"] == 3 and summary["failed"] == 0
    anne = customer_row(app, "200001")
    assert anne.required_actions == ["VERIFY_EMAIL", "UPDATE_PASSWORD"]
    assert anne.temporary_code_hash.startswith("hmac-sha256$") and not anne.email_verified
    assert customer_row(app, "200002").required_actions == [
        "SET_EMAIL", "VERIFY_EMAIL", "UPDATE_PASSWORD"]
    sophie = customer_row(app, "200003")
    assert sophie.legacy_hash == BCRYPT and sophie.required_actions == ["VERIFY_EMAIL"]


def test_import_is_idempotent(app, runner, tmp_path):
    run_import(runner, tmp_path, GOOD)
    result = run_import(runner, tmp_path, GOOD, "--json")
    summary = json.loads(result.output)
    assert summary["unchanged"] == 3 and summary["created"] == 0


def test_import_never_resets_an_active_customer(app, client, runner, tmp_path):
    make_customer(runner, identifier="200001", password="Choisi-2026!",
                  email="anne.new@example.test")
    result = run_import(runner, tmp_path, GOOD, "--json")
    assert json.loads(result.output)["skipped_active"] == 1
    anne = customer_row(app, "200001")
    assert anne.email == "anne.new@example.test" and anne.temporary_code_hash is None
    assert sign_in(client, "200001", "Choisi-2026!").headers["Location"].endswith("/account/")


def test_bad_rows_reported_with_line_numbers(app, runner, tmp_path):
    text = (
        "identifier,email,temporary_password,legacy_password_hash\n"
        ",x@example.test,123456,\n"          # 2 missing identifier
        "300001,not-an-email,123456,\n"      # 3
        "300002,,12345,\n"                   # 4
        "300003,,,md5$abc\n"                 # 5
        "300004,,111111,\n"                  # 6 good
        "300004,,222222,\n"                  # 7 duplicate
    )
    result = run_import(runner, tmp_path, text, "--json")
    assert result.exit_code == 1
    summary = json.loads(result.output)
    assert summary["created"] == 1
    lines = {e["line"]: e["reason"] for e in summary["errors"]}
    assert set(lines) == {2, 3, 4, 5, 7}
    assert "identifier" in lines[2] and "email" in lines[3] and "6 digits" in lines[4]
    assert "legacy" in lines[5] and "duplicate" in lines[7]


def test_import_text_summary_and_bad_header(runner, tmp_path):
    result = run_import(runner, tmp_path, "name,email\nx,y\n")
    assert result.exit_code != 0 and "identifier" in result.output
    result = run_import(runner, tmp_path, GOOD)
    assert "3 created" in result.output


def test_imported_temporary_code_signs_in(client, runner, tmp_path):
    run_import(runner, tmp_path, GOOD)
    assert sign_in(client, "200002", "654321").headers["Location"].endswith(
        "/login-actions/email")


def test_export_has_no_secret(runner, tmp_path):
    run_import(runner, tmp_path, GOOD)
    result = runner.invoke(args=["customers", "export", "--realm", REALM])
    assert result.exit_code == 0
    assert "200003,sophie@example.test,false,Sophie,Bernard,pending,VERIFY_EMAIL" in result.output
    assert "$2" not in result.output and "hmac" not in result.output


def test_set_temporary_password_and_unlock(app, client, runner):
    set_realm_settings(app, brute_force={"failure_factor": 100})  # no waits in between
    make_customer(runner, identifier="400001", password="Choisi-2026!")
    result = runner.invoke(args=["customers", "set-temporary-password", "--realm", REALM,
                                 "--identifier", "400001"])
    code = result.output.strip()
    assert result.exit_code == 0 and len(code) == 6 and code.isdigit()
    assert sign_in(client, "400001", "Choisi-2026!").status_code == 401
    for _ in range(10):
        sign_in(client, "400001", "000000" if code != "000000" else "111111")
    assert customer_row(app, "400001").locked_permanently
    assert sign_in(client, "400001", code).status_code == 401  # locked: same answer
    result = runner.invoke(args=["customers", "unlock", "--realm", REALM,
                                 "--identifier", "400001"])
    assert result.exit_code == 0
    resp = sign_in(app.test_client(), "400001", code)
    assert resp.headers["Location"].endswith("/login-actions/password")
