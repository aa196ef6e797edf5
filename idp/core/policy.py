"""The realm password policy: each unmet rule is named, so the form can say which.

Rules follow Keycloak's names (length, upperCase, digits, specialChars, notUsername,
notEmail). The core returns rule codes; the web layer words them in the customer's
language.
"""

from __future__ import annotations

from dataclasses import dataclass

from .credentials import verify_temporary_code
from .models import Customer
from .settings import PasswordPolicy


@dataclass(frozen=True)
class Violation:
    """One broken rule: ``code`` (min_length, uppercase, digits, special, identifier,
    email, temporary_code) and the number the rule asks for, when it has one."""

    code: str
    num: int = 0


def violations(password: str, policy: PasswordPolicy, *, identifier: str | None = None,
               email: str | None = None) -> list[Violation]:
    """Every rule ``password`` breaks (empty list: acceptable)."""
    problems: list[Violation] = []
    if len(password) < policy.min_length:
        problems.append(Violation("min_length", policy.min_length))
    if sum(c.isupper() for c in password) < policy.uppercase:
        problems.append(Violation("uppercase", policy.uppercase))
    if sum(c.isdigit() for c in password) < policy.digits:
        problems.append(Violation("digits", policy.digits))
    if sum(not c.isalnum() and not c.isspace() for c in password) < policy.special:
        problems.append(Violation("special", policy.special))
    lowered = password.strip().lower()
    if policy.not_identifier and identifier and lowered == identifier.strip().lower():
        problems.append(Violation("identifier"))
    if policy.not_email and email and lowered == email.strip().lower():
        problems.append(Violation("email"))
    return problems


def new_password_problems(code_key: bytes, password: str, customer: Customer,
                          policy: PasswordPolicy, email: str | None = None) -> list[Violation]:
    """The policy's verdict plus "not the temporary code" for the customer's new password."""
    problems = violations(password, policy, identifier=customer.identifier,
                          email=email or customer.email)
    if customer.temporary_code_hash and verify_temporary_code(
            code_key, customer.temporary_code_hash, password):
        problems.append(Violation("temporary_code"))
    return problems
