"""Migration import of customers from CSV (README, Administration), streaming and idempotent.

Rows are read one at a time and written in batches (one SELECT of the batch's
identifiers, one bulk write, one commit), so memory stays flat in the file size except
for the set of identifiers seen (to report duplicates). A row never touches a customer
who has activated (chosen a password or finished the première connexion), and never
overwrites a verified email.

Linear at a million rows: on PostgreSQL the lookup is ``identifier = ANY(array)`` (one
parameter, so even the generic plan of a prepared statement walks the unique index; an
``IN ($2 … $2001)`` generic plan made while the table was small scans the whole realm),
and new rows go in through ``COPY`` (psycopg 3 ``cursor.copy``), several times cheaper
than an INSERT per row. SQLite keeps its batched ``IN`` + bulk INSERT. Every batch is
committed, so an interrupted import is resumed by running it again: rows already in come
back as "unchanged", none twice (the unique constraint guards it anyway).
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import String as SAString

from . import actions, audit, cache, credentials
from .credentials import legacy_format, verify_temporary_code
from .db import db
from .emails import check as check_email
from .models import Customer, Realm, random_id, utcnow
from .settings import AppSettings

COLUMNS = ("identifier", "email", "given_name", "family_name", "temporary_password",
           "legacy_password_hash")
BATCH = 2000  # SQLite, and the export's page size
PG_BATCH = 10_000  # PostgreSQL: one lookup + one COPY per batch
COPY_COLUMNS = ("realm_id", "sub", "identifier", "email", "email_normalized",
                "email_verified", "given_name", "family_name", "temporary_code_hash",
                "legacy_hash", "required_actions", "enabled", "failed_attempts",
                "temporary_failures", "locked_permanently", "credential_version",
                "created_at", "updated_at")
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


# An ASCII dot-atom local part (RFC 5322 atext): email-validator accepts it as it is, so
# whether such an address is valid, and its normalised form, depend on the domain only.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_LOCAL = re.compile(rf"^{_ATEXT}(?:\.{_ATEXT})*$")
_DOMAINS: dict[str, str | None] = {}  # domain as typed → normalised domain, None: refused


def _normalized_email(email: str) -> str | None:
    """email-validator's verdict (idp.core.emails.check), its domain part remembered.

    Why: at a million rows the full check is most of the import's time, while the rows
    share a few hundred domains. An address whose local part is a plain ASCII dot-atom is
    decided by its domain; any other address takes the full check."""
    local, at, domain = email.rpartition("@")
    if not at or len(local) > 64 or not _PLAIN_LOCAL.match(local):
        return check_email(email).normalized
    if domain not in _DOMAINS:
        if len(_DOMAINS) > 10_000:
            _DOMAINS.clear()
        checked = check_email("x@" + domain).normalized
        _DOMAINS[domain] = checked.partition("@")[2] if checked else None
    normal = _DOMAINS[domain]
    if normal is None or len(local) + 1 + len(normal) > 254:
        return check_email(email).normalized
    return f"{local}@{normal}"


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
        normalized = _normalized_email(email)
        if normalized is None:
            checked = check_email(email)
            return f"malformed email: {email} ({checked.detail or checked.reason})"
        email = normalized
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


BatchDone = Callable[[int, float], None]
"""Called after each committed batch with its row count and seconds (the bench's rate)."""


def import_customers(cfg: AppSettings, realm: Realm, stream: IO[bytes],
                     progress: Callable[[int], None] | None = None,
                     on_batch: BatchDone | None = None) -> Report:
    report = Report()
    seen: set[str] = set()
    batch: list[Row] = []
    key = cfg.code_key
    postgres = db.session.get_bind().dialect.name == "postgresql"
    size = PG_BATCH if postgres else BATCH
    started = time.perf_counter()

    def flush() -> None:
        nonlocal started
        (_write_pg if postgres else _write)(realm, batch, report, key)
        if on_batch is not None:
            now = time.perf_counter()
            on_batch(len(batch), now - started)
            started = now

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
        if len(batch) >= size:
            flush()
            batch = []
    if batch:
        flush()
    audit.record("admin_customers_imported", realm_id=realm.id,
                 **{k: v for k, v in report.as_dict().items() if k != "errors"})
    db.session.commit()
    cache.invalidate("legacy_present", realm.id)  # sign-ins pay the legacy slot again
    return report


def _sort(realm: Realm, batch: list[Row], existing: dict[str, Customer], report: Report,
          key: bytes) -> list[dict[str, Any]]:
    """Apply the rules to each row of a batch: the new customers' rows are returned,
    existing ones are updated in the session (or kept, if they have activated)."""
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
    return inserts


def _write(realm: Realm, batch: list[Row], report: Report, key: bytes) -> None:
    existing = {
        c.identifier: c
        for c in db.session.execute(
            db.select(Customer).filter(Customer.realm_id == realm.id,
                                       Customer.identifier.in_([r.identifier for r in batch]))
        ).scalars()
    }
    inserts = _sort(realm, batch, existing, report, key)
    if inserts:
        db.session.execute(db.insert(Customer), inserts)
    db.session.commit()


_ANY_IDENTIFIER = bindparam("identifiers", type_=ARRAY(SAString()))


def _write_pg(realm: Realm, batch: list[Row], report: Report, key: bytes) -> None:
    """PostgreSQL: ``= ANY(array)`` lookup on the unique index, ``COPY`` of the new rows."""
    existing = {
        c.identifier: c
        for c in db.session.execute(
            db.select(Customer).filter(Customer.realm_id == realm.id,
                                       Customer.identifier == db.func.any(_ANY_IDENTIFIER)),
            {"identifiers": [r.identifier for r in batch]},
        ).scalars()
    }
    inserts = _sort(realm, batch, existing, report, key)
    db.session.flush()  # the updates, before the COPY on the same connection
    if inserts:
        raw = db.session.connection().connection.driver_connection
        with raw.cursor() as cur, cur.copy(
                f"COPY customer ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
            for values in inserts:
                # JSON column: its text; the rest as psycopg adapts them
                values["required_actions"] = json.dumps(values["required_actions"])
                copy.write_row([values[c] for c in COPY_COLUMNS])
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
