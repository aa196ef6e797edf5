#!/bin/sh
# The one HTTP server command of the image: "serve.sh idp" or "serve.sh portal" serves
# that app on $PORT (default 5100 / 5101) with config/serve.py (granian). The Kubernetes
# manifests (deploy/kubernetes) run this script, so a change of server is made here only.
set -eu
app="${1:?usage: serve.sh idp|portal}"
case "$app" in
  idp) port="${PORT:-5100}" ;;
  portal) port="${PORT:-5101}" ;;
  *) echo "serve.sh: unknown app $app (idp or portal)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
exec python config/serve.py "$app.wsgi:app" --bind "0.0.0.0:$port"
