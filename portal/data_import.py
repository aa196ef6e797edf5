"""``portal data import FILE``: load customers' data from the documented JSON layout.

Why JSON with line numbers: the file is written by people exporting from the manager's
back-office; an error must point at the line to fix. The standard ``json`` parser does not
keep positions, so objects are decoded with the pure-Python scanner and tagged with the line
where they start. Every bad record is reported (line, path, message) and skipped; the rest
is imported. Records are matched on ``ref`` (agencies on ``code``) so a second run of the
same file changes nothing.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from json import decoder as json_decoder
from json import scanner as json_scanner
from typing import Any

from sqlalchemy import select

from .extensions import db
from .models import (
    Agency,
    Contact,
    Customer,
    Document,
    Intervention,
    LedgerEntry,
    Property,
    SavedSearch,
)
from .money import parse_amount


class LinedDict(dict):
    """A JSON object that remembers the line it starts on."""

    line: int = 0


def load_with_lines(text: str) -> Any:
    """Parse JSON, returning ``LinedDict`` objects that know their line number."""
    newlines = [i for i, ch in enumerate(text) if ch == "\n"]

    class _Decoder(json.JSONDecoder):
        def __init__(self) -> None:
            super().__init__()

            def parse_object(s_and_end: tuple[str, int], *args: Any) -> tuple[Any, int]:
                start = s_and_end[1]
                obj, end = json_decoder.JSONObject(s_and_end, *args)
                lined = LinedDict(obj)
                lined.line = bisect.bisect_left(newlines, start) + 1
                return lined, end

            self.parse_object = parse_object  # type: ignore[assignment]
            self.scan_once = json_scanner.py_make_scanner(self)

    return json.loads(text, cls=_Decoder)


class RecordError(ValueError):
    """A record cannot be imported; the message names the field."""


@dataclass
class ImportReport:
    """What an import did: counts per kind and action, and every error with its line."""

    counts: Counter = field(default_factory=Counter)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def count(self, kind: str, action: str) -> None:
        """Record one created/updated/unchanged record of ``kind``."""
        self.counts[f"{kind}.{action}"] += 1

    def error(self, line: int, path: str, message: str) -> None:
        """Record one rejected record."""
        self.errors.append({"line": line, "record": path, "message": message})

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` summary."""
        summary: dict[str, dict[str, int]] = {}
        for key, value in sorted(self.counts.items()):
            kind, action = key.split(".")
            summary.setdefault(kind, {"created": 0, "updated": 0, "unchanged": 0})[action] = value
        return {"imported": summary, "errors": self.errors, "ok": not self.errors}


# -- field readers ---------------------------------------------------------------------------
def _text(rec: dict, key: str, *, required: bool = True, max_len: int = 300) -> str:
    value = rec.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RecordError(f"'{key}' is required")
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise RecordError(f"'{key}' must be a string")
    text = str(value).strip()
    if len(text) > max_len:
        raise RecordError(f"'{key}' is longer than {max_len} characters")
    return text


def _date(rec: dict, key: str, *, required: bool = True) -> dt.date | None:
    value = rec.get(key)
    if value in (None, ""):
        if required:
            raise RecordError(f"'{key}' is required")
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise RecordError(f"'{key}' must be a date YYYY-MM-DD, got {value!r}") from exc


def _amount(rec: dict, key: str) -> int:
    if rec.get(key) in (None, ""):
        return 0
    try:
        return parse_amount(rec[key])
    except ValueError as exc:
        raise RecordError(f"'{key}': {exc}") from exc


def _choice(rec: dict, key: str, choices: tuple[str, ...]) -> str:
    value = _text(rec, key)
    if value not in choices:
        raise RecordError(f"'{key}' must be one of {', '.join(choices)}, got {value!r}")
    return value


def _optional_int(rec: dict, key: str) -> int | None:
    value = rec.get(key)
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RecordError(f"'{key}' must be a positive integer")
    return value


