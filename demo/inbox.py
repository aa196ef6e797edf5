"""The demo's mail inbox: an SMTP catcher (aiosmtpd) and a small web page to read what it caught.

``python -m demo.inbox --dir .demo/mail --smtp-port 8025 --http-port 5102``

The idp sends real mails (verification links, new password links) over SMTP; in the demo
they land here instead of anyone's mailbox, so a visitor can click the link as a customer
would. Mails are kept in a Maildir (stdlib :mod:`mailbox`): each one is a file written
atomically, which lets the SMTP thread write while the web page reads, and keeps them
across restarts of the demo. Loopback only; this is never deployed.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import mailbox
import re
import signal
import sys
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from flask import Flask, Response, abort, render_template, request, url_for
from markupsafe import Markup, escape
from werkzeug.serving import make_server

LOCALES = ("fr", "en")

#: Every string of the page, French first. Small enough not to need a Babel catalogue.
TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Boîte de réception de la démo",
        "intro": "Les mails envoyés pendant la démo arrivent ici au lieu d’une vraie "
                 "boîte aux lettres. Ouvrez-en un et cliquez sur son lien.",
        "empty": "Aucun mail pour l’instant. Ils arrivent ici dès que l’espace client en "
                 "envoie (vérification d’adresse, nouveau mot de passe).",
        "refresh": "Actualiser",
        "date": "Date",
        "from": "De",
        "to": "À",
        "subject": "Objet",
        "no_subject": "(sans objet)",
        "back": "Retour à la boîte de réception",
        "html": "Version HTML",
        "text": "Version texte",
        "no_text": "Ce mail n’a pas de version texte.",
        "not_found": "Ce mail n’existe pas ou plus.",
        "other_lang": "English",
        "count": "{n} mail(s)",
    },
    "en": {
        "title": "Demo inbox",
        "intro": "Mails sent during the demo land here instead of a real mailbox. "
                 "Open one and click its link.",
        "empty": "No mail yet. They arrive here as soon as the customer area sends one "
                 "(address verification, new password).",
        "refresh": "Refresh",
        "date": "Date",
        "from": "From",
        "to": "To",
        "subject": "Subject",
        "no_subject": "(no subject)",
        "back": "Back to the inbox",
        "html": "HTML version",
        "text": "Text version",
        "no_text": "This mail has no text version.",
        "not_found": "This mail does not exist (any more).",
        "other_lang": "Français",
        "count": "{n} mail(s)",
    },
}

#: What the HTML part may do in its frame: nothing but show itself and follow a clicked link
#: (in the whole tab, as a link in a real mail client would).
HTML_PART_CSP = (
    "sandbox allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation;"
    " default-src 'none'; style-src 'unsafe-inline'; img-src data: http: https:"
)

URL_RE = re.compile(r"https?://[^\s<>\"']+")


class MaildirHandler:
    """aiosmtpd handler: every accepted mail becomes one file of the Maildir."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        mailbox.Maildir(self.path, create=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Store the mail as received, with the envelope recipients (Bcc has no header)."""
        raw: bytes = envelope.original_content or envelope.content
        rcpts = ", ".join(envelope.rcpt_tos)
        box = mailbox.Maildir(self.path, create=True)
        box.add(f"X-Demo-Envelope-To: {rcpts}\r\n".encode() + raw)
        return "250 Message accepted for delivery"


@dataclass(frozen=True)
class Mail:
    """One caught mail, decoded for display."""

    key: str
    date: datetime | None
    sender: str
    to: str
    subject: str
    html: str | None
    text: str | None


