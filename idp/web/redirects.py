"""Sending a response to a client's redirect URI (query or form_post), with RFC 9207 ``iss``."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Response, redirect, render_template

from .context import issuer


def with_params(uri: str, params: dict[str, str]) -> str:
    """``uri`` with ``params`` appended, its own query kept unchanged."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def respond(redirect_uri: str, mode: str, params: dict[str, str]) -> Response:
    """The authorization response by query redirect or auto-submitted form_post."""
    params = {**params, "iss": issuer()}
    if mode == "form_post":
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(redirect_uri))
        html = render_template("form_post.html", action=redirect_uri, params=params)
        resp = Response(html, mimetype="text/html")
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["Content-Security-Policy"] = (
            f"default-src 'none'; script-src 'self'; style-src 'self'; form-action {origin}; "
            "frame-ancestors 'none'; base-uri 'none'"
        )
        return resp
    return redirect(with_params(redirect_uri, params), code=302)
