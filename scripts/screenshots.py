"""Screenshots of the seed's screens, in French, from the real apps: ``make screenshots``.

Starts a whole demo (``scripts/demo.sh``) in a throwaway folder on free ports, then walks
the première connexion of demo customer 100002 (temporary code 123456) in headless Chromium,
from the portal to the portal's home, and saves one PNG per screen in ``docs/screenshots/``.
The README shows these files, so running this again keeps them current with the product.

Debian's chromium is used (``CHROMIUM_PATH``, default ``/usr/bin/chromium``); Playwright
never downloads a browser here.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a file: make the `demo` package importable

from demo.run import RunningDemo, running_demo  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
OUT = ROOT / "docs" / "screenshots"
EMAIL = "jean.martin@example.test"
NEW_PASSWORD = "Jean-Demo-2026!"

#: File name → what it shows, in the order of the journey (the README uses these names).
SCREENS = {
    "1-sign-in.png": "Connexion (avec les quatre boutons de réseaux sociaux)",
    "2-premiere-connexion.png": "Première connexion : identifiant et code provisoire",
    "3-email.png": "Première connexion : adresse email",
    "4-verify-mail.png": "Vérification de l'adresse email",
    "5-inbox.png": "Boîte de réception de la démo",
    "6-new-password.png": "Nouveau mot de passe",
    "7-portal-home.png": "Accueil du portail",
}


def shoot(page: Page, name: str, out: Path) -> None:
    """One screen, whole page, once its fonts and images are in."""
    assert name in SCREENS, name
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(out / name), full_page=True, animations="disabled")
    print(f"  {out / name}")


def journey(page: Page, demo: RunningDemo, out: Path) -> None:
    """Jean Martin's première connexion, as a customer does it, screen by screen."""
    page.goto(demo.url("portal"))
    page.get_by_role("link", name="Se connecter", exact=True).click()
    expect(page.locator("#social-google")).to_be_visible()
    shoot(page, "1-sign-in.png", out)

    page.click("#first-login")
    expect(page.locator("h1")).to_have_text("Première connexion")
    page.fill("#login", "100002")
    page.fill("#password", "123456")
    shoot(page, "2-premiere-connexion.png", out)
    page.click("#submit")

    page.fill("#email", EMAIL)
    shoot(page, "3-email.png", out)
    page.get_by_role("button", name="Soumettre").click()
    expect(page.locator("h1")).to_have_text(
        "Vous devez vérifier votre courriel pour activer votre compte.")
    shoot(page, "4-verify-mail.png", out)

    # The mail, in the demo inbox, as the visitor reads it; its link is clicked there.
    back = page.url
    page.goto(demo.url("inbox"))
    mail = page.locator("a.mail").first
    expect(mail).to_be_visible(timeout=15_000)
    mail.click()
    expect(page.locator("dl.headers")).to_contain_text(EMAIL)
    shoot(page, "5-inbox.png", out)
    page.locator("pre.text a[href*='/action/']").first.click()
    assert page.url != back

    page.click("#confirm")
    expect(page.locator("h1")).to_have_text("Nouveau mot de passe")
    page.fill("#password", NEW_PASSWORD)
    page.fill("#confirm", NEW_PASSWORD)
    shoot(page, "6-new-password.png", out)
    page.get_by_role("button", name="Soumettre").click()

    expect(page.locator("h1")).to_have_text("Accueil")
    shoot(page, "7-portal-home.png", out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the PNG files")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"chromium not found at {CHROMIUM}: apt-get install chromium")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="demo-screenshots-") as tmp:
        print("starting a demo (make demo's ports when free)…")
        with running_demo(Path(tmp), default_ports=True) as demo, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                ctx = browser.new_context(viewport={"width": 1100, "height": 760},
                                          locale="fr-FR", timezone_id="Europe/Paris")
                page = ctx.new_page()
                page.set_default_timeout(15_000)
                journey(page, demo, args.out)
            finally:
                browser.close()


if __name__ == "__main__":
    main()
