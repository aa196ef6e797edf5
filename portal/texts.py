"""Help topics ("Aide"), including the sign-in help the manager gives its customers.

Kept as data (French source strings, English in the catalogue) so that the help reads the
same in every template and the topics list is built from one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class HelpTopic:
    """One help topic: ``blocks`` are ``(kind, content)`` with kind h2, p, ol or ul."""

    slug: str
    title: Any
    summary: Any
    blocks: tuple[tuple[str, Any], ...]


SIGN_IN = HelpTopic(
    slug="connexion",
    title=_l("Aide à la connexion sur le nouvel espace client"),
    summary=_l("Navigateurs compatibles, identifiant, mot de passe oublié."),
    blocks=(
        ("h2", _l("Votre navigateur")),
        ("p", _l("Assurez-vous d'abord que votre navigateur internet fait partie de la liste "
                 "de ceux compatibles : Firefox, Safari (Apple), Chrome, Edge dernière "
                 "version. N'utilisez jamais Internet Explorer.")),
        ("h2", _l("Identifiant et mot de passe")),
        ("p", _l("Vous devez être en possession de votre identifiant (celui qui est sur vos "
                 "appels de fonds ou de loyer) et de votre mot de passe (le provisoire si vous "
                 "ne vous êtes pas encore connecté à votre espace client, sinon celui que vous "
                 "utilisez d'habitude).")),
        ("h2", _l("Mot de passe oublié")),
        ("p", _l("Si vous avez votre identifiant mais avez oublié votre mot de passe alors que "
                 "vous vous étiez déjà connecté, cliquez sur « Mot de passe oublié ? » : un "
                 "lien pour créer votre nouveau mot de passe vous sera adressé à l'adresse "
                 "mail que vous avez indiquée à votre gestionnaire (vérifiez qu'il s'agit "
                 "d'une adresse valide).")),
        ("p", _l("Si vous n'avez communiqué aucune adresse mail, il n'est pas possible de se "
                 "connecter à l'espace client : indiquez-en une à votre agence.")),
        ("h2", _l("Sur smartphone")),
        ("p", _l("Attendez la fin du chargement de la page avant de saisir vos informations.")),
    ),
)

FIRST_SIGN_IN = HelpTopic(
    slug="premiere-connexion",
    title=_l("Première connexion"),
    summary=_l("Obligatoire une fois, pour vérifier votre adresse mail."),
    blocks=(
        ("p", _l("Suite au déploiement du nouvel espace client, vous devez passer par la "
                 "première connexion afin de vérifier votre adresse mail.")),
        ("ol", (
            _l("Sélectionnez directement le bouton « Première connexion », sans rien "
               "renseigner sur le premier écran."),
            _l("Saisissez votre identifiant (celui qui est sur vos appels de fonds ou de "
               "loyer)."),
            _l("Saisissez votre mot de passe (votre ancien mot de passe ou le provisoire à "
               "6 chiffres), puis cliquez sur « Connexion »."),
            _l("Saisissez votre adresse mail et cliquez sur « Soumettre »."),
            _l("Le message « Vous devez vérifier votre courriel pour activer votre compte » "
               "s'affiche. Consultez votre boîte mail."),
            _l("Dans le message « Mon espace client - Vérification de votre adresse de "
               "messagerie », cliquez sur « Confirmer mon adresse email ». Ce lien expire "
               "dans 5 minutes."),
        )),
        ("p", _l("L'émetteur est une adresse « noreply » : vérifiez aussi vos courriers "
                 "indésirables (spams). Vous pouvez renvoyer le courriel ou indiquer une autre "
                 "adresse depuis l'écran de vérification.")),
        ("p", _l("Si le lien ne fonctionne pas, copiez-le (clic droit, « Copier le lien "
                 "hypertexte ») et collez-le dans Firefox, Chrome ou Safari.")),
        ("h2", _l("Nouveau mot de passe")),
        ("p", _l("Si votre mot de passe était provisoire (6 chiffres), choisissez-en un "
                 "nouveau, saisi deux fois à l'identique, ayant :")),
        ("ul", (
            _l("au moins 8 caractères"),
            _l("au moins 1 majuscule"),
            _l("au moins 1 chiffre"),
            _l("au moins 1 caractère spécial"),
        )),
        ("p", _l("Vous arrivez ensuite sur la page d'accueil de votre espace client. Si votre "
                 "mot de passe était déjà modifié, vous y arrivez directement.")),
    ),
)

HOME_HELP = HelpTopic(
    slug="espace-client",
    title=_l("Utiliser votre espace client"),
    summary=_l("Biens, comptes, interventions, dossiers et contacts."),
    blocks=(
        ("p", _l("L'accueil regroupe vos biens, le solde de vos comptes, les interventions en "
                 "cours, vos recherches, vos dossiers, vos contacts et votre agence.")),
        ("p", _l("Un solde positif signifie que vous êtes créditeur ; un solde négatif, qu'un "
                 "montant reste à régler.")),
        ("p", _l("Pour modifier votre adresse mail ou votre mot de passe, ouvrez « Mon "
                 "compte ».")),
    ),
)

HELP_TOPICS: tuple[HelpTopic, ...] = (SIGN_IN, FIRST_SIGN_IN, HOME_HELP)
