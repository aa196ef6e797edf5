"""The demo inbox: a mail caught over real SMTP (aiosmtpd) is listed and opened, in French
and in English, with its links clickable and its HTML confined to a sandboxed frame."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from flask.testing import FlaskClient

from demo.inbox import HTML_PART_CSP, MaildirHandler, create_app, linkify, with_top_target
from demo.run import free_ports

LINK = "http://127.0.0.1:5100/realms/paris-ile-de-france/action/AbC-123_x?lang=fr&n=1"


@pytest.fixture
def maildir(tmp_path: Path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
def smtp_port(maildir: Path) -> Iterator[int]:
    port = free_ports(1)[0]
    ctl = Controller(MaildirHandler(maildir), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield port
    finally:
        ctl.stop()


@pytest.fixture
def client(maildir: Path) -> FlaskClient:
    return create_app(maildir).test_client()


def send(port: int, subject: str, to: str = "Élodie Durand <elodie.durand@exemple.test>",
         html: bool = True) -> None:
    msg = EmailMessage()
    msg["From"] = "Mon espace client <no-reply@monespaceclient.test>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Thu, 03 Dec 2026 12:00:00 +0100"
    msg.set_content(f"Confirmer mon adresse email : {LINK}.\n\nSinon, ignorez ce message.\n")
    if html:
        msg.add_alternative(
            f'<html><head><title>t</title></head><body><p><a href="{LINK}">Confirmer</a></p>'
            "<script>alert(1)</script></body></html>", subtype="html")
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
        smtp.send_message(msg)


def test_empty_inbox_says_so_in_french_then_english(client: FlaskClient):
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="fr">' in page
    assert "Boîte de réception de la démo" in page and "Aucun mail pour l’instant" in page
    page = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en">' in page and "Demo inbox" in page and "No mail yet" in page


def test_caught_mail_is_listed_and_opened_with_clickable_links(client: FlaskClient,
                                                               smtp_port: int, maildir: Path):
    send(smtp_port, "Mon espace client - Vérification de votre adresse de messagerie")
    assert len(list((maildir / "new").iterdir())) == 1  # kept on disk, across restarts

    listing = client.get("/")
    assert listing.status_code == 200
    page = listing.get_data(as_text=True)
    assert "1 mail(s)" in page
    assert "Vérification de votre adresse de messagerie" in page  # RFC 2047 decoded
    assert "03/12/2026" in page
    key = page.split('href="/mail/', 1)[1].split("?", 1)[0]

    opened = client.get(f"/mail/{key}?lang=fr").get_data(as_text=True)
    assert "Élodie Durand &lt;elodie.durand@exemple.test&gt;" in opened  # decoded
    assert "Mon espace client &lt;no-reply@monespaceclient.test&gt;" in opened
    href = LINK.replace("&", "&amp;")
    assert f'<a href="{href}" target="_top">{href}</a>' in opened  # text part, clickable
    assert f'src="/mail/{key}/html"' in opened and 'sandbox="' in opened
    assert "<script>" not in opened  # the HTML part is never inlined in our page

    html = client.get(f"/mail/{key}/html")
    assert html.status_code == 200
    assert html.headers["Content-Security-Policy"] == HTML_PART_CSP
    assert "allow-scripts" not in HTML_PART_CSP
    body = html.get_data(as_text=True)
    assert '<head><base target="_top">' in body and f'href="{LINK}"' in body

    english = client.get(f"/mail/{key}?lang=en").get_data(as_text=True)
    assert "Back to the inbox" in english and "Text version" in english
    assert 'href="/mail/' + key + '?lang=fr"' in english  # the switch back to French


def test_text_only_mail_and_unknown_mail(client: FlaskClient, smtp_port: int):
    send(smtp_port, "Texte seul", to="jean.martin@example.test", html=False)
    page = client.get("/").get_data(as_text=True)
    key = page.split('href="/mail/', 1)[1].split("?", 1)[0]
    opened = client.get(f"/mail/{key}").get_data(as_text=True)
    assert "Version HTML" not in opened and "Version texte" in opened
    assert client.get(f"/mail/{key}/html").status_code == 404
    missing = client.get("/mail/no-such-mail")
    assert missing.status_code == 404
    assert "Ce mail n’existe pas ou plus." in missing.get_data(as_text=True)
    assert client.get("/mail/..%2Fetc").status_code == 404


def test_linkify_escapes_everything_else():
    out = str(linkify('<b>voir</b> https://a.test/x?y=1&z=<2> (https://b.test/p).'))
    assert out.startswith("&lt;b&gt;voir&lt;/b&gt; ")
    assert '<a href="https://a.test/x?y=1&amp;z=" target="_top">' in out
    assert '(<a href="https://b.test/p" target="_top">https://b.test/p</a>).' in out


def test_with_top_target_without_head():
    assert with_top_target("<p>x</p>") == '<base target="_top"><p>x</p>'
