"""One owner per rule: only the clients package writes a ``Client`` row.

Every entry point (console, admin API, Dynamic Client Registration, realm import, the
``idp clients`` commands) goes through :mod:`idp.core.operations.clients`,
:mod:`idp.core.registration` or :mod:`idp.core.realm_io`, which call
:mod:`idp.core.clients`' writers. This test reads the source (AST) of every idp module
and fails on a ``Client(...)`` construction, an assignment to ``.meta`` or
``.secret_hash`` of something that may be a client, or a ``db.session.delete`` of one,
anywhere else (migrations aside).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

IDP = Path(__file__).resolve().parents[2] / "idp"
OWNER = IDP / "core" / "clients"
#: Columns only the ``Client`` model has (checked below against the models).
CLIENT_COLUMNS = {"meta", "secret_hash"}
_CLIENT_WORD = re.compile(r"\bClient\b|_client\w*\(|\brow_of\(")


def _bound_to_clients(func: ast.AST) -> set[str]:
    """Names a function binds to a client row: from a query or getter naming ``Client``
    (``db.select(Client)``, ``db.session.get(Client, pk)``, ``_client_row(...)``)."""
    names = set()
    if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
        for arg in [*func.args.args, *func.args.kwonlyargs]:
            if arg.annotation is not None and _CLIENT_WORD.search(ast.unparse(arg.annotation)):
                names.add(arg.arg)
    for node in ast.walk(func):
        if isinstance(node, ast.Assign) and _CLIENT_WORD.search(ast.unparse(node.value)):
            for target in node.targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        names.add(name.id)
    return names


def violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    client_model = {alias.asname or alias.name for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) for alias in node.names
                    if alias.name == "Client"}
    found = []
    scopes = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    for scope in [tree, *scopes]:
        clients = _bound_to_clients(scope) if scope is not tree else set()
        body = scope.body
        for node in (n for stmt in body for n in ast.walk(stmt)):
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name) and func.id in client_model:
                    found.append((node.lineno, "constructs Client(...)"))
                if (isinstance(func, ast.Attribute) and func.attr == "delete" and node.args
                        and "session" in ast.unparse(func.value)):
                    arg = node.args[0]
                    text = ast.unparse(arg)
                    if (isinstance(arg, ast.Name) and arg.id in clients) or (
                            "client" in text.lower() and "consent" not in text.lower()):
                        found.append((node.lineno, "db.session.delete of a client"))
            targets = (node.targets if isinstance(node, ast.Assign) else
                       [node.target] if isinstance(node, ast.AugAssign | ast.AnnAssign)
                       else [])
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr in CLIENT_COLUMNS:
                    found.append((node.lineno, f"assigns .{target.attr}"))
    return [f"{path}:{line}: {what}" for line, what in sorted(set(found))]


def writers() -> dict[Path, list[str]]:
    result = {}
    for path in sorted(IDP.rglob("*.py")):
        if OWNER in path.parents or "migrations" in path.parts:
            continue
        found = violations(path)
        if found:
            result[path.relative_to(IDP.parent)] = found
    return result


def test_only_the_clients_package_writes_client_rows():
    assert writers() == {}


def test_only_the_client_model_has_those_columns():
    from idp.core import models

    owners = {mapper.class_.__name__ for mapper in models.db.Model.registry.mappers
              if CLIENT_COLUMNS & set(mapper.columns.keys())}
    assert owners == {"Client"}


def test_the_check_sees_a_write(tmp_path):
    """The detector itself: each kind of write is caught in a module outside the owner."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from ..models import Client\n"
        "def f(db, realm, pk, info):\n"
        "    db.session.add(Client(realm_id=realm.id, client_id='x', meta={}))\n"
        "    row = db.session.get(Client, pk)\n"
        "    row.secret_hash = None\n"
        "    info.meta = {}\n"
        "    db.session.delete(row)\n", encoding="utf-8")
    found = violations(sample)
    assert [f.split(": ", 1)[1] for f in found] == [
        "constructs Client(...)", "assigns .secret_hash", "assigns .meta",
        "db.session.delete of a client"]
