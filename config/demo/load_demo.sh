#!/bin/sh
# Load the demo realm and customers into the idp database (idempotent: run it again freely).
# Needs `idp` on PATH and the same IDP_* environment as the server (database, secret key).
#   100001 Marie Dupont   active, marie.dupont@example.test verified, password Demo-2026!
#   100002 Jean Martin    temporary code 123456, no email (première connexion)
#   100003 Sophie Bernard old site's password Ancien-mdp1 (bcrypt), email to verify
set -eu
here=$(cd "$(dirname "$0")" && pwd)
realm=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["realm"])' "$here/realm.json")

idp db upgrade
idp realms import "$here/realm.json"
if idp customers export --realm "$realm" | grep -q '^100001,'; then
  echo "customer 100001 already exists"
else
  idp customers create --realm "$realm" --identifier 100001 \
    --email marie.dupont@example.test --email-verified --password 'Demo-2026!' \
    --given-name Marie --family-name Dupont
fi
# Re-importing never resets a customer who already activated.
idp customers import --realm "$realm" "$here/customers.csv"
