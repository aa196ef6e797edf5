"""The floor: a bare Flask app (no idp code) served exactly like the idp.

Why: per-core figures move with the machine and with whatever else runs on it. The same
server, on the same core, in the same run, answering the cheapest requests a protocol
endpoint could answer gives the ceiling of that run; ``make bench`` prints each hot path
as a ratio to it. Three routes:

- ``GET /json``: a small JSON document (the server loop + Flask dispatch);
- ``POST /rs256`` and ``POST /es256``: parse a form, check a Basic header against an HMAC
  held in memory, sign a 9068-shaped JWT (joserfc): the least a client-credentials grant
  can do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from flask import Flask, jsonify, request
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

app = Flask(__name__)
_KEYS = {"RS256": RSAKey.generate_key(2048, private=True),
         "ES256": ECKey.generate_key("P-256", private=True)}
_SECRET = hashlib.sha256(b"floor-secret").hexdigest()
CLIENT = ("floor", "floor-secret")


@app.get("/json")
def small_json() -> object:
    return jsonify(status="ok", service="floor")


def _grant(alg: str) -> object:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    client_id, _, secret = base64.b64decode(value).decode().partition(":")
    if (scheme != "Basic" or request.form.get("grant_type") != "client_credentials"
            or not hmac.compare_digest(hashlib.sha256(secret.encode()).hexdigest(), _SECRET)):
        return jsonify(error="invalid_client"), 401
    now = int(time.time())
    claims = {"iss": "http://floor", "sub": client_id, "aud": client_id,
              "client_id": client_id, "scope": "customer", "iat": now, "exp": now + 300,
              "jti": secrets.token_urlsafe(16)}
    token = jwt.encode({"alg": alg, "kid": alg.lower(), "typ": "at+jwt"}, claims, _KEYS[alg],
                       algorithms=[alg])
    response = jsonify(access_token=token, token_type="Bearer", expires_in=300,
                       scope="customer")
    response.headers["Cache-Control"] = "no-store"
    return response


@app.post("/rs256")
def rs256() -> object:
    return _grant("RS256")


@app.post("/es256")
def es256() -> object:
    return _grant("ES256")


@app.get("/healthz")
def healthz() -> object:
    return jsonify(status="ok")
