"""Debian's Chromium driven by Playwright: launch options and the hub login as clicks.

Never a downloaded browser: ``executable_path`` points at the system's ``chromium``.
"""

import shutil

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def browser_login(page, hub_url: str, username: str, password: str) -> None:
    """Log in through the hub's button and the IdP's pages; return once Lab's URL is open.

    The first login also spawns the user's server, so the wait for ``/lab`` is long.
    """
    page.goto(f"{hub_url}/hub/login", timeout=60_000)
    page.click("a:has-text('University login')")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state()
    if "/hub/" not in page.url:  # the IdP's consent page
        page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"**/user/{username}/lab**", timeout=180_000)
