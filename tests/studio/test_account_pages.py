"""The account pages through HTTP (no browser): log in and out, invites, your account (password,
API keys, export, deletion) and the admin page, as plain form posts with the session's CSRF token."""

import io
import re
import zipfile

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from kinetoscope.studio import accounts, audit
from kinetoscope.studio.app import create_app
from kinetoscope.studio.models import Invite
from kinetoscope.studio.worker import Worker
from tests.studio.test_web import Page

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the pages are the same on PostgreSQL
PASSWORD = "correct horse battery staple"


@pytest.fixture
def app(svc):
    return create_app(services=svc)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def browser(app):
    """Another browser on the same studio (its own cookie jar)."""
    return TestClient(app)


def user(svc, name, admin=False):
    return accounts.create_user(svc.sessions, name, PASSWORD, is_admin=admin)


def log_in(client, name, password=PASSWORD, to=None):
    data = {"username": name, "password": password, **({"next": to} if to is not None else {})}
    return client.post("/login", data=data, follow_redirects=False)


def csrf_of(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def post(client, url, data=None, csrf=True):
    data = dict(data or {})
    if csrf:
        data["csrf_token"] = csrf_of(client.get("/account").text)
    return client.post(url, data=data, follow_redirects=False)


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def assert_every_control_labelled(html):
    page = Page(html)
    for c in page.controls:
        assert c.get("id") in page.labels, f"control {c.get('name')} has no <label for>"


def test_login_then_logout(client, svc):
    user(svc, "alice")
    r = client.get("/account", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/account"
    page = client.get("/login?next=/account")
    assert page.status_code == 200 and 'name="next" value="/account"' in page.text
    assert_every_control_labelled(page.text)
    r = log_in(client, "alice", to="/account")
    assert r.status_code == 303 and r.headers["location"] == "/account"
    cookie = r.headers["set-cookie"].lower()
    assert "kinetoscope_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    home = client.get("/")
    assert home.status_code == 200 and "alice" in home.text and "Log out" in home.text and 'href="/account"' in home.text
    assert 'href="/admin"' not in home.text  # not an admin
    assert client.get("/login", follow_redirects=False).headers["location"] == "/"  # already in
    r = client.post("/logout", data={"csrf_token": csrf_of(home.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?done=logout"
    assert "You are logged out." in client.get(r.headers["location"]).text
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_wrong_password_is_a_401_page_and_logins_are_rate_limited(svc):
    user(svc, "alice")
    svc.settings = svc.settings.with_(login_attempts_per_minute=3)
    with TestClient(create_app(services=svc)) as c:
        r = log_in(c, "alice", "not the password")
        assert r.status_code == 401 and "set-cookie" not in r.headers
        page = Page(r.text)
        assert "wrong username or password" in page.text_of["problems"]
        assert page.ids["f-username"][1]["value"] == "alice"  # kept; the password is not
        assert "not the password" not in r.text
        r = log_in(c, "nobody", "whatever at all")
        assert r.status_code == 401 and "wrong username or password" in r.text  # same words: names stay secret
        r = log_in(c, "alice", "")
        assert r.status_code == 400 and "Password is required" in Page(r.text).text_of["e-password"]
        codes = [log_in(c, "alice", "still wrong!").status_code for _ in range(3)]
        assert codes == [401, 401, 429]
        r = log_in(c, "alice")  # even the right password waits
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and "too many login attempts" in r.text


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/\t/evil.example",
                                    "javascript:alert(1)", "evil.example", "http:/evil.example", "/logout"])
def test_next_never_leaves_the_site(client, svc, target):
    user(svc, "alice")
    r = log_in(client, "alice", to=target)
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_next_keeps_a_path_on_this_site(client, svc):
    user(svc, "alice")
    assert log_in(client, "alice", to="/gallery?after=video_1").headers["location"] == "/gallery?after=video_1"


def test_form_posts_need_the_csrf_token(client, app, svc):
    user(svc, "alice")
    log_in(client, "alice")
    r = post(client, "/account/keys", {"name": "laptop", "scopes": ["videos:read"]}, csrf=False)
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    r = client.post("/account/keys", data={"name": "laptop", "csrf_token": "forged"})
    assert r.status_code == 403
    token = csrf_of(client.get("/account").text)
    r = client.post("/account/keys", data={"name": "laptop", "csrf_token": token}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "cross_origin"
    assert accounts.list_keys(svc.sessions, accounts.find_user(svc.sessions, "alice").id) == []
    r = post(client, "/logout", csrf=False)
    assert r.status_code == 403 and client.get("/account").status_code == 200  # still logged in
    r = post(client, "/account/keys", {"name": "laptop", "scopes": ["videos:read"]})
    assert r.status_code == 200 and "kin_" in r.text


def test_a_new_key_is_shown_once_then_only_its_prefix(client, svc):
    alice = user(svc, "alice")
    log_in(client, "alice")
    account = client.get("/account").text
    assert_every_control_labelled(account)
    assert 'value="admin"' not in account  # members cannot ask for the admin scope
    r = post(client, "/account/keys", {"name": "render farm", "scopes": ["videos:read"], "expires_in_days": "30"})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    key = Page(r.text).text_of["new-key"]
    assert key.startswith("kin_") and "shown only this once" in r.text
    assert 'data-copy="new-key" hidden' in r.text  # the Copy button appears only with JavaScript
    assert client.get("/v1/videos", headers=bearer(key)).status_code == 200
    assert client.post("/v1/videos", json={"prompt": "x"}, headers=bearer(key)).status_code == 403  # read only
    again = client.get("/account").text
    assert key not in again and f"{key[:12]}…" in again and "render farm" in again and "videos:read" in again
    [row] = accounts.list_keys(svc.sessions, alice.id)
    assert row.expires_at - row.created_at == 30 * 86400
    # the form's mistakes come back next to their field, with what was typed
    r = post(client, "/account/keys", {"name": "x", "scopes": ["videos:read"], "expires_in_days": "-2"})
    assert r.status_code == 400 and "out of range" in Page(r.text).text_of["e-expires_in_days"]
    assert Page(r.text).ids["f-name"][1]["value"] == "x"
    r = post(client, "/account/keys", {"name": "none"})
    assert r.status_code == 400 and "at least one scope" in Page(r.text).text_of["e-scopes"]
    r = post(client, "/account/keys", {"name": "sneaky", "scopes": ["admin"]})
    assert r.status_code == 403 and "admin" in Page(r.text).text_of["e-scopes"]
    assert len(accounts.list_keys(svc.sessions, alice.id)) == 1


def test_revoking_a_key_from_the_page(client, app, svc):
    user(svc, "alice")
    bob = user(svc, "bob")
    bobs_key, bobs_row = accounts.create_key(svc.sessions, bob, "bob's", ["videos:read"])
    log_in(client, "alice")
    made = post(client, "/account/keys", {"name": "laptop", "scopes": ["videos:read", "videos:write"]}).text
    key = Page(made).text_of["new-key"]
    key_id = re.search(r'data-key="(key_[0-9a-f]+)"', made).group(1)
    r = post(client, f"/account/keys/{key_id}/revoke")
    assert r.status_code == 303 and r.headers["location"] == "/account?done=revoked#keys"
    assert client.get("/v1/videos", headers=bearer(key)).status_code == 401  # the very next request
    page = client.get(r.headers["location"]).text
    assert "The key is revoked" in page and "badge-revoked" in page and f"/account/keys/{key_id}/revoke" not in page
    assert post(client, f"/account/keys/{key_id}/revoke").status_code == 404  # already revoked
    r = post(client, f"/account/keys/{bobs_row.id}/revoke")  # someone else's key: not found, untouched
    assert r.status_code == 404 and "Not found" in r.text
    assert client.get("/v1/videos", headers=bearer(bobs_key)).status_code == 200


def test_webhook_from_the_account_page(client, svc):
    alice = user(svc, "alice")
    log_in(client, "alice")
    r = post(client, "/account/webhook", {"url": "http://127.0.0.1:9/hook"})  # the studio's own network
    assert r.status_code == 400 and "private" in Page(r.text).text_of["e-url"]
    assert Page(r.text).ids["f-url"][1]["value"] == "http://127.0.0.1:9/hook"  # what was typed is kept
    svc.settings = svc.settings.with_(webhook_allow_private=True)
    r = post(client, "/account/webhook", {"url": "http://127.0.0.1:9/hook"})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert_every_control_labelled(r.text)
    secret = Page(r.text).text_of["webhook-secret"]
    assert secret.startswith("whsec_") and accounts.get_user(svc.sessions, alice.id).webhook_secret == secret
    again = client.get("/account").text
    assert secret not in again and 'value="http://127.0.0.1:9/hook"' in again
    r = post(client, "/account/webhook/remove")
    assert r.status_code == 303 and "no longer sent" in client.get(r.headers["location"]).text
    assert accounts.get_user(svc.sessions, alice.id).webhook_url is None


def test_changing_the_password(client, app, svc):
    user(svc, "alice")
    log_in(client, "alice")
    with browser(app) as phone:
        log_in(phone, "alice")
        r = post(client, "/account/password", {"old_password": "wrong", "new_password": "a new password!",
                                               "new_password2": "a new password!"})
        assert r.status_code == 400 and "current password is wrong" in Page(r.text).text_of["e-old_password"]
        r = post(client, "/account/password", {"old_password": PASSWORD, "new_password": "a new password!",
                                               "new_password2": "another one!!"})
        assert r.status_code == 400 and "differ" in Page(r.text).text_of["e-new_password2"]
        r = post(client, "/account/password", {"old_password": PASSWORD, "new_password": "short", "new_password2": "short"})
        assert r.status_code == 400 and "10 to 256" in Page(r.text).text_of["e-new_password"]
        assert phone.get("/account").status_code == 200  # nothing changed yet
        r = post(client, "/account/password", {"old_password": PASSWORD, "new_password": "a new password!",
                                               "new_password2": "a new password!"})
        assert r.status_code == 303 and r.headers["location"] == "/account?done=password"
        assert "Your password is changed" in client.get(r.headers["location"]).text  # this browser stays logged in
        assert phone.get("/account", follow_redirects=False).status_code == 303  # the other one is signed out
        assert log_in(phone, "alice").status_code == 401
        assert log_in(phone, "alice", "a new password!").status_code == 303


def test_invite_link_makes_an_account_once(client, app, svc):
    user(svc, "root", admin=True)
    log_in(client, "root")
    r = post(client, "/admin/invites", {"hours": "2"})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    link = Page(r.text).text_of["invite-url"]
    assert link.startswith("http://testserver/invite/") and "2 hours" in r.text
    assert link not in client.get("/admin").text  # shown once
    path = link.removeprefix("http://testserver")
    with browser(app) as carol, browser(app) as dave:
        form = carol.get(path)
        assert form.status_code == 200 and form.headers["cache-control"] == "no-store"
        assert_every_control_labelled(form.text)
        r = carol.post(path, data={"username": "carol", "password": PASSWORD, "password2": PASSWORD + "?"})
        assert r.status_code == 400 and "differ" in Page(r.text).text_of["e-password2"]
        r = carol.post(path, data={"username": "Bad Name!", "password": PASSWORD, "password2": PASSWORD})
        assert r.status_code == 400 and "not allowed" in Page(r.text).text_of["e-username"]
        r = carol.post(path, data={"username": "carol", "password": PASSWORD, "password2": PASSWORD}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert "carol" in carol.get("/account").text  # logged in as the new account
        assert not accounts.find_user(svc.sessions, "carol").is_admin
        for r in (dave.get(path), dave.post(path, data={"username": "dave", "password": PASSWORD, "password2": PASSWORD})):
            assert r.status_code == 410 and "already used" in r.text and "<form" not in r.text.split("<main")[1]
        assert accounts.find_user(svc.sessions, "dave") is None
        old = accounts.create_invite(svc.sessions, accounts.find_user(svc.sessions, "root"), hours=1)
        with svc.sessions.begin() as s:  # an hour later
            s.execute(update(Invite).where(Invite.id == accounts.sha256(old)).values(expires_at=accounts.now() - 1))
        r = dave.get(f"/invite/{old}")
        assert r.status_code == 410 and "expired" in r.text
        assert dave.get("/invite/made-up").status_code == 404


def test_admin_page_is_404_for_everyone_else(client, svc):
    user(svc, "root", admin=True)
    bob = user(svc, "bob")
    log_in(client, "bob")
    assert 'href="/admin"' not in client.get("/account").text
    r = client.get("/admin")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html") and "Not found" in r.text
    for url in ("/admin/invites", f"/admin/users/{bob.id}/enable", f"/admin/users/{bob.id}/quotas"):
        assert post(client, url, {"videos_per_day": "999"}).status_code == 404, url
    assert accounts.get_user(svc.sessions, bob.id).videos_per_day is None
    assert client.get("/v1/admin/audit?format=jsonl").status_code == 403


def test_admin_disables_a_user_and_sets_quotas(client, app, svc):
    root = user(svc, "root", admin=True)
    bob = user(svc, "bob")
    bobs_key, _ = accounts.create_key(svc.sessions, bob, "k", ["videos:read"])
    log_in(client, "root")
    page = client.get("/admin")
    assert page.status_code == 200 and 'href="/admin" aria-current="page"' in page.text
    assert_every_control_labelled(page.text)
    assert f"/admin/users/{root.id}/disable" not in page.text  # no button to lock yourself out
    with browser(app) as bobs:
        log_in(bobs, "bob")
        r = post(client, f"/admin/users/{bob.id}/disable")
        assert r.status_code == 303 and r.headers["location"] == f"/admin?done=disabled#user-{bob.id}"
        assert bobs.get("/account", follow_redirects=False).status_code == 303  # signed out
        assert client.get("/v1/videos", headers=bearer(bobs_key)).status_code == 401
        r = log_in(bobs, "bob")
        assert r.status_code == 401 and "disabled" in r.text
        assert f"/admin/users/{bob.id}/enable" in client.get("/admin").text
        assert post(client, f"/admin/users/{bob.id}/enable").status_code == 303
        assert log_in(bobs, "bob").status_code == 303
    assert post(client, f"/admin/users/{root.id}/disable").status_code == 400
    assert not accounts.get_user(svc.sessions, root.id).disabled

    r = post(client, f"/admin/users/{bob.id}/quotas", {"videos_per_day": "3", "seconds_per_day": "12.5"})
    assert r.status_code == 303
    got = accounts.get_user(svc.sessions, bob.id)
    assert (got.videos_per_day, got.seconds_per_day, got.max_concurrent_jobs) == (3, 12.5, None)
    form = Page(client.get("/admin").text).ids
    assert form[f"f-videos_per_day-{bob.id}"][1]["value"] == "3"
    assert form[f"f-max_concurrent_jobs-{bob.id}"][1]["value"] == ""  # empty: the default
    assert form[f"f-max_concurrent_jobs-{bob.id}"][1]["placeholder"] == str(svc.settings.quota_concurrent_jobs)
    r = post(client, f"/admin/users/{bob.id}/quotas", {"videos_per_day": "-1"})
    assert r.status_code == 400 and "out of range" in Page(r.text).text_of[f"e-videos_per_day-{bob.id}"]
    assert Page(r.text).ids[f"f-videos_per_day-{bob.id}"][1]["value"] == "-1"
    r = post(client, f"/admin/users/{bob.id}/quotas", {"storage_bytes": "lots"})
    assert r.status_code == 400 and "integer" in Page(r.text).text_of[f"e-storage_bytes-{bob.id}"]
    assert accounts.get_user(svc.sessions, bob.id).videos_per_day == 3
    assert post(client, "/admin/users/user_nope/disable").status_code == 404


def test_audit_page_lists_entries_newest_first_in_pages(client, svc):
    svc.settings = svc.settings.with_(page_size=3)
    root = user(svc, "root", admin=True)
    log_in(client, "root", "wrong password!")
    log_in(client, "root")
    post(client, "/account/keys", {"name": "k", "scopes": ["videos:read"]})
    expected = [e["action"] for e in audit.entries(svc.sessions, 100)]
    assert {"user.create", "login.failure", "login.success", "key.create"} <= set(expected)
    seen, url = [], "/admin"
    for _ in range(10):
        page = client.get(url).text
        rows = re.findall(r'data-label="Action"><code>([a-z.]+)</code>', page)
        assert len(rows) <= 3
        seen += rows
        nxt = re.search(r'href="(/admin\?before=\d+)#audit"', page)
        if not nxt:
            break
        url = nxt.group(1)
    assert seen == expected
    first = client.get("/admin").text
    assert f"<td data-label=\"Who\">root</td>" in first and root.id not in first.split('id="audit"')[1]  # names, not ids
    r = client.get("/v1/admin/audit?format=jsonl")  # the download link, with the session
    assert r.status_code == 200 and r.text.count("\n") == len(expected) and PASSWORD not in r.text


def test_export_downloads_a_zip_of_my_data(client, svc):
    alice = user(svc, "alice")
    key, _ = accounts.create_key(svc.sessions, alice, "k", ["videos:read", "videos:write"])
    vid = client.post("/v1/videos", json={"prompt": "a red circle", "seconds": "0"}, headers=bearer(key)).json()["id"]
    Worker(svc).run_once(timeout=2)
    log_in(client, "alice")
    assert 'href="/account/export"' in client.get("/account").text
    r = client.get("/account/export")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert 'attachment; filename="kinetoscope-alice.zip"' in r.headers["content-disposition"]
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert "account.json" in names and f"videos/{vid}/video.json" in names and f"videos/{vid}/video.mp4" in names
    assert '"action": "account.export"' in audit.jsonl(svc.sessions)


def test_deleting_my_account_removes_my_files(client, svc):
    alice = user(svc, "alice")
    key, _ = accounts.create_key(svc.sessions, alice, "k", ["videos:read", "videos:write"])
    vid = client.post("/v1/videos", json={"prompt": "a red circle", "seconds": "0"}, headers=bearer(key)).json()["id"]
    Worker(svc).run_once(timeout=2)
    assert (svc.settings.files_dir / vid).is_dir()
    log_in(client, "alice")
    r = post(client, "/account/delete", {"password": "not my password"})
    assert r.status_code == 401 and "wrong username or password" in Page(r.text).text_of["e-delete_password"]
    assert (svc.settings.files_dir / vid).is_dir() and accounts.find_user(svc.sessions, "alice")
    r = post(client, "/account/delete", {"password": PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == "/login?done=deleted"
    assert 'kinetoscope_session=""' in r.headers["set-cookie"] or "max-age=0" in r.headers["set-cookie"].lower()
    assert not (svc.settings.files_dir / vid).exists() and accounts.find_user(svc.sessions, "alice") is None
    assert client.get("/v1/videos", headers=bearer(key)).status_code == 401
    assert "Your account, your videos and their files are deleted." in client.get(r.headers["location"]).text
    assert alice.id not in audit.jsonl(svc.sessions)


def test_open_studio_shows_no_account_menu(client):
    home = client.get("/")
    assert home.status_code == 200 and "Log out" not in home.text and 'href="/account"' not in home.text
    assert "No accounts yet" in client.get("/account").text and "No accounts yet" in client.get("/admin").text
    assert "This studio is open" in client.get("/login").text


def test_an_api_key_cannot_use_the_account_pages(client, svc):
    alice = user(svc, "alice", admin=True)
    key, _ = accounts.create_key(svc.sessions, alice, "read only", ["videos:read"])
    r = client.post("/account/keys", data={"name": "wider", "scopes": ["videos:read", "videos:write"]},
                    headers=bearer(key), follow_redirects=False)
    assert r.status_code == 403 and "log in" in r.text.lower()
    assert len(accounts.list_keys(svc.sessions, alice.id)) == 1  # no key made with more scopes than this one
    assert client.get("/account", headers=bearer(key)).status_code == 403
    assert client.get("/admin", headers=bearer(key)).status_code == 404
    assert client.get("/account/export", headers=bearer(key)).status_code == 403
