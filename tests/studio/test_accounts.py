"""Accounts, keys, isolation, quotas, rate limits, CSRF, invites, audit, data rights."""

import io
import socket
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kinetoscope.studio import accounts, audit
from kinetoscope.studio.app import create_app
from kinetoscope.studio.models import Base
from kinetoscope.studio.ratelimit import make_limiter
from kinetoscope.studio.worker import Worker
from tests.studio.helpers import png_bytes, work
from tests.studio.live import live_server

PASSWORD = "correct horse battery staple"


@pytest.fixture
def app_client(svc):
    with TestClient(create_app(services=svc)) as c:
        yield c


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def make_user(svc, name, admin=False, scopes=("videos:read", "videos:write")):
    user = accounts.create_user(svc.sessions, name, PASSWORD, is_admin=admin)
    key, _ = accounts.create_key(svc.sessions, user, "test", list(scopes))
    return user, key


def new_video(client, key, **kw):
    r = client.post("/v1/videos", json={"prompt": "a red circle", "seconds": "0", **kw}, headers=bearer(key))
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_open_studio_until_the_first_account(app_client, svc):
    vid = app_client.post("/v1/videos", json={"prompt": "made before accounts", "seconds": "0"}).json()["id"]
    user, key = make_user(svc, "alice", admin=True)
    r = app_client.get("/v1/videos")
    assert r.status_code == 401 and r.json()["error"]["code"] == "missing_api_key"
    # the open studio's videos became the first account's
    assert [v["id"] for v in app_client.get("/v1/videos", headers=bearer(key)).json()["data"]] == [vid]


def test_no_plaintext_password_or_key_anywhere_in_the_database(app_client, svc):
    user, key = make_user(svc, "alice", admin=True)
    r = app_client.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["csrf_token"]
    cookie = r.cookies.get("kinetoscope_session")
    dump = []
    with svc.sessions() as s:
        for table in Base.metadata.sorted_tables:
            dump += [repr(tuple(row)) for row in s.execute(select(table))]
    text = "\n".join(dump)
    assert "alice" in text and "$argon2id$" in text
    for secret in (PASSWORD, key, cookie, key[4:]):
        assert secret not in text
    assert key[:12] in text  # the visible prefix is kept for recognition


def test_scopes_revocation_and_expiry(app_client, svc):
    user, rw = make_user(svc, "alice")
    ro, _ = accounts.create_key(svc.sessions, user, "read only", ["videos:read"])
    assert app_client.get("/v1/videos", headers=bearer(ro)).status_code == 200
    r = app_client.post("/v1/videos", json={"prompt": "x"}, headers=bearer(ro))
    assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_scope"
    assert app_client.get("/v1/admin/users", headers=bearer(rw)).status_code == 403
    key_id = [k for k in accounts.list_keys(svc.sessions, user.id) if k.name == "read only"][0].id
    assert app_client.delete(f"/v1/me/keys/{key_id}", headers=bearer(rw)).json()["revoked"]
    r = app_client.get("/v1/videos", headers=bearer(ro))  # the very next request
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    short, _ = accounts.create_key(svc.sessions, user, "short", ["videos:read"], days=1 / 86400)
    time.sleep(1.1)
    assert app_client.get("/v1/videos", headers=bearer(short)).status_code == 401
    assert app_client.get("/v1/videos", headers=bearer("kin_forged")).status_code == 401
    accounts.set_disabled(svc.sessions, accounts.User(id="test"), user.id, True)
    assert app_client.get("/v1/videos", headers=bearer(rw)).status_code == 401


def test_keys_over_the_api_are_shown_once(app_client, svc):
    _, key = make_user(svc, "alice")
    r = app_client.post("/v1/me/keys", json={"name": "laptop", "scopes": ["videos:read"], "expires_in_days": 30},
                        headers=bearer(key))
    made = r.json()
    assert made["key"].startswith("kin_") and made["prefix"] == made["key"][:12] and made["scopes"] == ["videos:read"]
    listed = app_client.get("/v1/me/keys", headers=bearer(key)).json()["data"]
    assert all("key" not in k for k in listed) and any(k["id"] == made["id"] for k in listed)
    r = app_client.post("/v1/me/keys", json={"name": "x", "scopes": ["admin"]}, headers=bearer(key))
    assert r.status_code == 403
    r = app_client.post("/v1/me/keys", json={"name": "x", "scopes": ["videos:fly"]}, headers=bearer(key))
    assert r.status_code == 400 and "videos:fly" in r.json()["error"]["message"]


