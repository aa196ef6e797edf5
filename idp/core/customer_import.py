"""Migration import of customers from CSV (docs/admin.md), streaming and idempotent.

Rows are read one at a time and written in batches of ``BATCH`` (one SELECT of the
batch's identifiers, one bulk INSERT), so memory stays flat in the file size except for
the set of identifiers seen (to report duplicates). A row never touches a customer who
has activated (chosen a password or finished the première connexion), and never
overwrites a verified email.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from . import actions, audit, cache, credentials
from .credentials import legacy_format, verify_temporary_code
from .db import db
from .emails import check as check_email
from .models import Customer, Realm, random_id, utcnow
from .settings import AppSettings

COLUMNS = ("identifier", "email", "given_name", "family_name", "temporary_password",
           "legacy_password_hash")
BATCH = 2000
IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


@dataclass
class Report:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_active: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return (self.created + self.updated + self.unchanged + self.skipped_active
                + len(self.errors))

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "skipped_active": self.skipped_active,
                "failed": len(self.errors), "errors": self.errors}


class ImportFileError(ValueError):
    """The file as a whole cannot be read (no header, no identifier column, not UTF-8)."""


@dataclass
class Row:
    line: int
    identifier: str
    email: str | None
    given_name: str | None
    family_name: str | None
    code: str | None
    legacy: str | None


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def check_row(line: int, raw: dict[str, str | None]) -> Row | str:
    """A valid Row, or the reason (in English, for agency staff and logs) it is refused."""
    if None in raw:
        return "too many fields"
    identifier = _clean(raw.get("identifier"))
    if not identifier:
        return "missing identifier"
    if not IDENTIFIER_RE.match(identifier):
        return "malformed identifier (letters, digits, . _ - ; 64 at most)"
    email = _clean(raw.get("email"))
    if email:
        checked = check_email(email)
        if checked.normalized is None:
            return f"malformed email: {email} ({checked.detail or checked.reason})"
        email = checked.normalized
    code = _clean(raw.get("temporary_password"))
    if code and not (len(code) == 6 and code.isdigit()):
        return "temporary_password must be 6 digits"
    legacy = _clean(raw.get("legacy_password_hash"))
    if legacy and legacy_format(legacy) is None:
        return "unknown legacy_password_hash format (bcrypt or pbkdf2_sha256 expected)"
    if code and legacy:
        return "give temporary_password or legacy_password_hash, not both"
    return Row(line, identifier, email, _clean(raw.get("given_name")),
               _clean(raw.get("family_name")), code, legacy)


def _pending(row: Row, email_verified: bool, has_email: bool) -> list[str]:
    """Every migrated customer owes the première connexion (verify the email at least)."""
    names: list[str] = []
    if not has_email:
        names.append(actions.SET_EMAIL)
    if not email_verified:
        names.append(actions.VERIFY_EMAIL)
    if row.code:
        names.append(actions.UPDATE_PASSWORD)
    return names


def read_rows(stream: IO[bytes], progress: Callable[[int], None] | None = None
              ) -> Iterator[tuple[int, Row | str]]:
    """(line number, Row or reason) for each data line; the header is line 1."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    try:
        header = reader.fieldnames
    except UnicodeDecodeError as exc:
        raise ImportFileError("the file is not UTF-8") from exc
    if not header or "identifier" not in [h.strip() for h in header]:
        raise ImportFileError("the header has no 'identifier' column")
    reader.fieldnames = [h.strip() for h in header]
    unknown = set(reader.fieldnames) - set(COLUMNS)
    if unknown:
        raise ImportFileError(f"unknown columns: {', '.join(sorted(unknown))}")
    last = 0
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            raise ImportFileError(f"the file is not UTF-8 after line {last}") from exc
        except csv.Error as exc:
            yield reader.line_num, f"unreadable CSV: {exc}"
            continue
        if progress is not None:
            pos = stream.tell() if stream.seekable() else 0
            progress(pos)
        last = reader.line_num
        if not any((v or "").strip() for v in raw.values() if isinstance(v, str)):
            continue  # blank line
        yield reader.line_num, check_row(reader.line_num, raw)


