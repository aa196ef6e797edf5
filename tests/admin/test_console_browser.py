"""The console in headless Chromium against a real idp (granian) and SMTP catcher: a new
staff member enrols TOTP from the one-time link, signs in, finds a customer, issues a
temporary code that then opens a première connexion, creates a client application through
which pyoidc (an independent OIDC library) signs a customer in; the migration dashboard
matches an import of a known CSV; axe-core finds no serious or critical WCAG 2.1 AA issue.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import requests
from oic.oic import Client
from oic.oic.message import AuthorizationResponse, RegistrationResponse
from oic.utils.authn.client import CLIENT_AUTHN_METHOD
from playwright.sync_api import Page, expect

from idp.core.totp import DRIFT_STEPS, STEP_SECONDS
from tests.e2e import conftest as e2e
from tests.e2e.conftest import link_in

# The real servers (idp under granian, SMTP catcher) and Debian's chromium of tests/e2e.
browser_type_launch_args, idp_server, smtp = (e2e.browser_type_launch_args, e2e.idp_server,
                                              e2e.smtp)

pytestmark = pytest.mark.e2e
REALM = "agence-console"
STAFF_EMAIL = "conseillere@agence.test"
PASSWORD = "Console-2026!x"
CALLBACK = "https://crm.agence.test/callback"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
KNOWN_CSV = (
    "identifier,email,given_name,family_name,temporary_password\n"
    "400001,,Ana,Alpha,111111\n"
    "400002,,Bruno,Beta,222222\n"
    "400003,c400003@example.test,Cyril,Gamma,333333\n"
)


def axe_violations(page: Page) -> list[str]:
    """Serious or critical WCAG 2.0/2.1 A and AA violations on the page, as text."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => await axe.run(document, {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})""")
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def fresh_code(secret: str, last: list[int]) -> str:
    """The code of a time step not used yet (the idp refuses a replay). When the current
    step is used, the next one: an authenticator a step ahead, within the drift the idp
    accepts, instead of waiting up to 30 s for the clock; a wait only if that one is
    used too."""
    now_step = int(time.time() // STEP_SECONDS)
    step = max(now_step, last[0] + 1) if last else now_step
    while step > int(time.time() // STEP_SECONDS) + DRIFT_STEPS:
        time.sleep(STEP_SECONDS - time.time() % STEP_SECONDS + 0.5)
    last[:] = [step]
    return pyotp.TOTP(secret).at(step * STEP_SECONDS)


def pyoidc_sign_in(base: str, client_id: str, secret: str, login: str, password: str):
    issuer = f"{base}/realms/{REALM}"
    client = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    client.provider_config(issuer)
    client.store_registration_info(RegistrationResponse(
        client_id=client_id, client_secret=secret, redirect_uris=[CALLBACK],
        token_endpoint_auth_method="client_secret_basic"))
    state, nonce = "st-" + client_id, "n-" + client_id
    request = client.construct_AuthorizationRequest(request_args={
        "client_id": client_id, "response_type": "code", "scope": "openid profile",
        "state": state, "nonce": nonce, "redirect_uri": CALLBACK})
    http = requests.Session()
    resp = http.get(request.request(client.authorization_endpoint))
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', resp.text).group(1)
    resp = http.post(resp.url, data={"login": login, "password": password,
                                     "csrf_token": token}, allow_redirects=False)
    while not resp.headers["Location"].startswith(CALLBACK):
        resp = http.get(requests.compat.urljoin(resp.url, resp.headers["Location"]),
                        allow_redirects=False)
    query = urlsplit(resp.headers["Location"]).query
    auth = client.parse_response(AuthorizationResponse, info=query, sformat="urlencoded")
    tokens = client.do_access_token_request(
        state=state, request_args={"code": auth["code"], "redirect_uri": CALLBACK},
        authn_method="client_secret_basic")
    return tokens["id_token"], parse_qs(query)


def test_staff_member_works_in_the_console(browser, idp_server):
    # bypass_csp: only so that axe-core can be injected; the pages keep their CSP.
    staff_context = browser.new_context(viewport={"width": 1280, "height": 800},
                                        locale="fr-FR", bypass_csp=True)
    page, server = staff_context.new_page(), idp_server
    page.set_default_timeout(10_000)
    server.load_realm({"realm": REALM, "display_name": "Agence Console", "clients": []})
    csv = server.tmp / "known.csv"
    csv.write_text(KNOWN_CSV, encoding="utf-8")
    server.cli("customers", "import", "--realm", REALM, str(csv))
    server.cli("customers", "create", "--realm", REALM, "--identifier", "400009", "--email",
               "actif@example.test", "--email-verified", "--password", "Actif-2026!x")
    out = server.cli("admins", "create", "--email", STAFF_EMAIL, "--realm", REALM).stdout
    link = re.search(r"http://\S+/action/\S+", out).group(0)
    problems: dict[str, list[str]] = {}

    # 1. the one-time link: a password, then the TOTP enrolment at the first sign-in
    page.goto(link)
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("#submit")
    page.goto(server.url + "/admin/console/")
    page.fill("#login", STAFF_EMAIL)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    expect(page.locator("h1")).to_have_text("Double authentification")
    expect(page.locator("svg.qr")).to_be_visible()
    problems["enrolment"] = axe_violations(page)
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    used: list[int] = []
    page.fill("#code", fresh_code(secret, used))
    page.click("#submit")
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.click("#continue")
    expect(page.locator("h1")).to_have_text("Agences")
    problems["home"] = axe_violations(page)

    # 2. sign out and in again: password, then a TOTP code
    page.click("#logout")
    page.goto(server.url + "/admin/console/")
    page.fill("#login", STAFF_EMAIL)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    expect(page.locator("h1")).to_have_text("Code de vérification")
    problems["otp"] = axe_violations(page)
    page.fill("#code", fresh_code(secret, used))
    page.click("#submit")
    expect(page.locator("h1")).to_have_text("Agences")

    # 3. find a customer by identifier, issue a temporary code
    page.click(f"#realm-{REALM}-customers")
    page.fill("#q", "400002")
    page.click("#search")
    expect(page.locator("#result-count")).to_have_text("1 résultat")
    problems["customers"] = axe_violations(page)
    page.get_by_role("link", name="400002").click()
    expect(page.locator("#customer-status")).to_have_text("Première connexion à faire")
    problems["customer"] = axe_violations(page)
    page.click("#new-code")
    code = page.locator("#temporary-code").inner_text()
    assert re.fullmatch(r"\d{6}", code) and code != "222222"

    # ... which opens the première connexion (the old code no longer does)
    customer = browser.new_context(locale="fr-FR").new_page()
    for tried in ("222222", code):
        customer.goto(server.realm_url(REALM, "login?first=1"))
        customer.fill("#login", "400002")
        customer.fill("#password", tried)
        customer.click("#submit")
        if tried == "222222":
            expect(customer.locator("#login-error")).to_be_visible()
    expect(customer.locator("#email")).to_be_visible()
    customer.fill("#email", "bruno@example.test")
    customer.get_by_role("button", name="Soumettre").click()
    customer.goto(server.url + link_in(server.smtp.wait_for("bruno@example.test")))
    customer.click("#confirm")
    customer.fill("#password", "Bruno-2026!x")
    customer.fill("#confirm", "Bruno-2026!x")
    customer.get_by_role("button", name="Soumettre").click()
    expect(customer.locator("h1")).to_have_text("Mon compte")
    customer.context.close()

    # 4. a new client application, then pyoidc signs a customer in through it
    page.goto(server.url + f"/admin/console/realms/{REALM}/clients")
    problems["clients"] = axe_violations(page)
    page.click("#new-client")
    page.fill("#client_id", "crm")
    page.fill("#client_name", "CRM de l'agence")
    page.fill("#redirect_uris", CALLBACK)
    page.fill("#scope", "openid profile")
    page.check("#first_party")
    problems["client form"] = axe_violations(page)
    page.click("#save-client")
    client_secret = page.locator("#client-secret").inner_text()
    id_token, query = pyoidc_sign_in(server.url, "crm", client_secret, "400009", "Actif-2026!x")
    assert id_token["aud"] == ["crm"] and query["iss"] == [f"{server.url}/realms/{REALM}"]
    page.goto(server.url + f"/admin/console/realms/{REALM}/clients/crm")
    expect(page.locator("table.list")).to_contain_text("400009")

    # 5. the dashboard matches the import: 3 imported + 1 created; 400002 done since
    page.goto(server.url + f"/admin/console/realms/{REALM}/migration")
    counts = {k: page.locator(f"#count-{k}").inner_text()
              for k in ("imported", "done", "never", "started", "locked")}
    assert counts == {"imported": "4", "done": "2", "never": "2", "started": "0",
                      "locked": "0"}
    expect(page.locator("svg.chart rect")).to_have_count(30)
    problems["dashboard"] = axe_violations(page)
    page.goto(server.url + f"/admin/console/realms/{REALM}/settings")
    problems["settings"] = axe_violations(page)
    page.goto(server.url + "/admin/console/audit")
    expect(page.locator("#audit-table")).to_contain_text("admin_client_created")
    problems["audit"] = axe_violations(page)
    assert {k: v for k, v in problems.items() if v} == {}
    staff_context.close()
