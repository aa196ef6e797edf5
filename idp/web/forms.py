"""Sign-in forms (Flask-WTF: CSRF on every form)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    login = StringField(
        _l("Identifiant ou courriel"),
        validators=[DataRequired(_l("Veuillez saisir votre identifiant ou votre courriel.")),
                    Length(max=320)],
    )
    password = PasswordField(
        _l("Mot de passe"),
        validators=[DataRequired(_l("Veuillez saisir votre mot de passe.")), Length(max=1024)],
    )
