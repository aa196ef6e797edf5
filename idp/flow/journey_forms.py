"""Forms of the première connexion, forgotten password and Mon compte (CSRF on each)."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

# Deliberately simple: one @, a dot in the domain, no spaces. The mail itself is the
# real check (the address is verified by its link), so a stricter regex only refuses
# valid addresses.
EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;.]{2,}$")


def valid_email(value: str) -> bool:
    return bool(EMAIL_RE.match(value or "")) and len(value) <= 320


def _email_check(_form: FlaskForm, field: StringField) -> None:
    field.data = (field.data or "").strip()
    if not valid_email(field.data):
        raise ValidationError(
            _l("Cette adresse email n'est pas valide (exemple : nom@domaine.fr).")
        )


class EmailForm(FlaskForm):
    email = StringField(
        _l("Adresse email"),
        validators=[DataRequired(_l("Veuillez saisir votre adresse email.")), _email_check],
    )


class NewPasswordForm(FlaskForm):
    password = PasswordField(
        _l("Nouveau mot de passe"),
        validators=[DataRequired(_l("Veuillez saisir un nouveau mot de passe.")),
                    Length(max=1024)],
    )
    confirm = PasswordField(
        _l("Confirmation du mot de passe"),
        validators=[DataRequired(_l("Veuillez confirmer le mot de passe.")),
                    EqualTo("password", _l("Les deux mots de passe ne sont pas identiques."))],
    )


class ChangePasswordForm(NewPasswordForm):
    current_password = PasswordField(
        _l("Mot de passe actuel"),
        validators=[DataRequired(_l("Veuillez saisir votre mot de passe actuel.")),
                    Length(max=1024)],
    )


class ChangeEmailForm(EmailForm):
    current_password = PasswordField(
        _l("Mot de passe actuel"),
        validators=[DataRequired(_l("Veuillez saisir votre mot de passe actuel.")),
                    Length(max=1024)],
    )


class ForgotForm(FlaskForm):
    login = StringField(
        _l("Identifiant ou adresse email"),
        validators=[DataRequired(_l("Veuillez saisir votre identifiant ou votre adresse email.")),
                    Length(max=320)],
    )