def test_ownership_matrix_others_objects_are_404(app_client, svc):
    _, a = make_user(svc, "alice")
    _, b = make_user(svc, "bob")
    vid = new_video(app_client, a)
    Worker(svc).run_once(timeout=2)
    assert app_client.get(f"/v1/videos/{vid}/content", headers=bearer(a)).status_code == 200
    routes = [("get", f"/v1/videos/{vid}", None), ("get", f"/v1/videos/{vid}/content", None),
              ("get", f"/v1/videos/{vid}/content?variant=thumbnail", None),
              ("get", f"/v1/videos/{vid}/content?variant=spritesheet", None), ("get", f"/v1/videos/{vid}/events", None),
              ("post", f"/v1/videos/{vid}/remix", {"prompt": "mine now"}),
              ("post", "/v1/videos/extensions", {"prompt": "x", "seconds": "1", "video": {"id": vid}}),
              ("get", f"/v1/videos?after={vid}", None), ("delete", f"/v1/videos/{vid}", None)]
    for method, url, body in routes:
        r = app_client.request(method, url, json=body, headers=bearer(b))
        assert r.status_code == 404, (method, url, r.status_code, r.text)
    assert app_client.get("/v1/videos", headers=bearer(b)).json()["data"] == []
    assert app_client.get(f"/v1/videos/{vid}", headers=bearer(a)).status_code == 200  # still there


def test_quota_race_two_requests_cannot_both_take_the_last_unit(svc):
    user, key = make_user(svc, "alice")
    accounts.set_quotas(svc.sessions, accounts.User(id="test"), user.id, max_concurrent_jobs=1)
    with live_server(svc) as url, httpx.Client(base_url=url, headers=bearer(key), timeout=30) as c:
        def create(i):
            return c.post("/v1/videos", json={"prompt": f"ball {i}", "seconds": "0"})

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(create, range(8)))
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [429] * 7, codes
    err = [r for r in results if r.status_code == 429][0]
    assert err.json()["error"]["code"] == "concurrent_jobs_exceeded" and err.headers["retry-after"]


def test_daily_seconds_quota(app_client, svc):
    user, key = make_user(svc, "alice")
    accounts.set_quotas(svc.sessions, accounts.User(id="test"), user.id, seconds_per_day=3.0)
    assert app_client.post("/v1/videos", json={"prompt": "a", "seconds": "2"}, headers=bearer(key)).status_code == 200
    r = app_client.post("/v1/videos", json={"prompt": "b", "seconds": "2"}, headers=bearer(key))
    assert r.status_code == 429 and "3 s" in r.json()["error"]["message"]
    me = app_client.get("/v1/me", headers=bearer(key)).json()
    assert me["usage"]["seconds_today"] == 2.0 and me["quotas"]["seconds_per_day"] == 3.0


def test_uploads_count_toward_the_storage_quota(app_client, svc):
    user, key = make_user(svc, "alice")
    me = lambda: app_client.get("/v1/me", headers=bearer(key)).json()["usage"]["storage_bytes"]  # noqa: E731

    def create(colour):
        return app_client.post("/v1/videos", data={"prompt": "a square", "size": "64x64", "seconds": "1"},
                               files={"input_reference": ("first.png", png_bytes(colour, (64, 64)), "image/png")},
                               headers=bearer(key))

    r = create((200, 30, 30))
    assert r.status_code == 200, r.text
    upload = me()
    assert upload == (svc.settings.files_dir / r.json()["id"] / "input.png").stat().st_size > 0  # queued: its upload
    accounts.set_quotas(svc.sessions, accounts.User(id="test"), user.id, storage_bytes=upload + 10)
    refused = create((30, 30, 200))
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "storage_exceeded"
    assert "upload" in refused.json()["error"]["message"]
    assert sorted(p.name for p in svc.settings.files_dir.iterdir()) == [r.json()["id"]]  # nothing kept of it
    assert work(svc) == 1
    files = sum(p.stat().st_size for p in (svc.settings.files_dir / r.json()["id"]).iterdir())
    assert me() == files  # completed: its video, thumbnail, spritesheet and the upload