# -- one reader per record kind: returns the model's column values -----------------------------
def _property(rec: dict) -> dict[str, Any]:
    return {
        "label": _text(rec, "label"), "kind": _text(rec, "kind", required=False),
        "address": _text(rec, "address"), "postal_code": _text(rec, "postal_code", required=False),
        "city": _text(rec, "city", required=False),
        "role": _choice(rec, "role", ("owner", "tenant")),
    }


def _ledger(rec: dict) -> dict[str, Any]:
    values = {
        "date": _date(rec, "date"), "label": _text(rec, "label"),
        "debit_cents": _amount(rec, "debit"), "credit_cents": _amount(rec, "credit"),
        "property_ref": _text(rec, "property", required=False, max_len=64),
    }
    if bool(values["debit_cents"]) == bool(values["credit_cents"]):
        raise RecordError("exactly one of 'debit' and 'credit' must be a non-zero amount")
    return values


def _intervention(rec: dict) -> dict[str, Any]:
    values = {
        "title": _text(rec, "title"), "description": _text(rec, "description", required=False,
                                                           max_len=5000),
        "status": _choice(rec, "status", ("en_cours", "terminee")),
        "opened_on": _date(rec, "opened_on"), "closed_on": _date(rec, "closed_on", required=False),
        "provider": _text(rec, "provider", required=False),
        "property_ref": _text(rec, "property", required=False, max_len=64),
    }
    if values["status"] == "terminee" and values["closed_on"] is None:
        raise RecordError("'closed_on' is required when status is terminee")
    return values


def _document(rec: dict) -> dict[str, Any]:
    content = rec.get("content_text")
    if not isinstance(content, str):
        raise RecordError("'content_text' is required (the document's text)")
    return {
        "title": _text(rec, "title"), "category": _text(rec, "category", required=False),
        "date": _date(rec, "date"), "filename": _text(rec, "filename", max_len=200),
        "content_type": _text(rec, "content_type", required=False) or "text/plain; charset=utf-8",
        "content": content.encode("utf-8"),
    }


def _contact(rec: dict) -> dict[str, Any]:
    return {
        "name": _text(rec, "name"), "role": _text(rec, "role", required=False),
        "phone": _text(rec, "phone", required=False), "email": _text(rec, "email", required=False),
    }


def _search(rec: dict) -> dict[str, Any]:
    budget = rec.get("budget_max")
    return {
        "label": _text(rec, "label"),
        "transaction": _choice(rec, "transaction", ("location", "achat")),
        "city": _text(rec, "city"),
        "budget_max_cents": parse_amount(budget) if budget not in (None, "") else None,
        "rooms_min": _optional_int(rec, "rooms_min"),
    }


SECTIONS = (
    ("properties", Property, _property),
    ("ledger", LedgerEntry, _ledger),
    ("interventions", Intervention, _intervention),
    ("documents", Document, _document),
    ("contacts", Contact, _contact),
    ("saved_searches", SavedSearch, _search),
)


def _upsert(obj: Any, values: dict[str, Any]) -> bool:
    """Set changed attributes; return whether anything changed."""
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def _line(rec: Any) -> int:
    return getattr(rec, "line", 0)


