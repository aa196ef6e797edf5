"""Forms of the portal (Flask-WTF: CSRF token included in every one)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from .renewal import take_stashed_form

try:  # WTForms >= 3.3 deprecates (value, label) tuples
    from wtforms import SelectChoice
except ImportError:  # pragma: no cover - older WTForms

    def SelectChoice(value: str, label: object) -> tuple:  # type: ignore[no-redef]
        """Older WTForms take plain ``(value, label)`` tuples."""
        return (value, label)


class RestorableForm(FlaskForm):
    """A form that, shown again after a session renewal, holds what the customer had typed.

    The fields were kept when the POST arrived with expired tokens (``portal.renewal``);
    the CSRF token is the current session's, so sending again works.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not args and "formdata" not in kwargs and request.method == "GET":
            restored = take_stashed_form(request.path)
            if restored is not None:
                kwargs["formdata"] = restored
        super().__init__(*args, **kwargs)


class SavedSearchForm(RestorableForm):
    """Add a saved property search ("Mes recherches")."""

    label = StringField(
        _l("Nom de la recherche"),
        validators=[DataRequired(_l("Donnez un nom à votre recherche.")), Length(max=100)],
    )
    transaction = RadioField(
        _l("Type"),
        choices=[SelectChoice("location", _l("Location")), SelectChoice("achat", _l("Achat"))],
        default="location",
        validators=[DataRequired(_l("Choisissez location ou achat."))],
    )
    city = StringField(
        _l("Ville ou code postal"),
        validators=[DataRequired(_l("Indiquez une ville ou un code postal.")), Length(max=100)],
    )
    budget_max = IntegerField(
        _l("Budget maximum (€)"),
        validators=[
            Optional(),
            NumberRange(min=1, max=100_000_000, message=_l("Indiquez un budget positif.")),
        ],
    )
    rooms_min = IntegerField(
        _l("Nombre de pièces minimum"),
        validators=[
            Optional(),
            NumberRange(min=1, max=20, message=_l("Indiquez un nombre entre 1 et 20.")),
        ],
    )


class EmptyForm(FlaskForm):
    """A form with only the CSRF token (delete and sign-out buttons)."""
