"""Email addresses as customers type them: validated with ``email-validator``, which knows
internationalised addresses (``élodie@exemple.fr``, IDNA domains) and says why one
cannot be used. Used everywhere an address is entered: forms, import, CLI, admin."""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email


@dataclass(frozen=True)
class EmailCheck:
    """``normalized`` when usable, else ``reason`` (a code the web layer words)."""

    normalized: str | None
    reason: str | None = None
    detail: str | None = None


def check(value: str | None) -> EmailCheck:
    """Syntax and domain shape only (no DNS: the verification mail is the real check;
    the reserved ``.test`` domain is accepted for demos)."""
    value = (value or "").strip()
    if not value:
        return EmailCheck(None, "empty")
    if len(value) > 320:
        return EmailCheck(None, "too_long")
    try:
        result = validate_email(value, check_deliverability=False,
                                allow_smtputf8=True, allow_quoted_local=False,
                                test_environment=True)  # *.test: demo and tests
    except EmailNotValidError as exc:
        return EmailCheck(None, "invalid", str(exc))
    return EmailCheck(result.normalized)


def valid_email(value: str | None) -> bool:
    return check(value).normalized is not None
