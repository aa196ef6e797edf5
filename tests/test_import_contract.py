"""The import contract names every core module below staff powers: a new rules module
left out of ``pyproject.toml`` could import the operations unnoticed."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ABOVE_THE_RULES = {"operations", "staff"}


def _core_modules() -> set[str]:
    found = set()
    for path in (ROOT / "idp" / "core").iterdir():
        if path.name.startswith("_") or path.stem in ABOVE_THE_RULES:
            continue
        if path.suffix == ".py" or (path / "__init__.py").exists():
            found.add(f"idp.core.{path.stem}")
    return found


def test_every_core_module_below_staff_is_in_the_contract() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    below = [c for c in contracts if c["type"] == "forbidden"
             and "idp.core.operations" in c.get("forbidden_modules", [])]
    assert len(below) == 1
    assert set(below[0]["source_modules"]) == _core_modules()
    assert set(below[0]["forbidden_modules"]) == {"idp.core.operations", "idp.core.staff"}