def import_data(text: str) -> ImportReport:
    """Import a whole file; bad records are reported and skipped, the rest committed."""
    report = ImportReport()
    try:
        document = load_with_lines(text)
    except json.JSONDecodeError as exc:
        report.error(exc.lineno, "", f"invalid JSON: {exc.msg}")
        return report
    if not isinstance(document, dict):
        report.error(1, "", "the file must contain a JSON object")
        return report
    if document.get("version", 1) != 1:
        report.error(_line(document), "version", "unsupported version (expected 1)")
        return report
    agencies = _import_agencies(document.get("agencies") or [], report)
    default_issuer = document.get("issuer")
    customers = document.get("customers") or []
    if not isinstance(customers, list):
        report.error(_line(document), "customers", "'customers' must be a list")
        customers = []
    seen: set[tuple[str, str]] = set()
    for index, rec in enumerate(customers):
        path = f"customers[{index}]"
        if not isinstance(rec, dict):
            report.error(_line(document), path, "a customer must be an object")
            continue
        try:
            issuer = _text({"issuer": rec.get("issuer", default_issuer)}, "issuer").rstrip("/")
            customer_id = _text(rec, "customer_id", max_len=64)
            agency_code = _text(rec, "agency", required=False, max_len=64)
            if agency_code and agency_code not in agencies:
                raise RecordError(f"unknown agency {agency_code!r}")
            if (issuer, customer_id) in seen:
                raise RecordError(f"customer {customer_id} appears twice")
        except RecordError as exc:
            report.error(_line(rec), path, str(exc))
            continue
        seen.add((issuer, customer_id))
        customer = Customer.find(issuer, customer_id)
        values = {"display_name": _text(rec, "display_name", required=False),
                  "agency_id": agencies[agency_code].id if agency_code else None}
        if customer is None:
            customer = Customer(issuer=issuer, customer_id=customer_id, **values)
            db.session.add(customer)
            db.session.flush()
            report.count("customers", "created")
        else:
            report.count("customers", "updated" if _upsert(customer, values) else "unchanged")
        for section, model, reader in SECTIONS:
            _import_section(customer, rec.get(section) or [], f"{path}.{section}", section,
                            model, reader, report)
    db.session.commit()
    return report


def _import_agencies(items: Any, report: ImportReport) -> dict[str, Agency]:
    agencies = {a.code: a for a in db.session.scalars(select(Agency))}
    if not isinstance(items, list):
        report.error(0, "agencies", "'agencies' must be a list")
        return agencies
    for index, rec in enumerate(items):
        path = f"agencies[{index}]"
        try:
            if not isinstance(rec, dict):
                raise RecordError("an agency must be an object")
            code = _text(rec, "code", max_len=64)
            hours = rec.get("hours") or []
            if not isinstance(hours, list) or not all(isinstance(h, str) for h in hours):
                raise RecordError("'hours' must be a list of strings")
            manager = rec.get("manager") or {}
            if not isinstance(manager, dict):
                raise RecordError("'manager' must be an object")
            values = {
                "name": _text(rec, "name"), "address": _text(rec, "address"),
                "postal_code": _text(rec, "postal_code", required=False),
                "city": _text(rec, "city", required=False),
                "phone": _text(rec, "phone", required=False),
                "email": _text(rec, "email", required=False), "hours": hours,
                "manager_name": _text(manager, "name", required=False),
                "manager_phone": _text(manager, "phone", required=False),
                "manager_email": _text(manager, "email", required=False),
            }
        except RecordError as exc:
            report.error(_line(rec), path, str(exc))
            continue
        agency = agencies.get(code)
        if agency is None:
            agencies[code] = Agency(code=code, **values)
            db.session.add(agencies[code])
            report.count("agencies", "created")
        else:
            report.count("agencies", "updated" if _upsert(agency, values) else "unchanged")
    db.session.flush()
    return agencies


def _import_section(
    customer: Customer, items: Any, path: str, kind: str, model: Any, reader: Any,
    report: ImportReport,
) -> None:
    if not isinstance(items, list):
        report.error(0, path, f"'{kind}' must be a list")
        return
    existing = {
        obj.ref: obj for obj in db.session.scalars(select(model).where(
            model.customer_pk == customer.id))
    }
    seen: set[str] = set()
    for index, rec in enumerate(items):
        record_path = f"{path}[{index}]"
        try:
            if not isinstance(rec, dict):
                raise RecordError("a record must be an object")
            ref = _text(rec, "ref", max_len=64)
            if ref in seen:
                raise RecordError(f"ref {ref!r} appears twice")
            values = reader(rec)
        except (RecordError, ValueError) as exc:
            report.error(_line(rec), record_path, str(exc))
            continue
        seen.add(ref)
        obj = existing.get(ref)
        if obj is None:
            db.session.add(model(customer_pk=customer.id, ref=ref, **values))
            report.count(kind, "created")
        else:
            report.count(kind, "updated" if _upsert(obj, values) else "unchanged")
