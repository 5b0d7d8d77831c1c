"""Each account's own webhook: only its videos' events, signed with its own secret, beside the
installation's; URLs into the studio's network refused unless the operator allows them."""

import io
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from fastapi.testclient import TestClient

from kinetoscope.studio import webhooks
from kinetoscope.studio.app import create_app
from kinetoscope.studio.models import WebhookDelivery
from kinetoscope.studio.worker import Worker
from tests.studio.servers import free_port
from tests.studio.test_accounts import bearer, make_user


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records what is POSTed to it."""

    def __init__(self):
        self.got, got = [], []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                got.append((dict(self.headers), self.rfile.read(int(self.headers["content-length"])).decode()))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.got = got
        self.port = free_port()
        self.httpd = HTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receivers():
    made = [Receiver() for _ in range(2)]
    yield made
    for r in made:
        r.close()


def run_jobs(svc, n):
    w = Worker(svc)
    for _ in range(n):
        assert w.run_once(timeout=2)
    w.housekeeping()  # delivers what the jobs' final states recorded


def test_an_account_gets_its_own_videos_events_signed_with_its_own_secret(svc, receivers):
    mine, operator = receivers
    install_secret = webhooks.new_secret()
    svc.settings = svc.settings.with_(webhook_allow_private=True, webhook_url=operator.url, webhook_secret=install_secret)
    _, alice = make_user(svc, "alice")
    _, bob = make_user(svc, "bob")
    with TestClient(create_app(services=svc)) as c:
        r = c.put("/v1/me/webhook", json={"url": mine.url}, headers=bearer(alice))
        assert r.status_code == 200, r.text
        secret = r.json()["secret"]
        assert secret.startswith("whsec_") and r.json()["url"] == mine.url
        assert "secret" not in c.get("/v1/me/webhook", headers=bearer(alice)).json()  # shown once
        assert c.get("/v1/me/webhook", headers=bearer(bob)).json()["url"] is None
        body = {"prompt": "a red circle", "size": "32x32", "seconds": "0.5", "steps": 2}
        a = c.post("/v1/videos", json=body, headers=bearer(alice)).json()["id"]
        b = c.post("/v1/videos", json=body, headers=bearer(bob)).json()["id"]
        run_jobs(svc, 2)
        export = c.get("/v1/me/export", headers=bearer(alice))
        z = zipfile.ZipFile(io.BytesIO(export.content))
        assert json.loads(z.read("account.json"))["webhook_url"] == mine.url
        assert not any(secret.encode() in z.read(n) for n in z.namelist())  # never the secret
    assert len(mine.got) == 1  # alice's video only
    headers, raw = mine.got[0]
    assert json.loads(raw)["data"]["id"] == a and json.loads(raw)["type"] == "video.completed"
    assert webhooks.verify(secret, headers, raw) and not webhooks.verify(install_secret, headers, raw)
    assert sorted(json.loads(raw)["data"]["id"] for _, raw in operator.got) == sorted([a, b])  # the operator: all
    assert all(webhooks.verify(install_secret, h, raw) for h, raw in operator.got)


def test_a_removed_or_changed_webhook_is_not_called_with_events_recorded_before(svc, receivers):
    mine, _ = receivers
    svc.settings = svc.settings.with_(webhook_allow_private=True)
    _, alice = make_user(svc, "alice")
    with TestClient(create_app(services=svc)) as c:
        assert c.put("/v1/me/webhook", json={"url": mine.url}, headers=bearer(alice)).status_code == 200
        c.post("/v1/videos", json={"prompt": "a ball", "size": "32x32", "seconds": "0.5", "steps": 2}, headers=bearer(alice))
        w = Worker(svc)
        assert w.run_once(timeout=2)  # completed: the event is in the outbox, not sent yet
        assert c.delete("/v1/me/webhook", headers=bearer(alice)).json()["deleted"] is True
        w.housekeeping()
        assert c.get("/v1/me/webhook", headers=bearer(alice)).json()["url"] is None
    assert mine.got == []
    with svc.sessions() as s:
        d = s.query(WebhookDelivery).one()
    assert d.status == "gave_up" and "removed or changed" in d.last_error


@pytest.mark.parametrize("url,needle", [
    ("http://127.0.0.1:9/hook", "loopback, private or reserved"),
    ("http://10.1.2.3/hook", "loopback, private or reserved"),
    ("http://[::1]/hook", "loopback, private or reserved"),
    ("ftp://example.com/hook", "not an http:// or https:// URL"),
    ("hook", "not an http:// or https:// URL"),
])
def test_webhook_urls_into_the_studios_network_are_refused(svc, url, needle):
    _, alice = make_user(svc, "alice")
    with TestClient(create_app(services=svc)) as c:
        r = c.put("/v1/me/webhook", json={"url": url}, headers=bearer(alice))
        assert r.status_code == 400 and r.json()["error"]["param"] == "url" and needle in r.json()["error"]["message"]
        assert c.get("/v1/me/webhook", headers=bearer(alice)).json()["url"] is None  # nothing kept
