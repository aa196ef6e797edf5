"""The customer's pages of the seed: Accueil, Biens, Comptes, Interventions, Dossiers...

Every view reads through ``g.customer`` (set by ``login_required`` from the session's
issuer and ``customer_id``), and every lookup by ``ref`` is filtered by that customer:
a customer only ever sees their own data, whatever URL they type.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from .auth import is_signed_in, login_required
from .extensions import db
from .forms import EmptyForm, SavedSearchForm
from .models import Customer, Document, Intervention, LedgerEntry, SavedSearch
from .oidc_client import ProviderUnavailable
from .texts import HELP_TOPICS

bp = Blueprint("pages", __name__)

STATUS_FILTERS = ("en_cours", "terminees", "toutes")


def running_ledger(customer: Customer) -> list[tuple[LedgerEntry, int]]:
    """Ledger entries oldest first, each with the balance after it (credits − debits)."""
    balance = 0
    rows = []
    for entry in customer.ledger:
        balance += entry.credit_cents - entry.debit_cents
        rows.append((entry, balance))
    return rows


def account_url() -> str | None:
    """Where "Mon compte" leads: ``ACCOUNT_URL``, else the OP's discovery field, else nowhere.

    Providers differ (Keycloak's ``/account`` is no standard): a link that would 404 on
    every page is worse than none, so the link is hidden when neither is known.
    """
    configured = current_app.config.get("ACCOUNT_URL")
    if configured:
        return str(configured)
    try:
        return current_app.extensions["portal_oidc"].account_url()
    except ProviderUnavailable:
        return None


@bp.app_context_processor
def inject_globals() -> dict[str, Any]:
    """Values every template needs: sign-in state, the "Mon compte" URL, forms."""
    signed_in = is_signed_in()
    return {
        "signed_in": signed_in,
        # Only signed-in pages show the link: anonymous pages need no discovery fetch.
        "account_url": account_url() if signed_in else None,
        "logout_form": EmptyForm(),
    }


@bp.get("/")
def index() -> Any:
    """Accueil: the seed's tiles when signed in, a welcome with "Se connecter" otherwise."""
    if not is_signed_in():
        return render_template("welcome.html", signed_out=bool(request.args.get("state")
                                                               or request.args.get("deconnecte")))
    return _home()


@login_required
def _home() -> str:
    customer: Customer = g.customer
    open_count = sum(1 for i in customer.interventions if i.status == "en_cours")
    return render_template(
        "home.html",
        customer=customer,
        balance=customer.balance_cents,
        open_count=open_count,
    )


@bp.get("/biens")
@login_required
def properties() -> str:
    """The customer's lots, with their role (owner or tenant)."""
    return render_template("properties.html", properties=g.customer.properties)


@bp.get("/comptes")
@login_required
def accounts() -> str:
    """Balance and ledger with a running balance, newest first."""
    rows = running_ledger(g.customer)
    return render_template(
        "accounts.html", rows=list(reversed(rows)), balance=rows[-1][1] if rows else 0
    )


@bp.get("/interventions")
@login_required
def interventions() -> str:
    """Interventions, filtered by status (en cours by default when there are some)."""
    status = request.args.get("statut", "toutes")
    if status not in STATUS_FILTERS:
        status = "toutes"
    items = g.customer.interventions
    if status == "en_cours":
        items = [i for i in items if i.status == "en_cours"]
    elif status == "terminees":
        items = [i for i in items if i.status == "terminee"]
    return render_template("interventions.html", items=items, status=status)


@bp.get("/interventions/<ref>")
@login_required
def intervention(ref: str) -> str:
    """One intervention of this customer (404 for anyone else's)."""
    item = db.session.scalar(
        select(Intervention).where(
            Intervention.customer_pk == g.customer.id, Intervention.ref == ref
        )
    )
    if item is None:
        abort(404)
    return render_template("intervention.html", item=item)


@bp.get("/dossiers")
@login_required
def documents() -> str:
    """The customer's documents, each downloadable."""
    return render_template("documents.html", documents=g.customer.documents)


@bp.get("/dossiers/<ref>/telecharger")
@login_required
def download(ref: str) -> Response:
    """Download one of the customer's documents (404 for anyone else's)."""
    document = db.session.scalar(
        select(Document).where(Document.customer_pk == g.customer.id, Document.ref == ref)
    )
    if document is None:
        abort(404)
    response = Response(document.content, mimetype=document.content_type)
    response.headers.set("Content-Disposition", "attachment", filename=document.filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/recherches", methods=["GET", "POST"])
@login_required
def searches() -> Any:
    """Saved searches: list, add (validated form) and delete."""
    form = SavedSearchForm()
    if form.validate_on_submit():
        search = SavedSearch(
            customer_pk=g.customer.id,
            ref="S-" + secrets.token_hex(6),
            label=form.label.data.strip(),
            transaction=form.transaction.data,
            city=form.city.data.strip(),
            budget_max_cents=form.budget_max.data * 100 if form.budget_max.data else None,
            rooms_min=form.rooms_min.data,
        )
        db.session.add(search)
        db.session.commit()
        flash(_("Recherche enregistrée."), "success")
        return redirect(url_for("pages.searches"))
    status = 400 if form.is_submitted() else 200
    return (
        render_template(
            "searches.html", form=form, searches=g.customer.saved_searches, delete_form=EmptyForm()
        ),
        status,
    )


@bp.post("/recherches/<ref>/supprimer")
@login_required
def delete_search(ref: str) -> Response:
    """Delete one of the customer's saved searches."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    search = db.session.scalar(
        select(SavedSearch).where(SavedSearch.customer_pk == g.customer.id, SavedSearch.ref == ref)
    )
    if search is None:
        abort(404)
    db.session.delete(search)
    db.session.commit()
    flash(_("Recherche supprimée."), "success")
    return redirect(url_for("pages.searches"))


@bp.get("/contacts")
@login_required
def contacts() -> str:
    """Mes contacts: the people in charge of the customer's properties."""
    return render_template("contacts.html", contacts=g.customer.contacts, agency=g.customer.agency)


@bp.get("/agence")
@login_required
def agency() -> str:
    """Mon agence: manager, address, opening hours, phone."""
    return render_template("agency.html", agency=g.customer.agency)


@bp.get("/autres")
def others() -> str:
    """Autres: the way to Aide and À propos."""
    return render_template("others.html")


@bp.get("/aide")
def help_index() -> str:
    """Aide: the list of help topics (public: signing in is one of them)."""
    return render_template("help.html", topics=HELP_TOPICS)


@bp.get("/aide/<slug>")
def help_topic(slug: str) -> str:
    """One help topic."""
    topic = next((t for t in HELP_TOPICS if t.slug == slug), None)
    if topic is None:
        abort(404)
    return render_template("help_topic.html", topic=topic)


@bp.get("/a-propos")
def about() -> str:
    """À propos: what this site is and who runs it."""
    return render_template("about.html")


@bp.get("/navigateur-non-compatible")
def unsupported_browser() -> str:
    """The page Internet Explorer users get (also reachable directly)."""
    return render_template("unsupported.html")
