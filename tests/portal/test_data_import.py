"""``portal data import``: good file, bad records with line numbers, idempotence, CLI."""

from __future__ import annotations

import json

from portal.cli import data_cli
from portal.data_import import import_data, load_with_lines
from portal.extensions import db
from portal.models import Customer, LedgerEntry

from .conftest import DEMO_FILE

BAD = """{
  "version": 1,
  "issuer": "https://idp.example/realms/r",
  "agencies": [
    {"code": "a1", "name": "Agence", "address": "1 rue X"}
  ],
  "customers": [
    {"customer_id": "200001", "agency": "a1",
     "ledger": [
       {"ref": "E1", "date": "2025-01-01", "label": "Loyer", "debit": "100.00"},
       {"ref": "E2", "date": "2025-13-01", "label": "Bad date", "debit": "1"},
       {"ref": "E3", "date": "2025-01-02", "label": "Both", "debit": "1", "credit": "2"}
     ],
     "properties": [
       {"ref": "P1", "label": "Lot", "address": "1 rue Y", "role": "landlord"}
     ]},
    {"customer_id": "200002", "agency": "nowhere"}
  ]
}
"""


def test_line_numbers_of_objects():
    data = load_with_lines('{\n "a": [\n  {"b": 1},\n\n  {"c": 2}\n ]\n}')
    assert data.line == 1 and data["a"][0].line == 3 and data["a"][1].line == 5


def test_demo_file_imports_and_second_run_changes_nothing(app):
    with app.app_context():
        text = DEMO_FILE.read_text(encoding="utf-8")
        first = import_data(text).as_dict()
        # the fixture already imported it under the fake issuer: the demo issuer is new here
        assert first["ok"] and first["imported"]["customers"]["created"] == 3
        assert first["imported"]["ledger"]["created"] == 12
        second = import_data(text).as_dict()
        assert second["ok"]
        for kind, counts in second["imported"].items():
            assert counts["created"] == 0 and counts["updated"] == 0, kind
        marie = Customer.find("http://localhost:5100/realms/paris-ile-de-france", "100001")
        assert marie.balance_cents == 123456
        assert db.session.scalar(db.select(db.func.count()).select_from(LedgerEntry)) == 24


def test_changed_record_is_updated(app):
    with app.app_context():
        data = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
        import_data(json.dumps(data))
        data["customers"][0]["ledger"][0]["label"] = "Appel de fonds corrigé"
        report = import_data(json.dumps(data)).as_dict()
        assert report["imported"]["ledger"]["updated"] == 1
        assert report["imported"]["ledger"]["unchanged"] == 11


def test_bad_records_are_reported_with_line_numbers_and_the_rest_imported(app):
    with app.app_context():
        report = import_data(BAD).as_dict()
        errors = {(e["line"], e["record"]): e["message"] for e in report["errors"]}
        assert "must be a date" in errors[(11, "customers[0].ledger[1]")]
        assert "exactly one of" in errors[(12, "customers[0].ledger[2]")]
        assert "must be one of owner, tenant" in errors[(15, "customers[0].properties[0]")]
        assert "unknown agency" in errors[(17, "customers[1]")]
        assert len(report["errors"]) == 4 and not report["ok"]
        assert report["imported"]["ledger"]["created"] == 1
        customer = Customer.find("https://idp.example/realms/r", "200001")
        assert customer is not None and customer.balance_cents == -10000
        assert Customer.find("https://idp.example/realms/r", "200002") is None


def test_invalid_json_reports_its_line(app):
    with app.app_context():
        report = import_data('{\n  "customers": [\n    {,}\n  ]\n}').as_dict()
        assert report["errors"][0]["line"] == 3 and "invalid JSON" in report["errors"][0]["message"]


def test_cli_json_summary_and_exit_codes(app, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(data_cli, ["import", "--json", str(DEMO_FILE)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["imported"]["customers"]["created"] == 3
    bad = tmp_path / "bad.json"
    bad.write_text(BAD, encoding="utf-8")
    result = runner.invoke(data_cli, ["import", str(bad)])
    assert result.exit_code == 1
    assert "bad.json:11: customers[0].ledger[1]:" in result.output
