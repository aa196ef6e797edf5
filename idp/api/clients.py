"""``/admin/realms/{realm}/clients``: client applications (CRUD, secret rotation) through
:mod:`idp.core.operations`, and the initial access tokens of Dynamic Client Registration
(:mod:`idp.core.initial_tokens`)."""

from __future__ import annotations

import time
from typing import Any

from flask import url_for

from ..core import initial_tokens
from ..core import operations as admin
from ..core.db import db
from ..core.staff import Action, require
from ..web.context import app_settings
from . import schemas as s
from .problems import Problem
from .spec import Api, Context

BASE = "/realms/<realm>/clients"


def client_out(line: admin.ClientLine) -> s.ClientOut:
    return s.ClientOut.model_validate(line.meta)


def token_out(row: initial_tokens.InitialAccessToken) -> s.InitialToken:
    return s.InitialToken(id=row.id, expires_at=row.expires_at, max_uses=row.max_uses,
                          uses=row.uses, created_by=row.created_by)


def fields(body: s.ClientFields, *, replace: bool = False) -> dict[str, Any]:
    """The body as client metadata; ``replace`` (PUT): a field left out is removed."""
    return body.model_dump(exclude={"client_id"}, exclude_none=not replace)


def register(api: Api) -> None:
    op = api.operation

    @op("GET", BASE, summary="List clients", tag="clients", action=Action.CLIENTS_READ,
        response=s.ClientList)
    def list_clients(ctx: Context) -> s.ClientList:
        """Every client application of the realm (RFC 7591 metadata; never a secret)."""
        return s.ClientList(items=[client_out(c) for c in admin.list_clients(
            ctx.principal, ctx.realm_info())])

    @op("POST", BASE, summary="Create a client", tag="clients", action=Action.CLIENTS_WRITE,
        body=s.ClientCreate, response=s.ClientCreated, status=201, errors=(409,))
    def create_client(ctx: Context) -> tuple[s.ClientCreated, dict[str, str]]:
        """A confidential client gets a generated secret, returned once."""
        realm = ctx.realm_info()
        body: s.ClientCreate = ctx.body
        secret = admin.create_client(ctx.principal, app_settings(), realm, body.client_id,
                                     fields(body))
        db.session.commit()
        line = admin.get_client(ctx.principal, realm, body.client_id)
        location = url_for("api.get_client", realm=ctx.realm, client_id=body.client_id)
        return s.ClientCreated(client=client_out(line), client_secret=secret), {
            "Location": location}

    @op("GET", f"{BASE}/<client_id>", summary="Read a client", tag="clients",
        action=Action.CLIENTS_READ, response=s.ClientOut)
    def get_client(ctx: Context, client_id: str) -> s.ClientOut:
        """The client's metadata; its ETag guards updates."""
        return client_out(admin.get_client(ctx.principal, ctx.realm_info(), client_id))

    @op("PUT", f"{BASE}/<client_id>", summary="Replace a client's settings", tag="clients",
        action=Action.CLIENTS_WRITE, body=s.ClientFields, response=s.ClientOut,
        if_match=True)
    def update_client(ctx: Context, client_id: str) -> s.ClientOut:
        """Redirect and post-logout URIs, grants, scope, auth method, first- or third-party,
        back-channel logout URI, signing algorithm, enabled."""
        realm = ctx.realm_info()
        ctx.require_match(client_out(admin.get_client(ctx.principal, realm, client_id)))
        body: s.ClientFields = ctx.body
        admin.update_client(ctx.principal, app_settings(), realm, client_id,
                            fields(body, replace=True), now=time.time())
        db.session.commit()
        return client_out(admin.get_client(ctx.principal, realm, client_id))

    @op("POST", f"{BASE}/<client_id>/client-secret", summary="Rotate the secret",
        tag="clients", action=Action.CLIENT_SECRET, response=s.ClientSecret, errors=(409,))
    def rotate_client_secret(ctx: Context, client_id: str) -> s.ClientSecret:
        """A new secret, returned once; the old one stops working at once."""
        secret = admin.rotate_secret(ctx.principal, app_settings(), ctx.realm_info(),
                                     client_id, now=time.time())
        db.session.commit()
        return s.ClientSecret(client_id=client_id, client_secret=secret)

    @op("DELETE", f"{BASE}/<client_id>", summary="Delete a client", tag="clients",
        action=Action.CLIENT_DELETE, status=204)
    def delete_client(ctx: Context, client_id: str) -> None:
        """The client, its codes and its tokens go."""
        admin.delete_client(ctx.principal, app_settings(), ctx.realm_info(), client_id,
                            now=time.time())
        db.session.commit()

    @op("GET", "/realms/<realm>/clients-initial-access", summary="List initial access "
        "tokens", tag="clients", action=Action.CLIENTS_READ, response=s.InitialTokenList)
    def list_initial_tokens(ctx: Context) -> s.InitialTokenList:
        """Tokens that let an app register itself (RFC 7591); never the token itself."""
        realm = ctx.realm_info()
        return s.InitialTokenList(items=[token_out(r) for r in
                                         initial_tokens.list_tokens(realm.id)])

    @op("POST", "/realms/<realm>/clients-initial-access", summary="Issue an initial access "
        "token", tag="clients", action=Action.CLIENTS_WRITE, body=s.InitialTokenCreate,
        response=s.InitialToken, status=201)
    def issue_initial_token(ctx: Context) -> s.InitialToken:
        """For Dynamic Client Registration: ``expires_in`` seconds, ``uses`` registrations.
        The token is returned once; hand it to the app's developers."""
        realm = ctx.realm_info()
        body: s.InitialTokenCreate = ctx.body
        issued = initial_tokens.issue(realm.id, expires_in=body.expires_in, uses=body.uses,
                                      actor=ctx.principal.actor)
        db.session.commit()
        return s.InitialToken(id=issued.id, expires_at=issued.expires_at,
                              max_uses=issued.max_uses, uses=0, created_by=ctx.principal.actor,
                              token=issued.token)

    @op("DELETE", "/realms/<realm>/clients-initial-access/<token_id>", summary="Revoke an "
        "initial access token", tag="clients", action=Action.CLIENTS_WRITE, status=204)
    def revoke_initial_token(ctx: Context, token_id: str) -> None:
        """It expires now (kept for the audit trail)."""
        realm = ctx.realm_info()
        require(ctx.principal, realm.slug, Action.CLIENTS_WRITE)
        if not token_id.isdigit() or not initial_tokens.revoke(realm.id, int(token_id)):
            raise Problem("not_found", "No such initial access token")
        db.session.commit()
