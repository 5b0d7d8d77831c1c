"""Cancel (POST /v1/videos/{id}/cancel), queue positions and time estimates, on the embedded queue
(SQLite) and on PostgreSQL + Redis: a job cancelled while it samples stops, leaves no file, gives its
quota back, and its worker takes the next job; a queued one is skipped; the estimates use the speed
measured from finished jobs."""

import threading
import time

import pytest
from sqlalchemy import select

from kinetoscope.studio import quotas
from kinetoscope.studio.models import EngineSpeed
from kinetoscope.studio.worker import Worker
from tests.studio.helpers import work
from tests.studio.test_accounts import bearer, make_user

SLOW = {"size": "256x256", "seconds": "2", "steps": 200}  # a few seconds of sampling with the tiny model
QUICK = {"size": "32x32", "seconds": "1", "steps": 2}


def create(client, key=None, **kw):
    r = client.post("/v1/videos", json={"prompt": "a red circle moving right", **kw},
                    headers=bearer(key) if key else None)
    assert r.status_code == 200, r.text
    return r.json()


def get(client, vid, key=None):
    return client.get(f"/v1/videos/{vid}", headers=bearer(key) if key else None).json()


def wait_for(check, timeout=120.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def worker(svc):
    """One real worker in a thread, as `kinetoscope worker` runs it."""
    stop = threading.Event()
    w = Worker(svc, worker_id="the-worker")
    thread = threading.Thread(target=w.run_forever, args=(stop,), daemon=True)
    thread.start()
    yield thread
    stop.set()
    thread.join(30)


def test_cancel_during_sampling_frees_the_worker(client, svc, worker):
    user, key = make_user(svc, "ada")
    kept = create(client, key, **QUICK)
    wait_for(lambda: get(client, kept["id"], key)["status"] == "completed", what="the first video")
    kept_files = sorted(p.name for p in svc.storage.path(kept["id"]).iterdir())
    before = usage_of(svc, user.id)

    slow = create(client, key, **SLOW)
    after = create(client, key, **QUICK)  # queued behind it
    wait_for(lambda: 0 < get(client, slow["id"], key)["progress"] < 90, what="sampling to start")
    assert get(client, after["id"], key)["queue_position"] == 1
    r = client.post(f"/v1/videos/{slow['id']}/cancel", headers=bearer(key))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["queue_position"] is None and r.json()["eta_seconds"] is None

    # the worker stops at its next step, removes what it wrote, and takes the next job
    done = wait_for(lambda: (v := get(client, after["id"], key))["status"] == "completed" and v, timeout=60,
                    what="the next job")
    assert done["progress"] == 100
    assert worker.is_alive()
    cancelled = get(client, slow["id"], key)
    assert cancelled["status"] == "cancelled" and cancelled["completed_at"] is not None
    assert cancelled["progress"] < 90  # it never reached decoding
    wait_for(lambda: not svc.storage.path(slow["id"]).exists(), timeout=10, what="its files to go")
    r = client.get(f"/v1/videos/{slow['id']}/content", headers=bearer(key))
    assert r.status_code == 409 and "cancelled" in r.json()["error"]["message"]
    # nothing lost: the earlier video and its files are there
    assert sorted(p.name for p in svc.storage.path(kept["id"]).iterdir()) == kept_files
    assert get(client, kept["id"], key)["status"] == "completed"
    # the quota units came back: the cancelled video counts neither as a video nor as seconds
    now = usage_of(svc, user.id)
    assert now["videos_today"] == before["videos_today"] + 1  # `after`, not the cancelled one
    assert now["seconds_today"] == pytest.approx(before["seconds_today"] + 1.0)
    assert now["active_jobs"] == 0
    # a finished video cannot be cancelled
    r = client.post(f"/v1/videos/{after['id']}/cancel", headers=bearer(key))
    assert r.status_code == 409 and r.json()["error"]["code"] == "video_not_cancellable"


def usage_of(svc, user_id):
    with svc.sessions() as s:
        return quotas.usage(s, user_id)


def test_cancel_a_queued_job_and_the_queue_moves_up(client, svc):
    ids = [create(client, **QUICK)["id"] for _ in range(3)]
    objs = [get(client, i) for i in ids]
    assert [o["queue_position"] for o in objs] == [1, 2, 3]
    etas = [o["eta_seconds"] for o in objs]
    assert 0 < etas[0] < etas[1] < etas[2]
    listed = {v["id"]: v for v in client.get("/v1/videos").json()["data"]}
    assert [listed[i]["queue_position"] for i in ids] == [1, 2, 3]

    r = client.post(f"/v1/videos/{ids[0]}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert client.post(f"/v1/videos/{ids[0]}/cancel").status_code == 200  # again: still cancelled
    assert [get(client, i)["queue_position"] for i in ids[1:]] == [1, 2]
    assert client.post("/v1/videos/video_nope/cancel").status_code == 404

    # the queue still carries the cancelled id: the worker skips it and makes the others
    assert work(svc, n=2) == 2
    assert [get(client, i)["status"] for i in ids] == ["cancelled", "completed", "completed"]
    assert not svc.storage.path(ids[0]).exists()


def test_estimates_use_the_measured_speed(client, svc):
    job = {"size": "128x128", "seconds": "1", "steps": 8}
    first = create(client, **job)
    # before any job: the documented default, seconds per step of one 64x64 frame x steps x frames x area
    work_units = 8 * 9 * (128 * 128) / (64 * 64)
    assert get(client, first["id"])["eta_seconds"] == pytest.approx(svc.settings.seconds_per_step_frame * work_units, abs=0.01)
    assert work(svc) == 1
    with svc.sessions() as s:
        speed = s.scalars(select(EngineSpeed)).one()
    assert speed.engine == "kinetoscope-builtin" and speed.jobs == 1 and speed.seconds_per_step_frame > 0
    own = speed.seconds_per_step_frame * work_units
    second = create(client, **job)
    assert get(client, second["id"])["eta_seconds"] == pytest.approx(own, abs=0.01)
    # queued behind it with twice the steps: its own time (twice) after the one ahead
    third = create(client, **{**job, "steps": 16})
    assert get(client, third["id"])["eta_seconds"] == pytest.approx(3 * own, abs=0.02)
