"""The job lifecycle's guarantees: one owner at a time, completed exactly once, retried when a
worker dies, given up after the attempt limit; webhooks signed and retried."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from kinetoscope.studio import jobs, webhooks
from kinetoscope.studio.worker import Worker
from tests.studio.servers import free_port


def new_job(svc, **kw):
    req = {"prompt": "a red circle", "width": 32, "height": 32, "frames": 5, "fps": 8, "steps": 2, "guidance": 3.5,
           "seed": 1, "negative_prompt": "", "sampler": "euler", **kw}
    return jobs.create(svc.sessions, svc.queue, svc.settings, model="kinetoscope-builtin", task="t2v",
                       prompt=req["prompt"], request=req, seconds="0.5", size="32x32")


def test_claim_is_exclusive_and_completion_happens_once(svc):
    row = new_job(svc)
    s = svc.settings
    assert jobs.claim(svc.sessions, row.id, "A", s) is not None
    assert jobs.claim(svc.sessions, row.id, "B", s) is None  # A holds the lease
    with svc.sessions.begin() as db:  # A stops beating: its lease runs out
        db.get(type(row), row.id).lease_until = time.time() - 1
    assert jobs.claim(svc.sessions, row.id, "B", s).attempts == 2
    assert not jobs.heartbeat(svc.sessions, row.id, "A", 50, s)  # A learns it lost the job
    assert not jobs.complete(svc.sessions, row.id, "A", {}, s)
    assert jobs.complete(svc.sessions, row.id, "B", {"video": "x"}, s)
    assert not jobs.complete(svc.sessions, row.id, "B", {"video": "x"}, s)
    assert not jobs.fail(svc.sessions, row.id, "B", "late", "too late", s)
    assert jobs.get(svc.sessions, row.id).status == "completed"


def test_reaper_gives_up_after_the_attempt_limit(svc):
    row = new_job(svc)
    s = svc.settings
    for i in range(s.max_attempts):
        assert jobs.claim(svc.sessions, row.id, f"w{i}", s) is not None
        with svc.sessions.begin() as db:
            db.get(type(row), row.id).lease_until = time.time() - 1
    assert jobs.claim(svc.sessions, row.id, "late", s) is None
    counts = jobs.reap(svc.sessions, svc.queue, s)
    assert counts["failed"] == 1
    got = jobs.get(svc.sessions, row.id)
    assert got.status == "failed" and got.error_code == "worker_lost" and str(s.max_attempts) in got.error_message


def test_a_queued_job_that_never_reached_the_queue_is_pushed_again(svc):
    row = new_job(svc)
    svc.queue.flush()  # as if the server died between the commit and the push
    assert svc.queue.pop(0.1) is None
    with svc.sessions.begin() as db:
        db.get(type(row), row.id).enqueued_at = time.time() - 60
    assert jobs.reap(svc.sessions, svc.queue, svc.settings)["requeued"] == 1
    assert Worker(svc).run_once(timeout=2) and jobs.get(svc.sessions, row.id).status == "completed"


def test_a_backlog_is_not_pushed_again_while_the_queue_holds_it(svc):
    rows = [new_job(svc) for _ in range(3)]
    with svc.sessions.begin() as db:  # they have waited long, but they are in the queue
        for r in rows:
            db.get(type(r), r.id).enqueued_at = time.time() - 60
    before = svc.queue.pending()
    assert jobs.reap(svc.sessions, svc.queue, svc.settings)["requeued"] == 0
    assert svc.queue.pending() == before == 3


def _worker_env(svc) -> dict:
    s = svc.settings
    env = {**os.environ, "KINETOSCOPE_DATA_DIR": str(s.data_dir), "KINETOSCOPE_BUILTIN": s.builtin_spec,
           "KINETOSCOPE_LEASE_SECONDS": str(s.lease_seconds), "KINETOSCOPE_WORKER_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    if s.database_url:
        env["KINETOSCOPE_DATABASE_URL"] = s.database_url
    if s.redis_url:
        env["KINETOSCOPE_REDIS_URL"] = s.redis_url
    return env


def _killed_mid_job(svc, size: int):
    """A job of size x size run by a worker process that is SIGKILLed once the job shows progress;
    None where the worker finished it before then (a machine fast enough for this size)."""
    row = new_job(svc, steps=200, frames=17, width=size, height=size)
    proc = subprocess.Popen([sys.executable, "-m", "kinetoscope", "worker", "--log-level", "warning"],
                            env=_worker_env(svc), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while True:
            got = jobs.get(svc.sessions, row.id)
            if got.status == "in_progress" and got.progress >= 5:
                return row
            if got.status == "completed":
                return None
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()  # before reading its stderr: a live worker never closes it
                pytest.fail(f"job {got.status} at {got.progress}% (120 s allowed); worker exit {proc.wait(10)}: "
                            f"{proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
    finally:
        proc.kill()  # SIGKILL: no chance to finish or clean up
        proc.wait(10)
        proc.stderr.close()


@pytest.mark.slow
def test_sigkilled_worker_job_is_retried_and_completes_once(svc):
    # long enough to be killed in the middle: the job grows until this machine is slow enough for it
    row = next((r for r in (_killed_mid_job(svc, size) for size in (64, 128, 256)) if r is not None), None)
    assert row is not None, "a worker finished a 256x256, 200-step job before its first heartbeat"
    assert jobs.get(svc.sessions, row.id).status == "in_progress"  # stuck until its lease runs out...
    w = Worker(svc, worker_id="rescuer")
    deadline = time.monotonic() + 120
    while jobs.get(svc.sessions, row.id).status != "completed":  # ...then the reaper hands it to us
        assert time.monotonic() < deadline
        w.run_once(timeout=0.5)
        w._last_reap = 0
    done = jobs.get(svc.sessions, row.id)
    assert done.attempts == 2 and done.worker_id == "rescuer"
    files = sorted(p.name for p in (svc.settings.files_dir / row.id).iterdir())
    assert files == ["spritesheet.jpg", "thumbnail.webp", "video.mp4"]  # no partial or duplicate files


class _Receiver(BaseHTTPRequestHandler):
    got: list = []
    fail_first = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"])).decode()
        type(self).got.append((dict(self.headers), body))
        ok = len(type(self).got) > type(self).fail_first
        self.send_response(204 if ok else 500)
        self.end_headers()

    def log_message(self, *a):
        pass


def test_webhook_is_signed_and_retried(svc):
    secret = webhooks.new_secret()
    port = free_port()
    _Receiver.got, _Receiver.fail_first = [], 1
    httpd = HTTPServer(("127.0.0.1", port), _Receiver)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        svc.settings = svc.settings.with_(webhook_url=f"http://127.0.0.1:{port}/hook", webhook_secret=secret)
        row = new_job(svc)
        w = Worker(svc)
        assert w.run_once(timeout=2)
        w.housekeeping()  # first delivery: the receiver answers 500
        d = jobs.pending_deliveries(svc.sessions) or None
        assert d is None  # backing off: not due yet
        with svc.sessions.begin() as db:
            from kinetoscope.studio.models import WebhookDelivery

            rec = db.query(WebhookDelivery).one()
            assert rec.attempts == 1 and rec.last_error == "HTTP 500"
            rec.next_attempt_at = time.time() - 1
        w.housekeeping()  # second delivery succeeds
        with svc.sessions() as db:
            assert db.query(WebhookDelivery).one().status == "delivered"
    finally:
        httpd.shutdown()
    assert len(_Receiver.got) == 2
    headers, body = _Receiver.got[-1]
    assert webhooks.verify(secret, headers, body)
    assert not webhooks.verify(secret, headers, body.replace("completed", "failed"))
    assert not webhooks.verify(webhooks.new_secret(), headers, body)
    event = json.loads(body)
    assert event["type"] == "video.completed" and event["data"]["id"] == row.id