def parse(key: str, raw: bytes) -> Mail:
    """Decode headers (RFC 2047) and the text and HTML bodies of a raw mail."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    try:
        date = parsedate_to_datetime(str(msg["Date"])) if msg["Date"] else None
    except (TypeError, ValueError):
        date = None
    html_part = msg.get_body(preferencelist=("html",))
    text_part = msg.get_body(preferencelist=("plain",))
    return Mail(
        key=key, date=date, sender=str(msg["From"] or ""),
        to=str(msg["To"] or msg["X-Demo-Envelope-To"] or ""),
        subject=str(msg["Subject"] or ""),
        html=html_part.get_content() if isinstance(html_part, EmailMessage) else None,
        text=text_part.get_content() if isinstance(text_part, EmailMessage) else None,
    )


def linkify(text: str) -> Markup:
    """Plain text, escaped, with every http(s) URL made a link (so it can be clicked)."""
    link = Markup('<a href="{0}" target="_top">{0}</a>')
    out: list[Markup] = []
    pos = 0
    for match in URL_RE.finditer(text):
        url = match.group(0).rstrip(".,;:)")
        out.append(escape(text[pos:match.start()]))
        out.append(link.format(url))  # format() escapes the URL
        pos = match.start() + len(url)
    out.append(escape(text[pos:]))
    return Markup("").join(out)


def with_top_target(html: str) -> str:
    """Make the mail's links open in the whole tab rather than inside the frame."""
    base = '<base target="_top">'
    match = re.search(r"<head[^>]*>", html, flags=re.IGNORECASE)
    if match:
        return html[:match.end()] + base + html[match.end():]
    return base + html


def create_app(maildir: str | Path, smtp_address: str = "") -> Flask:
    """The inbox web page over the Maildir the SMTP catcher writes."""
    app = Flask(__name__)
    path = Path(maildir)
    app.config["INBOX_MAILDIR"] = str(path)

    def box() -> mailbox.Maildir:
        return mailbox.Maildir(path, create=True)

    def lang() -> str:
        asked = request.args.get("lang", "")
        if asked in LOCALES:
            return asked
        return request.accept_languages.best_match(LOCALES) or "fr"

    def load(key: str) -> Mail:
        if key.startswith(".") or "/" in key:
            abort(404)
        try:
            raw = box().get_bytes(key)
        except KeyError:
            abort(404)
        return parse(key, raw)

    def when(mail: Mail, locale: str) -> str:
        if mail.date is None:
            return ""
        local = mail.date.astimezone()
        return local.strftime("%d/%m/%Y %H:%M:%S" if locale == "fr" else "%Y-%m-%d %H:%M:%S")

    @app.context_processor
    def texts() -> dict[str, Any]:
        locale = lang()
        other = "en" if locale == "fr" else "fr"
        if request.endpoint and request.endpoint != "static":
            switch = url_for(request.endpoint, **(request.view_args or {}), lang=other)
        else:  # an unknown URL: stay on it
            switch = f"{request.path}?lang={other}"
        return {"t": TEXTS[locale], "lang": locale, "other": other, "when": when,
                "switch_url": switch, "smtp_address": smtp_address}

    @app.get("/")
    def index() -> str:
        mails = []
        current = box()
        for key in current.iterkeys():
            try:
                mails.append(parse(key, current.get_bytes(key)))
            except KeyError:  # removed while listing
                continue
        epoch = datetime.min.replace(tzinfo=datetime.now().astimezone().tzinfo)
        mails.sort(key=lambda m: m.date or epoch, reverse=True)
        return render_template("inbox/list.html", mails=mails)

    @app.get("/mail/<key>")
    def message(key: str) -> str:
        mail = load(key)
        return render_template("inbox/message.html", mail=mail,
                               text=linkify(mail.text) if mail.text else None)

    @app.get("/mail/<key>/html")
    def html_part(key: str) -> Response:
        """The HTML body alone, for the sandboxed frame of the message page."""
        mail = load(key)
        if mail.html is None:
            abort(404)
        resp = Response(with_top_target(mail.html), mimetype="text/html")
        resp.headers["Content-Security-Policy"] = HTML_PART_CSP
        return resp

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok", mimetype="text/plain")

    @app.errorhandler(404)
    def not_found(_error: Exception) -> tuple[str, int]:
        return render_template("inbox/not_found.html"), 404

    @app.after_request
    def headers(resp: Response) -> Response:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        return resp

    return app


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # stop the SMTP thread cleanly when the demo ends


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m demo.inbox", description=__doc__)
    parser.add_argument("--dir", default=".demo/mail", help="Maildir to store mails in")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=8025)
    parser.add_argument("--http-port", type=int, default=5102)
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    smtp = Controller(MaildirHandler(args.dir), hostname=args.host, port=args.smtp_port)
    smtp.start()
    app = create_app(args.dir, f"{args.host}:{args.smtp_port}")
    server = make_server(args.host, args.http_port, app, threaded=True)
    print(f"LISTENING http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        smtp.stop()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
