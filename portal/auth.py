"""Sign-in, sign-out and back-channel logout: the portal's side of OpenID Connect.

The views are thin: protocol checks live in ``oidc_client`` (and ``shared``'s verifier),
session storage in ``sessions``. What stays here is the order of things and the French pages
shown when something goes wrong.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from shared.token_verification import KeySourceError, TokenError

from .extensions import csrf, db
from .forms import EmptyForm
from .models import Customer, UsedLogoutToken, utcnow
from .oidc_client import OIDCClient, OIDCError, PendingAuth, ProviderUnavailable
from .renewal import STASH_KEY, current_stash, drop_stash, stash_form
from .sessions import end_sessions, purge_expired

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__, url_prefix="/auth")

MAX_PENDING = 3
# prompt=none answers that mean "the customer must interact" (OIDC Core §3.1.2.6).
INTERACTIVE_ERRORS = frozenset(
    {"login_required", "interaction_required", "consent_required", "account_selection_required"}
)

# error code -> (title, explanation); French source strings, English in the catalogue.
ERROR_MESSAGES: dict[str, tuple[Any, Any]] = {
    "access_denied": (
        _l("Connexion annulée"),
        _l("La connexion a été annulée ou l'accès a été refusé. Vous pouvez réessayer."),
    ),
    "login_required": (
        _l("Vous devez vous reconnecter"),
        _l("Votre session sur le service de connexion a expiré. Reconnectez-vous."),
    ),
    "consent_required": (
        _l("Autorisation nécessaire"),
        _l("Le service de connexion demande votre accord avant de continuer."),
    ),
    "invalid_state": (
        _l("Demande de connexion expirée"),
        _l("Cette demande de connexion n'est plus valable (page ouverte trop longtemps "
           "ou dans un autre onglet). Recommencez la connexion."),
    ),
    "provider_unavailable": (
        _l("Service de connexion indisponible"),
        _l("Le service de connexion ne répond pas pour le moment. Réessayez dans quelques "
           "minutes."),
    ),
    "no_customer_id": (
        _l("Compte sans identifiant client"),
        _l("Votre compte n'est associé à aucun identifiant client. Contactez votre agence."),
    ),
}
GENERIC_ERROR = (
    _l("La connexion a échoué"),
    _l("La réponse du service de connexion n'a pas pu être validée. Recommencez la "
       "connexion ; si le problème persiste, contactez votre agence."),
)


def oidc() -> OIDCClient:
    """The app's OIDC client (one per app, caches discovery and keys)."""
    return current_app.extensions["portal_oidc"]


def redirect_uri() -> str:
    """The callback URL registered at the idp (exact match required there)."""
    return current_app.config["PUBLIC_URL"] + "/auth/callback"


