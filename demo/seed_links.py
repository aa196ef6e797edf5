"""Link demo customers to demo social identities, so the demo shows a known identity.

``python -m demo.seed_links USERS.json --realm SLUG`` (with the idp's ``IDP_*`` environment):
for every user of the fakes' users file that has ``"linked_to": "<identifier>"``, link each
of the user's pinned ``ids`` (one per provider) to that customer. Idempotent.

Why Python and not the ``idp`` command: the idp has no command to link a social identity
(a person normally proves their identifier first). The link is made with the idp's own
rules (:func:`idp.federation.linking.link`), so it is stored and audited as any other link.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def links_to_seed(users: dict[str, Any]) -> list[tuple[str, str, str, str | None]]:
    """``(identifier, provider, subject, email)`` for each pinned id of a linked user.

    Pure, so a test can check the seed file without a database.
    """
    out: list[tuple[str, str, str, str | None]] = []
    for key, user in users.items():
        identifier = user.get("linked_to")
        if not identifier:
            continue
        ids = user.get("ids")
        if not isinstance(ids, dict) or not ids:
            raise ValueError(f"demo user {key!r} is linked_to {identifier} but pins no ids")
        for provider, subject in sorted(ids.items()):
            out.append((str(identifier), provider, str(subject), user.get("email")))
    return out


def _idp_api() -> tuple[Any, Any]:
    """The idp's linking module and realm model, in the new layout (``idp.core``) or the old.

    ``idp/`` is being restructured; the demo must start with either layout meanwhile.
    """
    try:
        from idp.core import linking
        from idp.core.models import Realm
    except ImportError:
        from idp.models import Realm  # type: ignore[no-redef]

        from idp.federation import linking  # type: ignore[no-redef]
    return linking, Realm


def seed(users_file: Path, realm_slug: str) -> list[str]:
    """Make the links in the idp database; returns one line per link made or kept."""
    from idp import create_app

    linking, realm_model = _idp_api()
    db = linking.db
    users = json.loads(users_file.read_text(encoding="utf-8"))
    done: list[str] = []
    app = create_app()
    with app.app_context():
        realm = db.session.execute(
            db.select(realm_model).filter_by(slug=realm_slug)).scalar_one_or_none()
        if realm is None:
            raise SystemExit(f"unknown realm: {realm_slug}")
        for identifier, provider, subject, email in links_to_seed(users):
            customer = db.session.execute(
                db.select(linking.Customer).filter_by(realm_id=realm.id, identifier=identifier)
            ).scalar_one_or_none()
            if customer is None:
                raise SystemExit(f"unknown customer {identifier} in realm {realm_slug}")
            _row, created = linking.link(customer, provider, subject, email, "demo_seed")
            done.append(f"{identifier} {provider} {'linked' if created else 'already linked'}")
        db.session.commit()
    return done


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m demo.seed_links", description=__doc__)
    parser.add_argument("users_file", type=Path)
    parser.add_argument("--realm", required=True)
    args = parser.parse_args(argv)
    for line in seed(args.users_file, args.realm):
        print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
