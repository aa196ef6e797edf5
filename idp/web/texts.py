"""Sentences shown to customers that several pages share, each worded once (French first;
English in the catalogue)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import ngettext

from ..core.emails import EmailCheck
from ..core.policy import Violation
from ..core.settings import PasswordPolicy


def cooldown(seconds: int) -> str:
    return _("Un courriel vient d'être envoyé. Veuillez patienter %(num)d seconde(s) avant "
             "d'en demander un nouveau.", num=seconds)


def mail_not_sent() -> str:
    return _("Le courriel n'a pas pu être envoyé pour l'instant. Il sera renvoyé "
             "automatiquement ; vous pouvez aussi réessayer dans quelques instants.")


def too_many_failures() -> str:
    return _("Trop de tentatives depuis votre connexion. Veuillez réessayer dans quelques "
             "minutes.")


def email_problem(checked: EmailCheck) -> str:
    if checked.reason == "empty":
        return _("Veuillez saisir votre adresse email.")
    if checked.reason == "too_long":
        return _("Cette adresse email est trop longue.")
    detail = (checked.detail or "").lower()
    if "special-use" in detail or "reserved" in detail:
        return _("Ce domaine est réservé et ne peut pas recevoir de courriel.")
    if "period" in detail or "after the @" in detail or "domain" in detail:
        return _("Le domaine de cette adresse n'est pas valide (exemple : nom@domaine.fr).")
    if "@-sign" in detail and "must have" in detail:
        return _("Il manque le caractère @ (exemple : nom@domaine.fr).")
    if "invalid characters" in detail or "character" in detail:
        return _("Cette adresse contient des caractères qui ne peuvent pas être utilisés "
                 "(espaces, virgules, guillemets…).")
    return _("Cette adresse email n'est pas valide (exemple : nom@domaine.fr).")


def violation(v: Violation) -> str:
    if v.code == "min_length":
        return ngettext("Le mot de passe doit contenir au moins %(num)d caractère.",
                        "Le mot de passe doit contenir au moins %(num)d caractères.", v.num)
    if v.code == "uppercase":
        return ngettext("Le mot de passe doit contenir au moins %(num)d majuscule.",
                        "Le mot de passe doit contenir au moins %(num)d majuscules.", v.num)
    if v.code == "digits":
        return ngettext("Le mot de passe doit contenir au moins %(num)d chiffre.",
                        "Le mot de passe doit contenir au moins %(num)d chiffres.", v.num)
    if v.code == "special":
        return ngettext("Le mot de passe doit contenir au moins %(num)d caractère spécial.",
                        "Le mot de passe doit contenir au moins %(num)d caractères spéciaux.",
                        v.num)
    if v.code == "identifier":
        return _("Le mot de passe ne doit pas être votre identifiant.")
    if v.code == "email":
        return _("Le mot de passe ne doit pas être votre adresse email.")
    return _("Le mot de passe ne doit pas être votre mot de passe provisoire.")


def violations(items: list[Violation]) -> list[str]:
    return [violation(v) for v in items]


def rules(policy: PasswordPolicy) -> list[str]:
    """The rules as shown above the form ("Au moins 8 caractères", ...)."""
    out = [ngettext("Au moins %(num)d caractère", "Au moins %(num)d caractères",
                    policy.min_length)]
    if policy.uppercase:
        out.append(ngettext("Au moins %(num)d majuscule", "Au moins %(num)d majuscules",
                            policy.uppercase))
    if policy.digits:
        out.append(ngettext("Au moins %(num)d chiffre", "Au moins %(num)d chiffres",
                            policy.digits))
    if policy.special:
        out.append(ngettext("Au moins %(num)d caractère spécial",
                            "Au moins %(num)d caractères spéciaux", policy.special))
    return out
