"""The account pages in a real headless Chromium against a live server: log in (a wrong password
first), create an API key and see it once, revoke it and watch the API refuse it, the admin page,
log out. Screenshots (desktop and a 375-px phone) go to $KINETOSCOPE_ARTIFACTS like test_browser.py.

Needs Debian's chromium and the playwright package; no browser is ever downloaded."""

import re

import httpx
import pytest

from kinetoscope.studio import accounts
from tests.studio.test_browser import DESKTOP, artifacts, base_url, browser, shoot  # noqa: F401 - fixtures

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]
PASSWORD = "correct horse battery staple"


def test_log_in_make_a_key_see_it_once_revoke_it(browser, base_url, svc, artifacts):  # noqa: F811
    alice = accounts.create_user(svc.sessions, "alice", PASSWORD, is_admin=True)
    accounts.create_user(svc.sessions, "bob", PASSWORD)
    context = browser.new_context(viewport=DESKTOP, permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(base_url + "/account")  # not logged in: the login page, coming back here after
    assert page.url == base_url + "/login?next=/account"
    shoot(page, artifacts, "10-login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert "wrong username or password" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Username").input_value() == "alice" and page.get_by_label("Password").input_value() == ""
    shoot(page, artifacts, "11-login-wrong-password")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base_url + "/account")
    nav = page.get_by_role("navigation", name="Main")
    assert "alice" in nav.inner_text() and nav.get_by_role("link", name="Admin").is_visible()
    shoot(page, artifacts, "12-account")
    page.get_by_role("link", name="Create").click()  # the other pages keep the user menu
    assert nav.get_by_role("button", name="Log out").is_visible()
    shoot(page, artifacts, "12-create-logged-in")
    nav.get_by_role("link", name="Account").click()

    page.get_by_label("Name").fill("laptop")
    page.get_by_label("Expires after (days)").fill("30")
    page.get_by_role("button", name="Create key").click()
    page.wait_for_load_state()
    key = page.get_by_label("Copy it now: it is shown only this once").input_value()
    assert re.fullmatch(r"kin_[A-Za-z0-9_-]{40}", key), key
    page.get_by_role("button", name="Copy").click()  # the copy button (JavaScript only)
    page.get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == key
    shoot(page, artifacts, "13-key-shown-once")
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
        assert api.get("/v1/videos").status_code == 200

        page.goto(base_url + "/account")  # shown once: afterwards only its prefix
        assert key not in page.content() and f"{key[:12]}…" in page.content()
        assert page.get_by_label("Copy it now: it is shown only this once").count() == 0
        page.get_by_role("button", name=f"Revoke key laptop ({key[:12]}…)").click()
        page.wait_for_url(base_url + "/account?done=revoked#keys")
        assert "The key is revoked" in page.get_by_role("status").inner_text()
        row = page.locator("tr", has_text=key[:12])
        assert row.locator(".badge").inner_text().lower() == "revoked" and row.get_by_role("button").count() == 0
        shoot(page, artifacts, "14-key-revoked")
        r = api.get("/v1/videos")  # the very next request
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"

    nav.get_by_role("link", name="Admin").click()
    page.wait_for_url(base_url + "/admin")
    assert page.locator("#users li").count() == 2 and "key.revoke" in page.locator("#audit").inner_text()
    page.get_by_role("button", name="Create invite link").click()
    page.wait_for_load_state()
    link = page.get_by_label("Send this link: it is shown only this once").input_value()
    assert link.startswith(base_url + "/invite/")
    shoot(page, artifacts, "15-admin")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(base_url + "/login?done=logout")
    assert "You are logged out." in page.get_by_role("status").inner_text()
    page.goto(link)  # the invite, as the person who got it sees it
    shoot(page, artifacts, "16-invite")
    assert accounts.get_user(svc.sessions, alice.id) is not None and errors == []
    context.close()
