"""``/admin/realms/{realm}/customers``: search, read, create, import and the console's
actions on one customer, through :mod:`idp.core.operations` (the console's functions, behind
the same permission checks) and :mod:`idp.core.customers` (the CLI's)."""

from __future__ import annotations

import io
import json

from flask import Response, url_for

from ..core import consents, credentials
from ..core import customers as service
from ..core import operations as admin
from ..core.customer_import import ImportFileError, import_customers
from ..core.db import db
from ..core.models import Customer
from ..core.realms import RealmInfo, realm_row
from ..core.staff import Action
from ..web.context import app_settings
from . import schemas as s
from .problems import Problem
from .spec import Api, Context

BASE = "/realms/<realm>/customers"


def summary(c: Customer) -> s.CustomerSummary:
    return s.CustomerSummary(identifier=c.identifier, email=c.email,
                             email_verified=bool(c.email_verified), given_name=c.given_name,
                             family_name=c.family_name, status=service.status(c),
                             created_at=c.created_at)


def detail(ctx: Context, realm: RealmInfo, identifier: str) -> s.Customer:
    file = admin.customer_file(ctx.principal, realm, identifier)
    c = file.customer
    return s.Customer(
        **summary(c).model_dump(), enabled=c.enabled,
        required_actions=list(c.required_actions or []),
        locked=credentials.is_locked(c), activated_at=c.activated_at, updated_at=c.updated_at,
        linked_accounts=[s.LinkedAccount(provider=r.provider, email=r.email,
                                         linked_at=r.created_at) for r in file.identities],
        sessions=[s.OpenSession(id=r.id, created_at=r.created_at, last_seen=r.last_seen,
                                ip=r.ip) for r in file.sessions],
        last_sign_ins=[e.created_at for e in file.sign_ins],
        consents=[s.ConsentOut(client_id=v.client_id, client_name=v.client_name,
                               scopes=list(v.scopes), granted_at=v.granted_at)
                  for v in consents.list_for(c.id)],
    )


