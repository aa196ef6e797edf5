#!/usr/bin/env bash
# make demo: migrate SQLite databases, load the demo realm, customers and portal data,
# then run an SMTP catcher, the idp and the portal until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
DEMO=.demo
mkdir -p "$DEMO"
[ -f "$DEMO/secret" ] || "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$DEMO/secret"
[ -f "$DEMO/portal-secret" ] || "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$DEMO/portal-secret"

IDP_PORT=${IDP_PORT:-5100}
PORTAL_PORT=${PORTAL_PORT:-5101}
SMTP_PORT=${SMTP_PORT:-8025}
export IDP_SECRET_KEY="$(cat "$DEMO/secret")"
export IDP_PUBLIC_URL="http://127.0.0.1:$IDP_PORT"
export IDP_SQLALCHEMY_DATABASE_URI="sqlite:///$PWD/$DEMO/idp.db"
export IDP_MAIL_SERVER=127.0.0.1 IDP_MAIL_PORT=$SMTP_PORT
export PORTAL_SECRET_KEY="$(cat "$DEMO/secret")-portal"
export PORTAL_PUBLIC_URL="http://127.0.0.1:$PORTAL_PORT"
export PORTAL_OIDC_ISSUER="$IDP_PUBLIC_URL/realms/paris-ile-de-france"
export PORTAL_OIDC_CLIENT_ID=portal
export PORTAL_OIDC_CLIENT_SECRET="$(cat "$DEMO/portal-secret")"
export PORTAL_SQLALCHEMY_DATABASE_URI="sqlite:///$PWD/$DEMO/portal.db"

"$BIN/idp" db upgrade >/dev/null
# The portal's client secret is generated locally, never stored in the repository.
"$BIN/python" - "$DEMO/portal-secret" > "$DEMO/realm.json" <<'PY'
import json, sys
realm = json.load(open("config/demo/realm.json", encoding="utf-8"))
for client in realm["clients"]:
    if client["client_id"] == "portal":
        client["client_secret"] = open(sys.argv[1]).read().strip()
print(json.dumps(realm, ensure_ascii=False))
PY
"$BIN/idp" realms import "$DEMO/realm.json" >/dev/null
if [ -f config/demo/load_demo.sh ]; then
  PATH="$PWD/$BIN:$PATH" bash config/demo/load_demo.sh >/dev/null
else
  "$BIN/idp" customers create --realm paris-ile-de-france --identifier 100001 \
    --email marie.dupont@example.test --email-verified --password 'Demo-2026!' \
    --given-name Marie --family-name Dupont >/dev/null 2>&1 || true
fi
"$BIN/portal" db upgrade >/dev/null
"$BIN/portal" data import config/demo/portal-data.json >/dev/null

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
"$BIN/python" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" > "$DEMO/mail.log" 2>&1 &
pids+=($!)
"$BIN/gunicorn" -c config/gunicorn.conf.py -b "127.0.0.1:$IDP_PORT" idp.wsgi:app > "$DEMO/idp.log" 2>&1 &
pids+=($!)
"$BIN/gunicorn" -c config/gunicorn.conf.py -b "127.0.0.1:$PORTAL_PORT" portal.wsgi:app > "$DEMO/portal.log" 2>&1 &
pids+=($!)
sleep 2
cat <<TXT

  Espace Client demo is running (Ctrl-C stops it)

  Portal (start here):  http://127.0.0.1:$PORTAL_PORT/
  Identity provider:    http://127.0.0.1:$IDP_PORT/realms/paris-ile-de-france/account/
  Discovery:            http://127.0.0.1:$IDP_PORT/realms/paris-ile-de-france/.well-known/openid-configuration
  Mails (verification links) are written to: $DEMO/mail.log

  Demo logins (realm Paris Île-de-France):
    100001 / Demo-2026!     Marie Dupont, active account
    100002 / 123456         Jean Martin, temporary code: "Première connexion"
    100003 / Ancien-mdp1    Sophie Bernard, old site's password: "Première connexion"

TXT
wait