def safe_next(target: str | None) -> str:
    """Only same-site relative paths may be redirected to after sign-in (no open redirect)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return url_for("pages.index")


def auth_error(code: str, status: int = 400) -> tuple[str, int]:
    """Render the French error page for an OIDC failure (never a stack trace)."""
    title, text = ERROR_MESSAGES.get(code, GENERIC_ERROR)
    log.info("sign-in failed: %s", code)
    return render_template("auth_error.html", title=title, text=text, code=code), status


def is_signed_in() -> bool:
    """Whether this browser session belongs to a signed-in customer."""
    return bool(session.get("sub") and session.get("customer_id"))


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send anonymous visitors through the idp, then back to the page they asked for."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not is_signed_in():
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        customer = Customer.find(session["issuer"], session["customer_id"])
        if customer is None:
            session.destroy()  # type: ignore[attr-defined]
            return redirect(url_for("auth.login"))
        g.customer = customer
        return view(*args, **kwargs)

    return wrapper


def _remember(pending: PendingAuth) -> None:
    """Keep a pending sign-in in the session until its callback."""
    pendings = dict(session.get("pending_auth") or {})
    pendings[pending.state] = asdict(pending)
    # Keep only the newest few: several tabs may sign in at once, but not thousands.
    session["pending_auth"] = dict(list(pendings.items())[-MAX_PENDING:])


@bp.get("/login")
def login() -> Any:
    """Start the authorization code flow with PKCE, state and nonce."""
    pending = PendingAuth.new(safe_next(request.args.get("next")))
    try:
        url = oidc().authorization_url(pending, redirect_uri(), ui_locales=str(get_locale()))
    except ProviderUnavailable:
        return auth_error("provider_unavailable", 503)
    _remember(pending)
    return redirect(url)


@bp.get("/callback")
def callback() -> Any:
    """Finish the sign-in: check state and iss, redeem the code, validate the id_token."""
    pendings = dict(session.get("pending_auth") or {})
    data = pendings.pop(str(request.args.get("state", "")), None)
    session["pending_auth"] = pendings
    if data is None:
        silent = _stateless_silent_refusal(pendings)
        if silent is None:
            return auth_error("invalid_state")
        session["pending_auth"] = {k: v for k, v in pendings.items() if k != silent.state}
        _end_sign_in()
        return redirect(url_for("auth.login", next=silent.next_url))
    pending = PendingAuth(**data)
    client = oidc()
    try:
        code = client.check_authorization_response(request.args, pending)
        tokens = client.exchange_code(code, redirect_uri(), pending)
    except ProviderUnavailable as exc:
        log.warning("idp unavailable during sign-in: %s", exc)
        return auth_error("provider_unavailable", 503)
    except OIDCError as exc:
        if pending.silent:
            # The provider wants the customer (signed out there, session too old...): a
            # visible sign-in, after which the kept form comes back.
            _end_sign_in()
            if exc.error in INTERACTIVE_ERRORS:
                log.info("silent renewal refused (%s): interactive sign-in", exc.error)
                return redirect(url_for("auth.login", next=pending.next_url))
        return auth_error(exc.error)
    except TokenError as exc:
        log.warning("id_token rejected: %s", exc.description)
        if pending.silent:
            _end_sign_in()
        return auth_error("invalid_token")
    claims = tokens["claims"]
    if pending.silent and is_signed_in() and claims["sub"] == session.get("sub") \
            and client.issuer == session.get("issuer"):
        _renew_tokens(tokens)
        if claims.get("sid"):
            session["sid"] = claims["sid"]
        return redirect(pending.next_url)
    claim = current_app.config["CUSTOMER_CLAIM"]
    if not (claims.get("name") or claims.get("given_name")) or not claims.get(claim):
        # Many OPs put scope claims in UserInfo only, when an access token is issued.
        profile = client.userinfo(tokens["access_token"], claims["sub"])
        claims = {**profile, **claims}
    customer_id = str(claims.get(claim) or "")
    if not customer_id:
        return auth_error("no_customer_id", 403)
    _start_session(tokens, claims, customer_id)
    return redirect(pending.next_url)


def _stateless_silent_refusal(pendings: dict[str, Any]) -> PendingAuth | None:
    """A silent renewal refused without ``state`` (pyoidc 1.7 drops it from errors).

    Accepted for the ``INTERACTIVE_ERRORS`` only, never for a code, and only while this
    browser has a silent renewal pending: the worst a forged one can do is ask the
    customer to sign in again, which a real refusal would do anyway.
    """
    if request.args.get("code") or request.args.get("error") not in INTERACTIVE_ERRORS:
        return None
    silent = [PendingAuth(**p) for p in pendings.values() if p.get("silent")]
    if not silent or not is_signed_in():
        return None
    log.info("silent renewal refused without state (%s)", request.args["error"])
    return silent[-1]


def _renew_tokens(tokens: dict[str, Any]) -> None:
    """Store renewed tokens; a refresh token is kept until a new one replaces it."""
    lifetime = int(tokens.get("expires_in") or 300)
    session["access_token"] = tokens["access_token"]
    session["token_lifetime"] = lifetime
    session["expires_at"] = time.time() + lifetime
    if tokens.get("refresh_token"):  # rotation: the old one is now spent
        session["refresh_token"] = tokens["refresh_token"]
    if tokens.get("id_token"):
        session["id_token"] = tokens["id_token"]


def _end_sign_in() -> None:
    """Forget who is signed in, keeping what the next sign-in needs (pending, form, locale)."""
    kept = {k: session[k] for k in ("locale", "pending_auth", STASH_KEY) if k in session}
    session.clear()
    session.update(kept)


def _start_session(tokens: dict[str, Any], claims: dict[str, Any], customer_id: str) -> None:
    """Store the tokens server-side under a fresh session id."""
    issuer = oidc().issuer
    customer = Customer.find(issuer, customer_id)
    if customer is None:
        customer = Customer(issuer=issuer, customer_id=customer_id)
        db.session.add(customer)
    name = claims.get("name") or " ".join(
        p for p in (claims.get("given_name"), claims.get("family_name")) if p
    )
    if name and not customer.display_name:
        customer.display_name = name
    try:
        db.session.commit()
    except IntegrityError:  # two first sign-ins at once: the other one created it
        db.session.rollback()
    purge_expired()
    locale = session.get("locale")
    stash = session.get(STASH_KEY)
    session.clear()
    session.regenerate()  # type: ignore[attr-defined]
    session.permanent = True
    if locale:
        session["locale"] = locale
    # A form kept during a renewal goes back to the same customer only.
    if stash and stash.get("issuer") == issuer and stash.get("sub") == claims["sub"]:
        session[STASH_KEY] = stash
    session.update(
        issuer=issuer,
        sub=claims["sub"],
        sid=claims.get("sid"),
        customer_id=customer_id,
        name=name or customer.display_name or customer_id,
        id_token=tokens["id_token"],
        refresh_token=tokens.get("refresh_token"),
    )
    _renew_tokens(tokens)


def _token_expiring() -> bool:
    """Whether the access token is within the refresh margin of its expiry.

    The margin is capped at half the token's lifetime, so that an OP issuing short-lived
    tokens does not send every page through a renewal.
    """
    lifetime = int(session.get("token_lifetime") or 300)
    margin = min(int(current_app.config["TOKEN_REFRESH_MARGIN"]), lifetime // 2)
    return float(session.get("expires_at", 0)) - margin <= time.time()


@bp.before_app_request
def renew_session() -> Any:
    """Renew the tokens shortly before they expire, with or without a refresh token.

    With a refresh token: a quiet back-channel refresh. Without one (the OP applied OIDC
    Core §11), or when the refresh is refused: a silent ``prompt=none`` round trip through
    the browser, which comes back with fresh tokens or sends the customer to sign in. A
    POST caught by the renewal keeps its fields (``portal.renewal``). An unreachable idp is
    tolerated: the portal's own data stays readable until the session's lifetime runs out.
    """
    if request.blueprint in ("api", "auth") or request.endpoint in (None, "static"):
        return None
    if not is_signed_in() or not _token_expiring():
        return None
    refresh_token = session.get("refresh_token")
    if refresh_token:
        try:
            tokens = oidc().refresh(refresh_token)
        except ProviderUnavailable as exc:
            log.warning("token refresh postponed, idp unavailable: %s", exc)
            return None
        except (OIDCError, TokenError) as exc:
            log.info("refresh refused (%s): silent renewal", exc)
            session.pop("refresh_token", None)
        else:
            claims = tokens.get("claims")
            if claims and claims.get("sub") != session.get("sub"):
                session.destroy()  # type: ignore[attr-defined]
                return redirect(url_for("auth.login"))
            _renew_tokens(tokens)
            return None
    return _silent_renewal()


def _silent_renewal() -> Any:
    """Send the browser through ``prompt=none``; keep a posted form for afterwards."""
    safe = request.method in ("GET", "HEAD", "OPTIONS")
    next_url = request.full_path.rstrip("?") if safe else url_for("auth.resume")
    pending = PendingAuth.new(safe_next(next_url), silent=True)
    try:
        url = oidc().authorization_url(
            pending, redirect_uri(), ui_locales=str(get_locale()), prompt="none",
            id_token_hint=session.get("id_token"),
        )
    except ProviderUnavailable as exc:
        log.warning("silent renewal postponed, idp unavailable: %s", exc)
        return None
    if not safe and not stash_form():
        return None  # too large to keep: let this request through on the portal session
    _remember(pending)
    return redirect(url)


@bp.get("/resume")
def resume() -> Any:
    """After a renewal, give the customer back the form they had posted.

    A page that shows the form gets it filled in (``forms.RestorableForm``); a POST-only
    action (a delete button) gets a page to confirm it, with a fresh CSRF token.
    """
    stash = current_stash() if is_signed_in() else None
    if stash is None:
        return redirect(url_for("pages.index"))
    if stash["get_ok"]:
        flash(_("Votre session a été renouvelée. Ce que vous aviez saisi a été conservé : "
                "vérifiez-le puis envoyez à nouveau."), "info")
        return redirect(safe_next(stash["path"]))
    drop_stash()
    return render_template(
        "resume.html", action=safe_next(stash["path"]), fields=stash["form"], form=EmptyForm()
    )


@bp.post("/logout")
def logout() -> Response:
    """End the portal session, then the idp session (RP-initiated logout)."""
    id_token = session.get("id_token")
    session.destroy()  # type: ignore[attr-defined]
    try:
        url = oidc().end_session_url(
            id_token, current_app.config["PUBLIC_URL"] + "/", secrets.token_urlsafe(16)
        )
    except ProviderUnavailable:
        url = None
    return redirect(url or url_for("pages.index", deconnecte=1))


@bp.post("/backchannel-logout")
@csrf.exempt
def backchannel_logout() -> tuple[Response, int]:
    """Back-channel logout: the idp tells us an idp session ended; end ours at once."""
    token = request.form.get("logout_token", "")
    client = oidc()
    try:
        claims = client.verifier.verify_logout_token(token, client_id=client.client_id)
    except TokenError as exc:
        log.warning("logout token rejected: %s", exc.description)
        return _no_store(jsonify(error="invalid_request",
                                 error_description=exc.description)), 400
    except KeySourceError as exc:
        # The detail names internal URLs: for the log only, never for the caller.
        log.warning("logout token not verifiable, keys unavailable: %s", exc)
        return _no_store(jsonify(error="temporarily_unavailable",
                                 error_description="signing keys unavailable")), 503
    jti = str(claims["jti"])
    now = utcnow()
    db.session.query(UsedLogoutToken).filter(UsedLogoutToken.expires_at <= now).delete()
    if db.session.get(UsedLogoutToken, jti) is not None:
        return _no_store(jsonify(error="invalid_request", error_description="replayed")), 400
    # Kept as long as the verifier would accept the token: until exp, or iat + max age.
    exp = claims.get("exp")
    limit = claims["iat"] + client.verifier.logout_token_max_age
    until = min(exp, limit) if isinstance(exp, int | float) else limit
    expires = dt.datetime.fromtimestamp(until + client.verifier.leeway, dt.UTC).replace(
        tzinfo=None)
    db.session.add(UsedLogoutToken(jti=jti, expires_at=expires + dt.timedelta(minutes=5)))
    db.session.commit()
    ended = end_sessions(client.issuer, sid=claims.get("sid"), sub=claims.get("sub"))
    log.info("back-channel logout ended %d session(s)", ended)
    return _no_store(Response(status=200)), 200


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