def test_rate_limits_answer_429_with_retry_after(svc):
    svc.settings = svc.settings.with_(rate_limit_per_minute=3, login_attempts_per_minute=2)
    _, key = make_user(svc, "alice")
    with TestClient(create_app(services=svc)) as c:
        codes = [c.get("/v1/videos", headers=bearer(key)).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = c.get("/v1/videos", headers=bearer(key))
        assert int(r.headers["retry-after"]) >= 1 and r.json()["error"]["type"] == "rate_limit_error"
        logins = [c.post("/v1/auth/login", json={"username": "alice", "password": "wrong password!"}).status_code
                  for _ in range(3)]
        assert logins == [401, 401, 429]


def test_rate_limits_are_shared_by_every_api_process_over_redis(svc, backend):
    """Two apps (two API processes) over one Redis count into one window; with no Redis, each its own."""
    svc.settings = svc.settings.with_(rate_limit_per_minute=3)
    _, key = make_user(svc, "alice")
    with TestClient(create_app(services=svc)) as a, TestClient(create_app(services=svc)) as b:
        codes = [c.get("/v1/videos", headers=bearer(key)).status_code for c in (a, b, a, b)]
    assert codes == ([200, 200, 200, 429] if backend == "postgres" else [200] * 4)


def test_rate_limits_count_in_the_process_while_redis_is_unreachable(caplog):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    limiter = make_limiter(f"redis://127.0.0.1:{port}/0", limit=2, name="api")
    waits = [limiter.hit("alice") for _ in range(3)]
    assert waits[:2] == [0.0, 0.0] and 0 < waits[2] <= 60
    assert limiter.hit("bob") == 0.0  # per key, as before
    assert "Redis unreachable" in caplog.text


def test_session_cookie_and_csrf(app_client, svc):
    make_user(svc, "alice")
    r = app_client.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    csrf = r.json()["csrf_token"]
    assert "httponly" in r.headers["set-cookie"].lower() and "samesite=strict" in r.headers["set-cookie"].lower()
    assert app_client.get("/v1/videos").status_code == 200  # the cookie authenticates reads
    r = app_client.post("/v1/videos", json={"prompt": "x", "seconds": "0"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    r = app_client.post("/v1/videos", json={"prompt": "x", "seconds": "0"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200
    r = app_client.post("/v1/videos", json={"prompt": "x"}, headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "cross_origin"
    app_client.post("/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert app_client.get("/v1/videos").status_code == 401


def test_invites_are_single_use_and_expire(app_client, svc):
    admin, key = make_user(svc, "root", admin=True, scopes=("videos:read", "videos:write", "admin"))
    link = app_client.post("/v1/admin/invites", json={"hours": 1}, headers=bearer(key)).json()
    token = link["url"].rsplit("/", 1)[1]
    r = app_client.post("/v1/auth/invite", json={"token": token, "username": "carol", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["user"]["username"] == "carol" and not r.json()["user"]["is_admin"]
    r = app_client.post("/v1/auth/invite", json={"token": token, "username": "dave", "password": PASSWORD})
    assert r.status_code == 410 and "already used" in r.json()["error"]["message"]
    old = accounts.create_invite(svc.sessions, admin, hours=1 / 3600)
    time.sleep(1.1)
    r = app_client.post("/v1/auth/invite", json={"token": old, "username": "erin", "password": PASSWORD})
    assert r.status_code == 410 and "expired" in r.json()["error"]["message"]
    r = app_client.post("/v1/auth/invite", json={"token": "made-up", "username": "erin", "password": PASSWORD})
    assert r.status_code == 404


def test_admin_disables_users_and_sets_quotas(app_client, svc):
    _, admin_key = make_user(svc, "root", admin=True, scopes=("videos:read", "videos:write", "admin"))
    bob, bob_key = make_user(svc, "bob")
    r = app_client.patch(f"/v1/admin/users/{bob.id}", json={"videos_per_day": 1}, headers=bearer(admin_key))
    assert r.json()["quotas"]["videos_per_day"] == 1
    new_video(app_client, bob_key)
    assert app_client.post("/v1/videos", json={"prompt": "two"}, headers=bearer(bob_key)).status_code == 429
    r = app_client.patch(f"/v1/admin/users/{bob.id}", json={"videos_per_day": -1}, headers=bearer(admin_key))
    assert r.status_code == 400 and r.json()["error"]["param"] == "videos_per_day"
    app_client.patch(f"/v1/admin/users/{bob.id}", json={"disabled": True}, headers=bearer(admin_key))
    assert app_client.get("/v1/videos", headers=bearer(bob_key)).status_code == 401
    r = app_client.post("/v1/auth/login", json={"username": "bob", "password": PASSWORD})
    assert r.status_code == 401 and "disabled" in r.json()["error"]["message"]


def test_audit_log_records_each_action_without_secrets(app_client, svc):
    admin, admin_key = make_user(svc, "root", admin=True, scopes=("videos:read", "videos:write", "admin"))
    app_client.post("/v1/auth/login", json={"username": "root", "password": "not the password"})
    r = app_client.post("/v1/auth/login", json={"username": "root", "password": PASSWORD})
    csrf = r.json()["csrf_token"]
    vid = new_video(app_client, admin_key)
    app_client.delete(f"/v1/videos/{vid}", headers=bearer(admin_key))
    made = app_client.post("/v1/me/keys", json={"name": "k"}, headers={"X-CSRF-Token": csrf}).json()
    app_client.delete(f"/v1/me/keys/{made['id']}", headers={"X-CSRF-Token": csrf})
    app_client.post("/v1/me/password", json={"old_password": PASSWORD, "new_password": PASSWORD + "!"},
                    headers={"X-CSRF-Token": csrf})
    log = app_client.get("/v1/admin/audit", params={"format": "jsonl"}, headers=bearer(admin_key)).text
    for action in ("user.create", "key.create", "login.failure", "login.success", "video.create", "video.delete",
                   "key.revoke", "password.change"):
        assert f'"action": "{action}"' in log, action
    assert PASSWORD not in log and made["key"] not in log and "testclient" in log


def test_export_and_delete_account(app_client, svc):
    user, key = make_user(svc, "alice")
    vid = new_video(app_client, key)
    Worker(svc).run_once(timeout=2)
    r = app_client.get("/v1/me/export", headers=bearer(key))
    z = zipfile.ZipFile(io.BytesIO(r.content))
    names = z.namelist()
    assert "account.json" in names and f"videos/{vid}/video.mp4" in names and f"videos/{vid}/video.json" in names
    assert key not in z.read("account.json").decode()
    r = app_client.request("DELETE", "/v1/me", json={"password": "wrong password!"}, headers=bearer(key))
    assert r.status_code == 401
    r = app_client.request("DELETE", "/v1/me", json={"password": PASSWORD}, headers=bearer(key))
    assert r.json()["deleted"]
    assert not (svc.settings.files_dir / vid).exists()
    assert accounts.find_user(svc.sessions, "alice") is None
    log = audit.jsonl(svc.sessions)
    assert user.id not in log and r.json()["audit_id"] in log
    assert app_client.get("/v1/videos", headers=bearer(key)).status_code == 401


def test_a_read_only_key_cannot_use_the_pages_forms(app_client, svc):
    user, rw = make_user(svc, "alice")
    ro, _ = accounts.create_key(svc.sessions, user, "read only", ["videos:read"])
    vid = new_video(app_client, rw)
    for url, data in (("/", {"prompt": "a red circle"}), (f"/videos/{vid}/delete", {"confirm": "yes"})):
        r = app_client.post(url, data=data, headers=bearer(ro), follow_redirects=False)
        assert r.status_code == 403, (url, r.status_code)
    assert app_client.get(f"/v1/videos/{vid}", headers=bearer(rw)).status_code == 200
