"""One shape for the one-shot messages a page shows after a redirect ("Un nouveau
courriel a été envoyé", "Votre compte X est associé"): ``{"kind", "text"}``."""

from __future__ import annotations

from typing import Any

from flask import session

KEY = "notice"


def push(kind: str, text: str) -> None:
    """``kind`` is ``ok`` or ``error`` (the page's colour and ARIA role)."""
    session[KEY] = {"kind": kind, "text": text}


def pop() -> dict[str, Any] | None:
    return session.pop(KEY, None)
