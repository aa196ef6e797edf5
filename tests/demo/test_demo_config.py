"""The demo realm: its four providers are the local demo fakes (never in production
settings), it survives other ports, the idp accepts it, and the link seed is consistent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from demo.config import CONFIG, DEFAULT_PORTS, PROVIDERS, demo_portal_data, demo_realm
from demo.seed_links import links_to_seed
from tests.fakes.common import load_users, stable_id
from tests.fakes.run import identity_provider_settings

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
OTHER_PORTS = {"idp": 6100, "portal": 6101, "facebook": 6111, "linkedin": 6112,
               "google": 6113, "x": 6114}
FAKE_CLIENT_IDS = ("google-client-id", "86linkedinclient", "1234567890123456", "x-client-id")


def url_fields(entry: dict) -> list[str]:
    return [v for k, v in entry.items() if k.endswith("_url")]


def test_the_four_providers_are_the_loopback_fakes_with_their_clients():
    realm = demo_realm(DEFAULT_PORTS)
    entries = {e["alias"]: e for e in realm["identity_providers"]}
    assert list(entries) == list(PROVIDERS)
    for alias, entry in entries.items():
        # Exactly what the fakes expect (client, secret, URLs): the tests' own settings.
        assert entry == identity_provider_settings(
            alias, f"http://127.0.0.1:{DEFAULT_PORTS[alias]}")
        assert entry["enabled"] is True
        for url in url_fields(entry):
            parts = urlsplit(url)
            assert (parts.scheme, parts.hostname) == ("http", "127.0.0.1"), url


def test_other_ports_rewrite_every_loopback_url():
    ports = {**DEFAULT_PORTS, **OTHER_PORTS}
    realm = demo_realm(ports, portal_secret="s3cret")
    text = json.dumps(realm)
    for port in (5100, 5101, 5111, 5112, 5113, 5114):
        assert f"127.0.0.1:{port}" not in text and f"localhost:{port}" not in text
    portal = next(c for c in realm["clients"] if c["client_id"] == "portal")
    assert portal["client_secret"] == "s3cret"
    assert portal["redirect_uris"] == ["http://localhost:6101/auth/callback"]
    google = next(e for e in realm["identity_providers"] if e["alias"] == "google")
    assert google["discovery_url"] == "http://127.0.0.1:6113/.well-known/openid-configuration"
    assert demo_portal_data(ports)["issuer"] == "http://localhost:6100/realms/paris-ile-de-france"


def test_the_pages_a_visitor_opens_are_on_localhost_where_passkeys_work():
    """WebAuthn refuses an IP address as relying party: the idp's public URL, the portal's
    and the URLs the README and ``make demo`` print are on ``localhost``."""
    from idp.core.passkeys import passkeys_available

    demo_sh = (ROOT / "scripts" / "demo.sh").read_text(encoding="utf-8")
    assert 'HOST=localhost' in demo_sh
    assert 'export IDP_PUBLIC_URL="http://$HOST:$IDP_PORT"' in demo_sh
    assert 'export PORTAL_PUBLIC_URL="http://$HOST:$PORTAL_PORT"' in demo_sh
    assert passkeys_available("http://localhost:5100")
    assert not passkeys_available("http://127.0.0.1:5100")
    realm = demo_realm(DEFAULT_PORTS)
    portal = next(c for c in realm["clients"] if c["client_id"] == "portal")
    for url in (*portal["redirect_uris"], *portal["post_logout_redirect_uris"],
                portal["backchannel_logout_uri"], demo_portal_data(DEFAULT_PORTS)["issuer"]):
        assert urlsplit(url).hostname == "localhost", url
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for port in (5100, 5101, 5102):  # the pages to open (not the settings' defaults)
        assert f"http://127.0.0.1:{port}/" not in readme
        assert f"http://localhost:{port}/" in readme
    assert "client_secret" not in json.loads((CONFIG / "realm.json").read_text())["clients"][0]


def test_demo_providers_never_appear_in_production_settings():
    for path in (ROOT / "config").iterdir():
        if path.is_file() and path.name != "gunicorn.conf.py":
            text = path.read_text(encoding="utf-8")
            for client_id in FAKE_CLIENT_IDS:
                assert client_id not in text, f"{path.name} names the demo provider {client_id}"


def test_seed_links_marie_on_all_four_and_the_fakes_issue_those_subjects():
    users = load_users(str(CONFIG / "social-users.json"))
    links = links_to_seed(users)
    assert sorted((ident, provider) for ident, provider, _s, _e in links) == [
        ("100001", p) for p in sorted(PROVIDERS)]
    kinds = {"google": "numeric", "linkedin": "opaque", "facebook": "numeric", "x": "numeric"}
    for _ident, provider, subject, email in links:
        assert stable_id(provider, "marie", users["marie"], kinds[provider]) == subject
        assert email == "marie.dupont@example.test"
    # The one to link (Sophie, 100003) and Jean (no email) are not linked.
    assert "linked_to" not in users["sophie"] and "linked_to" not in users["jean"]
    customers = (CONFIG / "customers.csv").read_text(encoding="utf-8")
    assert "100003,sophie.bernard@example.test,Sophie,Bernard" in customers


def test_the_idp_imports_the_demo_realm(tmp_path: Path):
    """The realm as ``make demo`` writes it, on other ports, through ``idp realms import``."""
    env = {**os.environ, "DEMO_DIR": str(tmp_path),
           **{f"{name.upper()}_PORT": str(port) for name, port in OTHER_PORTS.items()},
           "IDP_SECRET_KEY": "demo-test-" + "k" * 32,
           "IDP_PUBLIC_URL": "http://localhost:6100", "IDP_OUTBOUND_LOOPBACK": "1",
           "IDP_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'idp.db'}"}
    (tmp_path / "portal-secret").write_text("portal-secret-for-the-test\n")
    subprocess.run([sys.executable, "-m", "demo.config", str(tmp_path)], cwd=ROOT, env=env,
                   check=True)
    for args in (["db", "upgrade"], ["realms", "import", str(tmp_path / "realm.json")]):
        done = subprocess.run([str(BIN / "idp"), *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
    exported = subprocess.run([str(BIN / "idp"), "realms", "export", "paris-ile-de-france"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert exported.returncode == 0, exported.stderr
    providers = json.loads(exported.stdout)["identity_providers"]
    assert sorted(p["alias"] for p in providers) == sorted(PROVIDERS)
    assert {urlsplit(u).port for p in providers for u in url_fields(p)} == {
        6111, 6112, 6113, 6114}
