"""The realm password policy: each unmet rule is named, so the form can say which.

Rules follow Keycloak's names (length, upperCase, digits, specialChars, notUsername,
notEmail); the defaults come from ``realms.DEFAULT_SETTINGS["password_policy"]``.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext


def rules_text(policy: dict[str, Any]) -> list[str]:
    """The rules as shown above the form ("Au moins 8 caractères", ...)."""
    rules = [ngettext("Au moins %(num)d caractère", "Au moins %(num)d caractères",
                      policy["min_length"])]
    if policy.get("uppercase"):
        rules.append(ngettext("Au moins %(num)d majuscule", "Au moins %(num)d majuscules",
                              policy["uppercase"]))
    if policy.get("digits"):
        rules.append(ngettext("Au moins %(num)d chiffre", "Au moins %(num)d chiffres",
                              policy["digits"]))
    if policy.get("special"):
        rules.append(ngettext("Au moins %(num)d caractère spécial",
                              "Au moins %(num)d caractères spéciaux", policy["special"]))
    return rules


def violations(
    password: str,
    policy: dict[str, Any],
    *,
    identifier: str | None = None,
    email: str | None = None,
) -> list[str]:
    """Every rule ``password`` breaks, as a sentence (empty list: acceptable)."""
    problems: list[str] = []
    if len(password) < policy["min_length"]:
        problems.append(ngettext("Le mot de passe doit contenir au moins %(num)d caractère.",
                                 "Le mot de passe doit contenir au moins %(num)d caractères.",
                                 policy["min_length"]))
    if sum(c.isupper() for c in password) < policy.get("uppercase", 0):
        problems.append(ngettext("Le mot de passe doit contenir au moins %(num)d majuscule.",
                                 "Le mot de passe doit contenir au moins %(num)d majuscules.",
                                 policy["uppercase"]))
    if sum(c.isdigit() for c in password) < policy.get("digits", 0):
        problems.append(ngettext("Le mot de passe doit contenir au moins %(num)d chiffre.",
                                 "Le mot de passe doit contenir au moins %(num)d chiffres.",
                                 policy["digits"]))
    if sum(not c.isalnum() and not c.isspace() for c in password) < policy.get("special", 0):
        problems.append(ngettext(
            "Le mot de passe doit contenir au moins %(num)d caractère spécial.",
            "Le mot de passe doit contenir au moins %(num)d caractères spéciaux.",
            policy["special"]))
    lowered = password.strip().lower()
    if policy.get("not_identifier") and identifier and lowered == identifier.strip().lower():
        problems.append(str(_l("Le mot de passe ne doit pas être votre identifiant.")))
    if policy.get("not_email") and email and lowered == email.strip().lower():
        problems.append(str(_l("Le mot de passe ne doit pas être votre adresse email.")))
    return problems