def import_customers(cfg: AppSettings, realm: Realm, stream: IO[bytes],
                     progress: Callable[[int], None] | None = None) -> Report:
    report = Report()
    seen: set[str] = set()
    batch: list[Row] = []
    key = cfg.code_key
    for line, item in read_rows(stream, progress):
        if isinstance(item, str):
            report.errors.append({"line": line, "reason": item})
            continue
        if item.identifier in seen:
            report.errors.append({"line": line, "identifier": item.identifier,
                                  "reason": "duplicate identifier in the file"})
            continue
        seen.add(item.identifier)
        batch.append(item)
        if len(batch) >= BATCH:
            _write(realm, batch, report, key)
            batch = []
    if batch:
        _write(realm, batch, report, key)
    audit.record("admin_customers_imported", realm_id=realm.id,
                 **{k: v for k, v in report.as_dict().items() if k != "errors"})
    db.session.commit()
    cache.invalidate("legacy_present", realm.id)  # sign-ins pay the legacy slot again
    return report


def _write(realm: Realm, batch: list[Row], report: Report, key: bytes) -> None:
    existing = {
        c.identifier: c
        for c in db.session.execute(
            db.select(Customer).filter(Customer.realm_id == realm.id,
                                       Customer.identifier.in_([r.identifier for r in batch]))
        ).scalars()
    }
    now = utcnow()
    inserts: list[dict[str, Any]] = []
    for row in batch:
        current = existing.get(row.identifier)
        if current is None:
            inserts.append(_new(realm, row, key, now))
            report.created += 1
        elif current.password_hash or current.activated_at:
            report.skipped_active += 1
        elif _update(current, row, key):
            report.updated += 1
        else:
            report.unchanged += 1
    if inserts:
        db.session.execute(db.insert(Customer), inserts)
    db.session.commit()


def _new(realm: Realm, row: Row, key: bytes, now: Any) -> dict[str, Any]:
    return {
        "realm_id": realm.id, "sub": random_id(), "identifier": row.identifier,
        "email": row.email, "email_normalized": row.email.lower() if row.email else None,
        "email_verified": False, "given_name": row.given_name, "family_name": row.family_name,
        "required_actions": _pending(row, False, bool(row.email)),
        "enabled": True, "created_at": now, "updated_at": now,
        **credentials.imported_columns(key, row.code, row.legacy),
    }


def _update(c: Customer, row: Row, key: bytes) -> bool:
    """Bring a not-yet-activated customer in line with the row; True if anything changed."""
    changed = False
    if row.email and not c.email_verified and (c.email_normalized or "") != row.email.lower():
        c.set_email(row.email, verified=False)
        changed = True
    for attr in ("given_name", "family_name"):
        value = getattr(row, attr)
        if value and getattr(c, attr) != value:
            setattr(c, attr, value)
            changed = True
    if row.code and not (c.temporary_code_hash
                         and verify_temporary_code(key, c.temporary_code_hash, row.code)):
        credentials.import_temporary_code(key, c, row.code)
        changed = True
    if row.legacy and c.legacy_hash != row.legacy:
        credentials.import_legacy_hash(c, row.legacy)
        changed = True
    wanted = _pending(row, c.email_verified, bool(c.email))
    if not row.code and not row.legacy and c.temporary_code_hash:
        wanted.append(actions.UPDATE_PASSWORD)
    if sorted(wanted) != sorted(c.required_actions or []):
        c.required_actions = wanted
        changed = True
    return changed


EXPORT_COLUMNS = ("identifier", "email", "email_verified", "given_name", "family_name",
                  "status", "required_actions")


def export_rows(realm: Realm) -> Iterator[dict[str, Any]]:
    """Customers without any secret, streamed by primary key."""
    last = 0
    while True:
        rows = db.session.execute(
            db.select(Customer).filter(Customer.realm_id == realm.id, Customer.id > last)
            .order_by(Customer.id).limit(BATCH)
        ).scalars().all()
        if not rows:
            return
        for c in rows:
            last = c.id
            status = ("locked" if c.locked_permanently else "disabled" if not c.enabled
                      else "pending" if c.required_actions else "active")
            yield {"identifier": c.identifier, "email": c.email or "",
                   "email_verified": str(bool(c.email_verified)).lower(),
                   "given_name": c.given_name or "", "family_name": c.family_name or "",
                   "status": status, "required_actions": " ".join(c.required_actions or [])}
        db.session.expunge_all()
