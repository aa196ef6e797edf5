"""The idp's forms (Flask-WTF: CSRF on every form), shared by the sign-in flow, the
première connexion, the forgotten password and Mon compte."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from ..core.emails import check as check_email
from .texts import email_problem


def _secret(label: str, missing: str, *more: object) -> PasswordField:
    """A password field: required (``missing`` says so), 1024 characters at most."""
    return PasswordField(label, validators=[DataRequired(missing), Length(max=1024), *more])


class LoginForm(FlaskForm):
    login = StringField(
        _l("Identifiant ou courriel"),
        validators=[DataRequired(_l("Veuillez saisir votre identifiant ou votre courriel.")),
                    Length(max=320)],
    )
    password = _secret(_l("Mot de passe"), _l("Veuillez saisir votre mot de passe."))



def _email_check(_form: FlaskForm, field: StringField) -> None:
    """email-validator's verdict: internationalised addresses pass, the reason is said."""
    checked = check_email(field.data)
    if checked.normalized is None:
        raise ValidationError(email_problem(checked))
    field.data = checked.normalized


class EmailForm(FlaskForm):
    email = StringField(
        _l("Adresse email"),
        validators=[DataRequired(_l("Veuillez saisir votre adresse email.")), _email_check],
    )


class NewPasswordForm(FlaskForm):
    password = _secret(_l("Nouveau mot de passe"), _l("Veuillez saisir un nouveau mot de passe."))
    confirm = _secret(_l("Confirmation du mot de passe"),
                      _l("Veuillez confirmer le mot de passe."),
                      EqualTo("password", _l("Les deux mots de passe ne sont pas identiques.")))


class ChangePasswordForm(NewPasswordForm):
    current_password = _secret(_l("Mot de passe actuel"),
                               _l("Veuillez saisir votre mot de passe actuel."))


class ChangeEmailForm(EmailForm):
    current_password = _secret(_l("Mot de passe actuel"),
                               _l("Veuillez saisir votre mot de passe actuel."))


class ForgotForm(FlaskForm):
    login = StringField(
        _l("Identifiant ou adresse email"),
        validators=[DataRequired(_l("Veuillez saisir votre identifiant ou votre adresse email.")),
                    Length(max=320)],
    )
