"""One owner per way in: only its core module writes its rows.

- ``Passkey`` rows: :mod:`idp.core.passkeys`;
- ``FederatedIdentity`` rows (social links): :mod:`idp.core.linking`;
- the credential columns of ``Customer`` (password hash, legacy hash, temporary code,
  failure counters, locks): :mod:`idp.core.credentials` (the bulk import and the agency's
  customer creation call its helpers).

Read from the source with ``ast``: a write is a constructor call, an ``insert``/
``update``/``delete`` of the model, an assignment to one of the columns (attribute,
``setattr``), a column given as keyword (``.values(password_hash=…)``) or as a dict key
(rows for a bulk insert). Every module of ``idp`` is read, whatever its layer. Not seen:
``session.delete(row)`` of a row loaded elsewhere (the type is not in the source); the
owners' ``remove_*``/``unlink*`` functions are the only callers today.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "idp"

MODELS = {"Passkey": "idp/core/passkeys.py", "FederatedIdentity": "idp/core/linking.py"}
CREDENTIALS_OWNER = "idp/core/credentials.py"
COLUMNS = {"password_hash", "legacy_hash", "temporary_code_hash", "temporary_failures",
           "failed_attempts", "locked_permanently", "locked_until", "last_failure_at"}
#: The staff's second factor counts its own failures into the account's lock
#: (:mod:`idp.core.totp`, owned by the staff module): that one column, there only.
ALLOWED = {("idp/core/totp.py", "locked_until")}


def _modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "migrations" not in p.parts)


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def writes(path: Path, rel: str | None = None) -> list[tuple[int, str]]:
    """(line, what) for every write of an owned row or column in ``path`` (``rel``: its
    path in the repository, by default computed)."""
    rel = rel or path.relative_to(ROOT.parent).as_posix()
    found: list[tuple[int, str]] = []

    def column(line: int, name: str) -> None:
        if name in COLUMNS and rel != CREDENTIALS_OWNER and (rel, name) not in ALLOWED:
            found.append((line, f"Customer.{name}"))

    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            callee = _name(node.func)
            if callee in MODELS and MODELS[callee] != rel:
                found.append((node.lineno, f"{callee}(...)"))
            if callee in ("insert", "update", "delete") and node.args:
                model = _name(node.args[0])
                if model in MODELS and MODELS[model] != rel:
                    found.append((node.lineno, f"{callee}({model})"))
            if callee == "setattr" and len(node.args) >= 2 and isinstance(
                    node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
                column(node.lineno, node.args[1].value)
            for kw in node.keywords:
                if kw.arg:
                    column(node.lineno, kw.arg)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute):
                    column(node.lineno, target.attr)
        elif isinstance(node, ast.Dict):
            for key in node.keys:
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    column(node.lineno, key.value)
    return found


def test_the_scan_sees_every_kind_of_write(tmp_path):
    """The detector itself: each form of write is caught (else the test proves nothing)."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from sqlalchemy import insert, update\n"
        "def f(c, db, Passkey, FederatedIdentity, Customer):\n"
        "    db.session.add(Passkey(name='x'))\n"
        "    db.session.execute(insert(FederatedIdentity))\n"
        "    c.password_hash = 'h'\n"
        "    setattr(c, 'temporary_code_hash', 'h')\n"
        "    db.session.execute(update(Customer).values(legacy_hash=None))\n"
        "    return {'locked_permanently': False}\n", encoding="utf-8")
    what = sorted(w for _line, w in writes(sample, "idp/account/sample.py"))
    assert what == sorted(["Passkey(...)", "insert(FederatedIdentity)",
                           "Customer.password_hash", "Customer.temporary_code_hash",
                           "Customer.legacy_hash", "Customer.locked_permanently"])


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_only_the_owner_writes_ways_in(path):
    stray = writes(path)
    assert stray == [], (
        f"{path.relative_to(ROOT.parent)} writes rows or columns owned by another module "
        f"(passkeys.py, linking.py, credentials.py): {stray}")
