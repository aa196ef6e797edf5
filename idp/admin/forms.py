"""Console forms (Flask-WTF: every POST carries a CSRF token). French labels, English in
the catalogue."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..core.clients import AUTH_METHODS
from ..core.keys import SUPPORTED_ALGS
from ..core.operations import GRANTS


class EmailForm(FlaskForm):
    email = StringField(_l("Nouvelle adresse email"),
                        validators=[DataRequired(_l("Veuillez saisir une adresse email.")),
                                    Length(max=320)])


class CodeForm(FlaskForm):
    code = StringField(_l("Code à 6 chiffres"),
                       validators=[DataRequired(_l("Veuillez saisir le code affiché par "
                                                   "votre application.")), Length(max=32)])


class MultiCheckbox(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ClientForm(FlaskForm):
    client_id = StringField(_l("Identifiant du client (client_id)"),
                            validators=[Optional(), Length(max=255)])
    client_name = StringField(_l("Nom affiché"), validators=[Optional(), Length(max=200)])
    redirect_uris = TextAreaField(_l("URI de redirection (une par ligne)"))
    post_logout_redirect_uris = TextAreaField(
        _l("URI après déconnexion (une par ligne)"))
    grant_types = MultiCheckbox(_l("Types d'autorisation"),
                                choices=list(GRANTS))
    scope = StringField(_l("Portées (scopes)"), validators=[Optional(), Length(max=1000)])
    token_endpoint_auth_method = SelectField(_l("Authentification du client"),
                                             choices=list(AUTH_METHODS))
    id_token_signed_response_alg = SelectField(_l("Algorithme de signature"),
                                               choices=list(SUPPORTED_ALGS))
    backchannel_logout_uri = StringField(_l("URI de déconnexion back-channel"),
                                         validators=[Optional(), Length(max=2000)])
    first_party = BooleanField(_l("Application de l'agence (pas d'écran de consentement)"))

    def data_for_core(self) -> dict[str, object]:
        return {name: getattr(self, name).data for name in (
            "client_name", "redirect_uris", "post_logout_redirect_uris", "grant_types",
            "scope", "token_endpoint_auth_method", "id_token_signed_response_alg",
            "backchannel_logout_uri", "first_party")}


def _seconds(label: object) -> IntegerField:
    return IntegerField(label, validators=[DataRequired(), NumberRange(min=1, max=10**8)])


class SettingsForm(FlaskForm):
    display_name = StringField(_l("Nom affiché"), validators=[DataRequired(), Length(max=200)])
    logo_url = StringField(_l("Logo (chemin sur ce serveur ou URI data:image)"),
                           validators=[Optional(), Length(max=200_000)])
    brand_color = StringField(_l("Couleur principale (#rrvvbb)"),
                              validators=[Optional(), Length(max=7)])
    mail_sender = StringField(_l("Expéditeur des courriels"),
                              validators=[Optional(), Length(max=320)])
    agency_contact = TextAreaField(_l("Contact de l'agence"),
                                   validators=[Optional(), Length(max=2000)])
    access_token_lifetime = _seconds(_l("Durée des jetons d'accès (secondes)"))
    id_token_lifetime = _seconds(_l("Durée des jetons d'identité (secondes)"))
    refresh_token_lifetime = _seconds(_l("Durée des jetons de rafraîchissement (secondes)"))
    action_token_lifetime = _seconds(_l("Durée des liens envoyés par courriel (secondes)"))
    resend_cooldown = _seconds(_l("Délai entre deux envois de courriel (secondes)"))
    sso_session_idle = _seconds(_l("Session : inactivité maximale (secondes)"))
    sso_session_max = _seconds(_l("Session : durée maximale (secondes)"))
    min_length = _seconds(_l("Mot de passe : longueur minimale"))
    uppercase = IntegerField(_l("Mot de passe : majuscules"),
                             validators=[NumberRange(min=0, max=64)])
    digits = IntegerField(_l("Mot de passe : chiffres"), validators=[NumberRange(min=0, max=64)])
    special = IntegerField(_l("Mot de passe : caractères spéciaux"),
                           validators=[NumberRange(min=0, max=64)])
    failure_factor = _seconds(_l("Verrouillage : échecs avant attente"))
    wait_increment_seconds = _seconds(_l("Verrouillage : attente ajoutée (secondes)"))
    max_wait_seconds = _seconds(_l("Verrouillage : attente maximale (secondes)"))
    temporary_code_max_failures = _seconds(
        _l("Verrouillage : échecs du code provisoire avant blocage"))
    audit_retention_days = IntegerField(_l("Conservation du journal (jours, 0 = toujours)"),
                                        validators=[NumberRange(min=0, max=36500)])


class ProviderForm(FlaskForm):
    client_id = StringField(_l("Identifiant du client chez le fournisseur"),
                            validators=[DataRequired(), Length(max=255)])
    client_secret = PasswordField(_l("Secret (laisser vide pour garder l'actuel)"),
                                  validators=[Optional(), Length(max=512)])
    enabled = BooleanField(_l("Activé"))
