"""Hostile input over real HTTP (a live uvicorn): traversal and injection in ids, filenames and
fields, oversized headers and bodies, slow clients, and event streams left open. Each answers
with a 4xx that names the problem (never a 5xx), and touches nothing outside the studio."""

import asyncio
import socket
import threading
import time

import httpx
import pytest

from tests.studio.live import live_server

SMALL = {"prompt": "a red circle moving right", "size": "32x32", "seconds": "1", "steps": 2}


@pytest.fixture
def base(svc):
    with live_server(svc) as url:
        yield url


def raw(base: str, request: bytes, timeout: float = 10) -> bytes:
    """Send bytes as they are (no client-side quoting or checks); the status line and headers back."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(request)
        return s.recv(4096)


HOSTILE_IDS = ["../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "%2e%2e%2f%2e%2e%2fetc", "a%00b", "%00",
               "x" * 5000, "video_' OR '1'='1", "video_\"; DROP TABLE videos; --", "%ff%fe", "..\\..\\windows",
               "video_%0d%0aSet-Cookie:%20x=1"]


def test_hostile_video_ids_are_404_on_every_route(svc, base):
    ok = httpx.post(f"{base}/v1/videos", json=SMALL).json()["id"]
    with httpx.Client(base_url=base, timeout=10) as c:
        for vid in HOSTILE_IDS:
            for method, path in (("GET", "/v1/videos/{}"), ("DELETE", "/v1/videos/{}"), ("GET", "/v1/videos/{}/content"),
                                 ("GET", "/v1/videos/{}/events"), ("POST", "/v1/videos/{}/remix")):
                r = raw(base, f"{method} {path.format(vid)} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
                status = int(r.split(b" ", 2)[1])
                assert status in (400, 404), (method, path, vid, r[:300])
                assert b"set-cookie: x" not in r.split(b"\r\n\r\n")[0].lower()  # no header injected
            r = c.get("/v1/videos", params={"after": vid})
            assert r.status_code in (400, 404), (vid, r.text)
            r = c.post("/v1/videos/extensions", json={"prompt": "more", "seconds": "1", "video": {"id": vid}})
            assert r.status_code in (400, 404), (vid, r.text)
        assert c.get(f"/v1/videos/{ok}").status_code == 200  # nothing was deleted by any of it
        assert [v["id"] for v in c.get("/v1/videos").json()["data"]] == [ok]


def test_injection_in_fields_is_stored_as_text_or_refused(svc, base):
    with httpx.Client(base_url=base, timeout=10) as c:
        quote = c.post("/v1/videos", json={**SMALL, "prompt": "a circle'); DROP TABLE videos; --"})
        assert quote.status_code == 200 and quote.json()["prompt"] == "a circle'); DROP TABLE videos; --"
        for field, value in (("prompt", "a\x00b"), ("negative_prompt", "x\x00"), ("model", "kinetoscope-builtin\x00"),
                             ("size", "32x32\x00"), ("size", "../../32x32"), ("seconds", "1e999"), ("seconds", "nan"),
                             ("steps", "2; rm -rf /"), ("seed", 2**80), ("task", "../../t2v"), ("fps", -1),
                             ("guidance", "inf"), ("prompt", "x" * 100_000)):
            r = c.post("/v1/videos", json={**SMALL, field: value})
            assert r.status_code == 400, (field, value, r.status_code, r.text[:300])
            assert r.json()["error"]["message"]
            r = c.post("/v1/videos", data={**SMALL, field: str(value)})  # the same as a form
            assert r.status_code == 400, (field, value, r.status_code, r.text[:300])
        assert [v["id"] for v in c.get("/v1/videos").json()["data"]] == [quote.json()["id"]]


def test_oversized_headers_and_bodies_are_refused(svc, base):
    limit = svc.settings.max_upload_bytes
    r = raw(base, b"GET /v1/videos HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 4"), r[:100]
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(20_000))
    r = raw(base, b"GET /v1/videos HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert r.startswith(b"HTTP/1.1 4"), r[:100]
    with httpx.Client(base_url=base, timeout=30) as c:
        r = c.post("/v1/videos", content=b"{" + b" " * (limit + 100_000) + b"}", headers={"content-type": "application/json"})
        assert r.status_code == 413, r.text[:200]

    # no Content-Length (chunked) and a body that never ends: the server answers 413 once the limit
    # is passed, without waiting for (or storing) the rest
    host, port = base.removeprefix("http://").split(":")
    for ctype, opening in (("multipart/form-data; boundary=b",
                            b'--b\r\nContent-Disposition: form-data; name="input_reference"; filename="../../x.png"\r\n\r\n'),
                           ("application/json", b'{"prompt": "')):
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(f"POST /v1/videos HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n".encode())
            block = b"a" * 65536
            sock.sendall(b"%x\r\n%s\r\n" % (len(opening), opening))
            for _ in range(limit // len(block) + 4):
                sock.sendall(b"%x\r\n%s\r\n" % (len(block), block))
            assert sock.recv(100).startswith(b"HTTP/1.1 413"), ctype  # a timeout here: it waited for the rest
    assert not any(svc.settings.files_dir.glob("*/*")) if svc.settings.files_dir.exists() else True


def test_slow_clients_do_not_hold_up_others(svc, base):
    """30 connections that dribble a header a byte at a time, and one that stops mid-body: a normal
    client is still answered at once."""
    host, port = base.removeprefix("http://").split(":")
    slow = []
    for _ in range(30):
        s = socket.create_connection((host, int(port)))
        s.sendall(b"GET /v1/videos HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        slow.append(s)
    stuck = socket.create_connection((host, int(port)))
    stuck.sendall(b"POST /v1/videos HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"pro")
    try:
        for i in range(3):
            for s in slow:
                s.sendall(b"a")
            t = time.monotonic()
            r = httpx.get(f"{base}/v1/videos", timeout=10)
            assert r.status_code == 200 and time.monotonic() - t < 2
            time.sleep(0.3)
    finally:
        for s in [*slow, stuck]:
            s.close()


def test_event_streams_are_bounded_per_caller(svc, base):
    """Streams left open by one caller (an open studio: per address) stop at the limit with 429;
    closing one frees its slot. Nothing runs the job, so every stream stays open."""
    limit = svc.settings.max_event_streams
    vid = httpx.post(f"{base}/v1/videos", json=SMALL).json()["id"]

    async def go():
        async with httpx.AsyncClient(base_url=base, timeout=10) as c:
            streams = []
            for _ in range(limit):
                cm = c.stream("GET", f"/v1/videos/{vid}/events")
                r = await cm.__aenter__()
                assert r.status_code == 200
                lines = r.aiter_lines()  # kept: dropping an unfinished iterator closes its stream
                assert await lines.__anext__() == "event: video.queued"
                streams.append((cm, lines))
            over = await c.get(f"/v1/videos/{vid}/events")
            assert over.status_code == 429 and over.json()["error"]["code"] == "too_many_streams"
            assert over.headers["retry-after"]
            assert (await c.get(f"/v1/videos/{vid}")).status_code == 200  # other calls are not limited by it
            await streams.pop()[0].__aexit__(None, None, None)
            deadline = time.monotonic() + 5  # the server notices the close within its poll interval
            while True:
                async with c.stream("GET", f"/v1/videos/{vid}/events") as again:
                    if again.status_code == 200:
                        break
                assert time.monotonic() < deadline, "a closed stream's slot was not given back"
                await asyncio.sleep(0.3)
            for cm, _ in streams:
                await cm.__aexit__(None, None, None)

    asyncio.run(go())


def test_a_stream_for_a_video_that_finishes_gives_its_slot_back(svc, base):
    from kinetoscope.studio.worker import Worker

    vid = httpx.post(f"{base}/v1/videos", json=SMALL).json()["id"]
    done = threading.Thread(target=lambda: [Worker(svc).run_once(timeout=0.5) for _ in range(4)])
    done.start()
    for _ in range(svc.settings.max_event_streams + 2):  # more streams in a row than the limit, each to the end
        with httpx.stream("GET", f"{base}/v1/videos/{vid}/events", timeout=30) as r:
            assert r.status_code == 200
            assert any(line == "event: video.completed" for line in r.iter_lines())
    done.join()


def test_a_form_read_under_the_body_limit_can_be_read_again():
    """Regression: capping the body must not take it from the request (a route that reads the
    form after forms.read_body, as POST /v1/verify does, hung waiting for a body already read)."""
    from fastapi import FastAPI, Request
    from fastapi.testclient import TestClient

    from kinetoscope.studio.api import errors, forms

    app = FastAPI()
    errors.install(app)

    @app.post("/echo")
    async def echo(request: Request):
        fields, files = await forms.read_body(request, 1000)
        form = await request.form()
        return {"fields": fields, "files": sorted(files), "filename": form["file"].filename}

    with TestClient(app) as c:
        r = c.post("/echo", data={"a": "1"}, files={"file": ("x.png", b"abc", "image/png")}, timeout=10)
        assert r.json() == {"fields": {"a": "1"}, "files": ["file"], "filename": "x.png"}
        assert c.post("/echo", files={"file": ("x.png", b"a" * 70_000, "image/png")}).status_code == 413


def test_numbers_beyond_the_databases_range_are_400(svc, base):
    """Regression (found by the fuzzer): ?before=-10**29 on the audit log was a 500 on SQLite."""
    from kinetoscope.studio import accounts

    admin = accounts.create_user(svc.sessions, "admin", "correct horse battery", is_admin=True)
    key, _ = accounts.create_key(svc.sessions, admin, "t", list(accounts.SCOPES))
    for value in (-10**29, 10**29, 2**63, -1):
        r = httpx.get(f"{base}/v1/admin/audit", params={"before": value}, headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 400 and r.json()["error"]["param"] == "before", (value, r.text)
    r = httpx.get(f"{base}/v1/admin/audit", params={"before": 2**63 - 1}, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200 and r.json()["data"]


def test_method_not_allowed_lists_every_method_of_the_path(svc, base):
    """Regression: a path served by several routes listed only the first route's methods in Allow."""
    for path, allowed in (("/v1/videos/video_x", "DELETE, GET"), ("/v1/videos", "GET, POST"), ("/v1/me/keys", "GET, POST")):
        r = httpx.request("PUT", f"{base}{path}")
        assert r.status_code == 405 and r.headers["allow"] == allowed, (path, r.headers.get("allow"))
        assert r.json()["error"]["code"] == "method_not_allowed"
