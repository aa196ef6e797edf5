"""One source of truth for settings (issue 19): every config key the idp reads is an
AppSettings field (default and doc in idp/core/settings.py) or one of Flask's and its
extensions' documented keys; every AppSettings field is read somewhere."""

from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

from idp import DEFAULTS
from idp.core.settings import FLASK_KEYS, AppSettings

ROOT = Path(__file__).resolve().parents[2]
DECLARED = {f.name.upper() for f in fields(AppSettings)}


def _sources(package: str) -> list[tuple[Path, ast.AST]]:
    return [(p, ast.parse(p.read_text(encoding="utf-8")))
            for p in sorted((ROOT / package).rglob("*.py")) if "migrations" not in p.parts]


def _is_config(node: ast.AST) -> bool:
    """``app.config``, ``current_app.config``, ``self.config``… or a bare ``config``."""
    return ((isinstance(node, ast.Attribute) and node.attr == "config")
            or (isinstance(node, ast.Name) and node.id == "config"))


def config_reads(package: str) -> dict[str, set[str]]:
    """Config keys read as ``X.config["K"]`` or ``X.config.get("K")``, with where."""
    found: dict[str, set[str]] = {}
    for path, tree in _sources(package):
        for node in ast.walk(tree):
            key = None
            if (isinstance(node, ast.Subscript) and _is_config(node.value)
                    and isinstance(node.slice, ast.Constant)):
                key = node.slice.value
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in ("get", "setdefault") and _is_config(node.func.value)
                  and node.args and isinstance(node.args[0], ast.Constant)):
                key = node.args[0].value
            if isinstance(key, str):
                found.setdefault(key, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_config_key_read_is_declared():
    undeclared = {k: sorted(w) for k, w in config_reads("idp").items()
                  if k not in DECLARED | FLASK_KEYS}
    assert undeclared == {}


def test_the_flask_defaults_hold_no_key_of_the_idp_own():
    assert set(DEFAULTS) - FLASK_KEYS == set()
    assert set(DEFAULTS) & DECLARED == set()


def test_every_setting_has_a_doc_and_is_read():
    read_as_attribute = set()
    for _path, tree in _sources("idp"):  # fields are annotations: attributes are reads
        read_as_attribute |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    shared_reads = set(config_reads("shared"))  # code shared with the portal reads config
    unread = [f.name for f in fields(AppSettings)
              if f.name not in read_as_attribute and f.name.upper() not in shared_reads]
    assert unread == []
    assert [f.name for f in fields(AppSettings) if not f.metadata.get("doc")] == []