def register(api: Api) -> None:
    op = api.operation

    @op("GET", BASE, summary="Search customers", tag="customers",
        action=Action.CUSTOMERS_READ, query=s.CustomerQuery, response=s.CustomerPage)
    def search_customers(ctx: Context) -> s.CustomerPage:
        """Identifier, email, given or family name starting with ``q`` (case-insensitive
        for names and email), by identifier, ``per_page`` at a time."""
        q: s.CustomerQuery = ctx.query
        page = admin.search_customers(ctx.principal, ctx.realm_info(), q.q or "", q.page,
                                      q.per_page)
        return s.CustomerPage(items=[summary(c) for c in page.items], page=page.page,
                              has_next=page.has_next, total=page.total, capped=page.capped)

    @op("POST", BASE, summary="Create a customer", tag="customers",
        action=Action.CUSTOMERS_WRITE, body=s.CustomerCreate, response=s.Customer,
        status=201, errors=(409,))
    def create_customer(ctx: Context) -> tuple[s.Customer, dict[str, str]]:
        """Like ``idp customers create``: with a password and a verified email the customer
        is active at once; with a temporary code they owe the première connexion."""
        realm = ctx.realm_info()
        body: s.CustomerCreate = ctx.body
        with admin.acting(ctx.principal):
            customer = service.create(app_settings(), realm, service.NewCustomer(
                **body.model_dump()))
        db.session.commit()
        location = url_for("api.get_customer", realm=ctx.realm, identifier=customer.identifier)
        return detail(ctx, realm, customer.identifier), {"Location": location}

    @op("POST", f"{BASE}/import", summary="Import customers from CSV", tag="customers",
        action=Action.CUSTOMERS_WRITE, body_media="text/csv", response=s.ImportReport)
    def import_customers_csv(ctx: Context) -> s.ImportReport:
        """The CSV of ``idp customers import`` (UTF-8, a header line; columns identifier,
        email, given_name, family_name, temporary_password, legacy_password_hash).
        Idempotent; each refused row is reported with its line number (the header is
        line 1) and the other rows are imported."""
        realm = realm_row(ctx.realm_info())
        try:
            with admin.acting(ctx.principal):
                report = import_customers(app_settings(), realm, io.BytesIO(ctx.raw))
        except ImportFileError as exc:
            db.session.rollback()
            raise Problem("invalid", str(exc)) from None
        return s.ImportReport.model_validate(report.as_dict())

    @op("GET", f"{BASE}/<identifier>/export", summary="A customer's data (Mes données)",
        tag="customers", action=Action.CUSTOMERS_READ, response=s.PrivacyExport)
    def export_customer_data(ctx: Context, identifier: str) -> Response:
        """Everything the idp holds about the customer, the very document they download
        from Mon compte (a request by letter); audited as ``data_exported``. Erased
        accounts appear in ``GET /realms/{realm}/events?type=customer_deleted``."""
        doc = admin.export_customer(ctx.principal, ctx.realm_info(), identifier)
        db.session.commit()
        body = s.PrivacyExport.model_validate(doc).model_dump(mode="json")
        return Response(json.dumps(body, ensure_ascii=False), mimetype="application/json",
                        headers={"Cache-Control": "no-store"})

    @op("GET", f"{BASE}/<identifier>", summary="Read a customer", tag="customers",
        action=Action.CUSTOMERS_READ, response=s.Customer)
    def get_customer(ctx: Context, identifier: str) -> s.Customer:
        """Status, email, linked social accounts, open sessions, last sign-ins, consents."""
        return detail(ctx, ctx.realm_info(), identifier)

    @op("PATCH", f"{BASE}/<identifier>", summary="Update a customer", tag="customers",
        action=Action.CUSTOMERS_WRITE, body=s.CustomerUpdate, response=s.Customer,
        if_match=True)
    def update_customer(ctx: Context, identifier: str) -> s.Customer:
        """Set the email on the customer's behalf (a verification mail goes to it: the
        customer still verifies it) and/or disable (every session ends) or enable."""
        realm = ctx.realm_info()
        ctx.require_match(detail(ctx, realm, identifier))
        body: s.CustomerUpdate = ctx.body
        cfg = app_settings()
        if body.email is not None:
            admin.set_email(ctx.principal, cfg, realm, identifier, body.email)
        if body.enabled is not None:
            admin.set_enabled(ctx.principal, cfg, realm, identifier, body.enabled)
        db.session.commit()
        return detail(ctx, realm, identifier)

    @op("POST", f"{BASE}/<identifier>/send-verify-email", summary="Resend the verification "
        "mail", tag="customers", action=Action.CUSTOMERS_WRITE, response=s.MailQueued,
        status=202, errors=(409,))
    def send_verify_email(ctx: Context, identifier: str) -> s.MailQueued:
        """Queue a new verification mail (the customer never confirmed their address)."""
        outbox_id = admin.resend_verification(ctx.principal, app_settings(), ctx.realm_info(),
                                              identifier)
        db.session.commit()
        return s.MailQueued(outbox_id=outbox_id)

    @op("POST", f"{BASE}/<identifier>/temporary-code", summary="Issue a temporary code",
        tag="customers", action=Action.CUSTOMERS_WRITE, response=s.TemporaryCode)
    def issue_temporary_code(ctx: Context, identifier: str) -> s.TemporaryCode:
        """A new 6-digit code for the première connexion, returned once (to read out on
        the phone or print); the customer's sessions and sign-ins in progress end."""
        code = admin.issue_temporary_code(ctx.principal, app_settings(), ctx.realm_info(),
                                          identifier)
        db.session.commit()
        return s.TemporaryCode(identifier=identifier, temporary_code=code)

    @op("POST", f"{BASE}/<identifier>/unlock", summary="Unlock", tag="customers",
        action=Action.CUSTOMERS_WRITE, response=s.Customer)
    def unlock_customer(ctx: Context, identifier: str) -> s.Customer:
        """Lift a lockout (temporary or permanent) after too many failed attempts."""
        admin.unlock(ctx.principal, ctx.realm_info(), identifier)
        db.session.commit()
        return detail(ctx, ctx.realm_info(), identifier)

    @op("POST", f"{BASE}/<identifier>/logout", summary="End every session", tag="customers",
        action=Action.CUSTOMERS_WRITE, response=s.SessionsEnded)
    def end_customer_sessions(ctx: Context, identifier: str) -> s.SessionsEnded:
        """End every session (back-channel logout to the apps) and revoke every token."""
        ended = admin.end_sessions(ctx.principal, app_settings(), ctx.realm_info(), identifier)
        db.session.commit()
        return s.SessionsEnded(ended=ended)

    @op("DELETE", f"{BASE}/<identifier>/federated-identity/<provider>",
        summary="Unlink a social account", tag="customers", action=Action.CUSTOMERS_WRITE,
        status=204, errors=(409,))
    def unlink_provider(ctx: Context, identifier: str, provider: str) -> None:
        """Refused (409) when it is the customer's last way in (no password)."""
        try:
            admin.unlink(ctx.principal, ctx.realm_info(), identifier, provider)
        finally:
            db.session.commit()  # the unlink, or the refusal's audit event

    @op("DELETE", f"{BASE}/<identifier>/consents/<client_id>",
        summary="Withdraw a consent", tag="customers", action=Action.CUSTOMERS_WRITE,
        status=204)
    def revoke_consent(ctx: Context, identifier: str, client_id: str) -> None:
        """As the customer does in Mon compte: the app's tokens for them are revoked."""
        realm = ctx.realm_info()
        customer = admin.customer(ctx.principal, realm, identifier, write=True)
        with admin.acting(ctx.principal):
            done = consents.revoke(realm.id, customer.id, client_id, by="admin")
        if not done:
            raise Problem("not_found", "No such consent")
        db.session.commit()
