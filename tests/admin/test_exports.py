"""The console's CSV exports go through the one CSV helper: streamed, formulas
neutralised (the same cells as the admin API and ``idp customers export``)."""

from __future__ import annotations

import csv
import io

import pytest

from idp.core import csv_export

from .conftest import OTHER

L = f"/admin/console/realms/{OTHER}"
FORMULAS = (
    "identifier,email,given_name,family_name,temporary_password\n"
    "-23,,=HYPERLINK(\"http://evil\"),@SUM(A1),111111\n"
    "300002,,Bea,-Tab,222222\n"
)


@pytest.mark.parametrize(("value", "cell"), [
    ("=1+2", "'=1+2"), ("+33 1", "'+33 1"), ("-2", "'-2"), ("@x", "'@x"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("Marie", "Marie"), ("a=b", "a=b"), ("", ""), (None, ""), (12, "12"),
])
def test_one_cell_rule(value, cell):
    assert csv_export.cell(value) == cell


def test_pending_and_audit_csv_are_streamed_and_neutralised(boss, runner, tmp_path):
    path = tmp_path / "formulas.csv"
    path.write_text(FORMULAS, encoding="utf-8")
    result = runner.invoke(args=["customers", "import", "--realm", OTHER, str(path)])
    assert result.exit_code == 0, result.output
    resp = boss.client.get(f"{L}/migration/pending.csv", buffered=False)
    assert resp.status_code == 200 and resp.is_streamed
    rows = {r["identifier"]: r for r in csv.DictReader(io.StringIO(resp.get_data(
        as_text=True)))}
    assert set(rows) == {"'-23", "300002"}
    assert (rows["'-23"]["given_name"], rows["'-23"]["family_name"]) == (
        "'=HYPERLINK(\"http://evil\")", "'@SUM(A1)")
    assert rows["300002"]["family_name"] == "'-Tab"
    boss.post(f"{L}/customers/-23/disable")
    audit = boss.client.get("/admin/console/audit.csv", buffered=False,
                            query_string={"customer": "-23"})
    assert audit.status_code == 200 and audit.is_streamed
    events = list(csv.DictReader(io.StringIO(audit.get_data(as_text=True))))
    assert events and {e["customer"] for e in events} == {"'-23"}


def test_cli_export_neutralises_formulas(runner, tmp_path, realms):
    path = tmp_path / "formulas.csv"
    path.write_text(FORMULAS, encoding="utf-8")
    assert runner.invoke(args=["customers", "import", "--realm", OTHER, str(path)]
                         ).exit_code == 0
    result = runner.invoke(args=["customers", "export", "--realm", OTHER])
    assert result.exit_code == 0, result.output
    rows = {r["identifier"]: r for r in csv.DictReader(io.StringIO(result.output))}
    assert rows["'-23"]["given_name"] == "'=HYPERLINK(\"http://evil\")"
    assert rows["300002"]["family_name"] == "'-Tab"
