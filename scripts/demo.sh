#!/usr/bin/env bash
# make demo: migrate SQLite databases, load the demo realm, customers and portal data, link
# one demo customer to the demo social identities, then run the mail inbox, the four demo
# social providers, the idp and the portal until Ctrl-C.
# Ports and the state folder can be changed (the screenshot script runs a second demo):
#   DEMO_DIR IDP_PORT PORTAL_PORT SMTP_PORT INBOX_PORT FACEBOOK_PORT LINKEDIN_PORT GOOGLE_PORT X_PORT
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
DEMO=${DEMO_DIR:-.demo}
mkdir -p "$DEMO"
DEMO_ABS=$(cd "$DEMO" && pwd)
[ -f "$DEMO/secret" ] || "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$DEMO/secret"
[ -f "$DEMO/portal-secret" ] || "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$DEMO/portal-secret"

export IDP_PORT=${IDP_PORT:-5100}
export PORTAL_PORT=${PORTAL_PORT:-5101}
SMTP_PORT=${SMTP_PORT:-8025}
INBOX_PORT=${INBOX_PORT:-5102}
export FACEBOOK_PORT=${FACEBOOK_PORT:-5111} LINKEDIN_PORT=${LINKEDIN_PORT:-5112}
export GOOGLE_PORT=${GOOGLE_PORT:-5113} X_PORT=${X_PORT:-5114}
REALM=paris-ile-de-france
export IDP_SECRET_KEY="$(cat "$DEMO/secret")"
# localhost, not 127.0.0.1: browsers refuse passkeys (WebAuthn) on an IP address. The
# servers still listen on 127.0.0.1 only; browsers resolve localhost to it.
HOST=localhost
export IDP_PUBLIC_URL="http://$HOST:$IDP_PORT"
# The demo portal listens on loopback: let back-channel logout reach it (never in production).
export IDP_OUTBOUND_LOOPBACK=1
export IDP_SQLALCHEMY_DATABASE_URI="sqlite:///$DEMO_ABS/idp.db"
export IDP_MAIL_SERVER=127.0.0.1 IDP_MAIL_PORT=$SMTP_PORT
export PORTAL_SECRET_KEY="$(cat "$DEMO/secret")-portal"
export PORTAL_PUBLIC_URL="http://$HOST:$PORTAL_PORT"
export PORTAL_OIDC_ISSUER="$IDP_PUBLIC_URL/realms/$REALM"
export PORTAL_OIDC_CLIENT_ID=portal
export PORTAL_OIDC_CLIENT_SECRET="$(cat "$DEMO/portal-secret")"
export PORTAL_SQLALCHEMY_DATABASE_URI="sqlite:///$DEMO_ABS/portal.db"

# The demo realm and portal data for these ports; the portal's client secret is generated
# locally, never stored in the repository.
"$BIN/python" -m demo.config "$DEMO"
"$BIN/idp" db upgrade >/dev/null
if [ -f config/demo/load_demo.sh ]; then
  # Its output (migrations, "already exists") is kept in load.log and shown only on failure.
  PATH="$PWD/$BIN:$PATH" bash config/demo/load_demo.sh > "$DEMO/load.log" 2>&1 \
    || { cat "$DEMO/load.log" >&2; exit 1; }
else
  "$BIN/idp" customers create --realm "$REALM" --identifier 100001 \
    --email marie.dupont@example.test --email-verified --password 'Demo-2026!' \
    --given-name Marie --family-name Dupont >/dev/null 2>&1 || true
fi
"$BIN/idp" realms import "$DEMO/realm.json" >/dev/null
# Marie Dupont (100001) signs in with any of the four buttons as "Marie Dupont".
"$BIN/python" -m demo.seed_links config/demo/social-users.json --realm "$REALM" >/dev/null
"$BIN/portal" db upgrade > "$DEMO/load.log" 2>&1 || { cat "$DEMO/load.log" >&2; exit 1; }
"$BIN/portal" data import "$DEMO/portal-data.json" >/dev/null
rm -f "$DEMO/mail.log"  # mails now go to the inbox page (kept in $DEMO/mail/)

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
trap "exit 0" INT TERM
"$BIN/python" -m demo.inbox --dir "$DEMO/mail" --smtp-port "$SMTP_PORT" \
  --http-port "$INBOX_PORT" > "$DEMO/inbox.log" 2>&1 &
pids+=($!)
for alias in facebook linkedin google x; do
  port_var="${alias^^}_PORT"
  "$BIN/python" -m "tests.fakes.$alias" --demo --port "${!port_var}" \
    --users config/demo/social-users.json > "$DEMO/$alias.log" 2>&1 &
  pids+=($!)
done
"$BIN/python" config/serve.py idp.wsgi:app --bind "127.0.0.1:$IDP_PORT" > "$DEMO/idp.log" 2>&1 &
pids+=($!)
"$BIN/python" config/serve.py portal.wsgi:app --bind "127.0.0.1:$PORTAL_PORT" > "$DEMO/portal.log" 2>&1 &
pids+=($!)
# The mail outbox's worker: retries mails the idp could not send at once (docs/operations.md).
"$BIN/idp" mail worker > "$DEMO/mail-worker.log" 2>&1 &
pids+=($!)
if ! "$BIN/python" -m demo.wait "http://127.0.0.1:$INBOX_PORT/healthz" \
    "http://127.0.0.1:$FACEBOOK_PORT/_fake/health" "http://127.0.0.1:$LINKEDIN_PORT/_fake/health" \
    "http://127.0.0.1:$GOOGLE_PORT/_fake/health" "http://127.0.0.1:$X_PORT/_fake/health" \
    "$PORTAL_OIDC_ISSUER/.well-known/openid-configuration" "$PORTAL_PUBLIC_URL/"; then
  echo "The demo did not start; see the logs in $DEMO/ (inbox, facebook, linkedin, google, x, idp, portal, mail-worker)." >&2
  exit 1
fi
cat <<TXT

  Espace Client demo is running (Ctrl-C stops it)

  Portal (start here):  http://$HOST:$PORTAL_PORT/
  Identity provider:    $IDP_PUBLIC_URL/realms/$REALM/account/
  Discovery:            $PORTAL_OIDC_ISSUER/.well-known/openid-configuration
  Mail inbox:           http://$HOST:$INBOX_PORT/   (verification and new-password links)

  Demo logins (realm Paris Île-de-France):
    100001 / Demo-2026!     Marie Dupont, active account
    100002 / 123456         Jean Martin, temporary code: "Première connexion"
    100003 / Ancien-mdp1    Sophie Bernard, old site's password: "Première connexion"

  Social sign-in: demo providers (fournisseurs de démonstration), choose an account on their page:
    Facebook  http://127.0.0.1:$FACEBOOK_PORT/    LinkedIn  http://127.0.0.1:$LINKEDIN_PORT/
    Google    http://127.0.0.1:$GOOGLE_PORT/    X            http://127.0.0.1:$X_PORT/
    Marie Dupont     already linked to 100001 with all four: straight in
    Sophie Bernard   not linked yet: prove 100003 / Ancien-mdp1 once, then the button suffices
    Jean Martin      no email, not linked: link it with 100002's première connexion

TXT
# Stop everything when one of them stops, rather than leave a half-working demo.
wait -n || true
echo "A demo process stopped; see the logs in $DEMO/." >&2
exit 1
