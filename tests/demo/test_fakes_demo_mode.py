"""The fakes as ``make demo`` runs them: every page a visitor sees says "fournisseur de
démonstration / demo provider", French first; without ``--demo`` they stay the test pages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from demo.config import CONFIG
from tests.fakes import facebook, google, linkedin, x
from tests.fakes.common import load_users

ROOT = Path(__file__).resolve().parents[2]
APPS = {"google": (google, "/o/oauth2/v2/auth", "google-client-id.apps.googleusercontent.com"),
        "linkedin": (linkedin, "/oauth/v2/authorization", "86linkedinclient"),
        "facebook": (facebook, "/v24.0/dialog/oauth", "1234567890123456"),
        "x": (x, "/i/oauth2/authorize", "x-client-id")}


def authorize_page(alias: str, demo: bool) -> str:
    module, path, client_id = APPS[alias]
    base = "http://127.0.0.1:5113"
    app = module.create_app(base, users=load_users(str(CONFIG / "social-users.json")))
    app.extensions["fake_state"].demo = demo
    query = {"client_id": client_id, "response_type": "code", "state": "s",
             "redirect_uri": f"http://127.0.0.1:5100/realms/paris-ile-de-france/broker/{alias}/endpoint",
             "scope": {"google": "openid email profile", "linkedin": "openid profile email",
                       "facebook": "email,public_profile", "x": "users.read tweet.read"}[alias],
             "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
             "code_challenge_method": "S256", "nonce": "n"}
    resp = app.test_client().get(path, query_string=query)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_data(as_text=True)


@pytest.mark.parametrize("alias", list(APPS))
def test_demo_consent_page_is_labelled_french_first(alias: str):
    page = authorize_page(alias, demo=True)
    assert '<html lang="fr">' in page
    assert "fournisseur de démonstration" in page and "demo provider" in page
    assert page.index("fournisseur de démonstration") < page.index("demo provider")
    assert "Marie Dupont (marie.dupont@example.test)" in page
    assert "Jean Martin (sans email / no email)" in page
    assert '<button type="submit" name="auto" value="allow">Autoriser / Allow</button>' in page
    assert '<button type="submit" name="auto" value="cancel">Annuler / Cancel</button>' in page


@pytest.mark.parametrize("alias", list(APPS))
def test_test_pages_are_unchanged_without_demo(alias: str):
    page = authorize_page(alias, demo=False)
    assert "(fake)" in page and ">Allow<" in page
    assert "démonstration" not in page


def test_demo_flag_on_the_command_line_labels_the_home_page():
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.linkedin", "--demo", "--port", "0",
         "--users", str(CONFIG / "social-users.json")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("LISTENING "), line
        home = requests.get(line.split()[1] + "/", timeout=5)
        assert home.status_code == 200
        assert "LinkedIn : fournisseur de démonstration" in home.text
        assert "Comptes de test / Test accounts" in home.text
        assert "Sophie Bernard (sophie.bernard@example.test)" in home.text
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
