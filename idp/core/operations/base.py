"""The base of the permission-checked operations: their error, the audit actor, the realm.

Every operation takes the :class:`~idp.core.staff.Principal` first and checks it with
:func:`idp.core.staff.require` before reading or writing anything, so a realm-admin
cannot reach another realm whatever the web layer (console, admin API) or the CLI
forgets. It runs with the principal as the audit actor (:func:`acting`); the caller
commits.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from .. import audit
from ..realms import RealmInfo, find_realm
from ..staff import Action, PermissionDenied, Principal, require


class AdminError(ValueError):
    """A request the data refuses (``code`` stable, message in English for logs/API)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@contextmanager
def acting(principal: Principal) -> Iterator[None]:
    """Audit rows written inside carry the principal as actor (whatever the caller set)."""
    previous = audit.context.get()
    token = audit.context.set(audit.AuditContext(ip=previous.ip, actor=principal.actor))
    try:
        yield
    finally:
        audit.context.reset(token)


def realm_for(principal: Principal, slug: str, action: Action, staff_realm: str,
              now: float | None = None) -> RealmInfo:
    """The realm ``slug`` once the principal may do ``action`` on it (else
    PermissionDenied, also for a realm that does not exist: no oracle)."""
    require(principal, slug, action, now=now, staff_realm=staff_realm)
    info = find_realm(slug)
    if info is None:
        raise PermissionDenied(action, slug, "unknown_realm")
    return info


def system_principal(actor: str = "system:cli") -> Principal:
    """The platform operator at the ``idp`` command line: a super-admin whose second
    factor is the shell access itself (built per command, so always "fresh"). The
    commands call the same operations as the console and the API with it."""
    return Principal(actor=actor, super_admin=True, otp_at=int(time.time()))


def epoch_now() -> float:
    return time.time()
