"""HTTP security headers applied to every response of both apps."""

from __future__ import annotations

from flask import Flask, Response

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self' {form_action}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def init_security_headers(app: Flask, form_action: str = "") -> None:
    """Register an after_request hook setting CSP, framing, sniffing and referrer headers.

    ``form_action`` widens the CSP ``form-action`` directive, since the idp's form_post
    response and its logout pages post to client apps.
    """

    @app.after_request
    def _headers(response: Response) -> Response:
        extra = app.config.get("CSP_FORM_ACTION", form_action)
        response.headers.setdefault("Content-Security-Policy", CSP.format(form_action=extra))
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if app.config.get("PUBLIC_URL", "").startswith("https://"):
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        return response
