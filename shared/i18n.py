"""Locale selection shared by both apps: French first, English second."""

from __future__ import annotations

from flask import request, session

SUPPORTED_LOCALES = ("fr", "en")
DEFAULT_LOCALE = "fr"


def pick_locale(ui_locales: str | None = None) -> str:
    """Choose the locale: explicit ``ui_locales``, the session's choice, then Accept-Language."""
    candidates = (ui_locales or request.args.get("ui_locales") or "").split()
    for tag in candidates:
        lang = tag.split("-")[0].lower()
        if lang in SUPPORTED_LOCALES:
            session["locale"] = lang
            return lang
    chosen = session.get("locale")
    if chosen in SUPPORTED_LOCALES:
        return chosen
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or DEFAULT_LOCALE
