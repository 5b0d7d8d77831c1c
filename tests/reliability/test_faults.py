"""Faults in real processes: the server or worker SIGKILLed and restarted, Redis and PostgreSQL
restarted under work. Whatever was accepted with a 2xx completes, exactly once; requests during
an outage get a quick, clear answer (503 with Retry-After), never a hang or a 500.

(A worker SIGKILLed in the middle of a job is tests/studio/test_jobs.py; here the whole
server goes, with jobs still queued behind it.)"""

import threading
import time

import httpx
import pytest

from kinetoscope.studio.settings import Settings
from tests.reliability.procs import SMALL, Studio, kill, tail, wait_for

pytestmark = pytest.mark.slow
LONG = {**SMALL, "size": "64x64", "seconds": "2", "steps": 200}  # long enough to be killed in the middle


def make_settings(tmp_path, tiny_model_dir, **kw) -> Settings:
    return Settings(data_dir=tmp_path / "data", builtin_spec=f"builtin:{tiny_model_dir}", lease_seconds=4.0, **kw)


@pytest.fixture
def studio():
    made = []

    def make(settings):
        made.append(Studio(settings))
        return made[-1]

    yield make
    for s in made:
        s.close()


def create(url: str, body: dict, timeout: float = 10) -> httpx.Response:
    return httpx.post(f"{url}/v1/videos", json=body, timeout=timeout)


def status_of(url: str, ids) -> dict:
    return {i: httpx.get(f"{url}/v1/videos/{i}", timeout=10).json() for i in ids}


def all_completed(st: Studio, ids, seconds: float, procs=()) -> dict:
    def done():
        for p in procs:
            assert p.poll() is None, tail(p)
        got = status_of(st.url, ids)
        bad = [v for v in got.values() if v["status"] == "failed"]
        assert not bad, bad
        return got if all(v["status"] == "completed" for v in got.values()) else None

    return wait_for(done, seconds, f"{len(ids)} jobs to complete", every=0.5)


def assert_stored_once(settings: Settings, ids) -> None:
    """Each video has exactly its three files: no duplicates, no leftovers of a killed attempt."""
    files_dir = settings.files_dir
    for vid in ids:
        assert sorted(p.name for p in (files_dir / vid).iterdir()) == ["spritesheet.jpg", "thumbnail.webp", "video.mp4"]
    assert sorted(p.name for p in files_dir.iterdir()) == sorted(ids)


def _long_job_with_jobs_behind_it(url: str) -> tuple[str, list[str], list[str]]:
    """Create a job and, once it is under way, four small ones behind it. Where this machine got
    the first past half its denoising by then (too near its end to be sure a kill finds it
    running), start over with a larger one. Returns the running job's id, the queued ones and
    those that finished early."""
    early = []
    for size in ("64x64", "128x128", "256x256"):
        vid = create(url, {**LONG, "size": size}).json()["id"]
        wait_for(lambda: (v := status_of(url, [vid])[vid])["status"] == "completed"
                 or (v["status"] == "in_progress" and v["progress"] >= 5), 90, f"the {size} job to be under way")
        queued = [create(url, {**SMALL, "seed": i}).json()["id"] for i in range(4)]
        now = status_of(url, [vid])[vid]
        if now["status"] == "in_progress" and now["progress"] <= 45:  # denoising is progress 0-90
            return vid, queued, early
        early += [vid, *queued]
    raise AssertionError("the server got half through a 256x256, 200-step job before four more were queued")


def test_embedded_server_killed_with_jobs_queued_loses_nothing(tmp_path, tiny_model_dir, studio):
    """The default install (SQLite + SQLite queue, one `kinetoscope serve` with its worker) is
    SIGKILLed while one job runs and more wait; after a restart every accepted job completes once."""
    st = studio(make_settings(tmp_path, tiny_model_dir))
    server = st.serve(worker=True)
    first, queued, early = _long_job_with_jobs_behind_it(st.url)
    kill(server)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{st.url}/healthz", timeout=2)
    st.serve(worker=True)
    everything = [*early, first, *queued]
    got = all_completed(st, everything, 150, st.procs[-1:])
    assert got[first]["attempts"] == 2  # the killed attempt, then the one that finished
    assert all(got[q]["attempts"] == 1 for q in queued)
    assert_stored_once(st.settings, everything)
    listed = httpx.get(f"{st.url}/v1/videos", params={"limit": 100}, timeout=10).json()["data"]
    assert sorted(v["id"] for v in listed) == sorted(everything)


def test_api_server_killed_under_traffic(tmp_path, tiny_model_dir, studio, postgres, redis_server):
    """PostgreSQL + Redis, `serve --no-worker` and a `kinetoscope worker`: two clients keep
    creating jobs while the server is SIGKILLed and restarted. Every id answered with a 2xx
    completes exactly once; requests fail only while nothing listens."""
    db = postgres.create_database(f"faults_{time.time_ns()}")
    st = studio(make_settings(tmp_path, tiny_model_dir, database_url=db, redis_url=redis_server.url))
    server = st.serve()
    worker = st.worker()
    accepted, refused, stop = [], [], threading.Event()

    def client(n: int):
        while not stop.is_set():
            try:
                r = create(st.url, {**SMALL, "seed": n}, timeout=5)
                (accepted if r.status_code == 200 else refused).append(r.json()["id"] if r.status_code == 200 else r.status_code)
            except httpx.TransportError:
                refused.append("down")
            n += 100
            time.sleep(0.2)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(accepted) >= 4, 30, "jobs to be accepted")
        kill(server)
        time.sleep(0.5)
        st.serve()
        before = len(accepted)
        wait_for(lambda: len(accepted) >= before + 4, 30, "jobs accepted by the restarted server")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert "down" in refused and all(r == "down" for r in refused), refused  # refused only while it was down
    all_completed(st, accepted, 120, [worker])
    assert_stored_once(st.settings, accepted)


def _outage_answers(url: str) -> list[tuple]:
    """What clients get while a backing service is down: (request, status, seconds, response)."""
    out = []
    for method, path, body in (("GET", "/v1/videos", None), ("POST", "/v1/videos", SMALL), ("GET", "/healthz", None)):
        t = time.monotonic()
        r = httpx.request(method, f"{url}{path}", json=body, timeout=30)
        out.append((f"{method} {path}", r.status_code, time.monotonic() - t, r))
    return out


def test_redis_then_postgres_restarted_under_work(tmp_path, tiny_model_dir, studio, own_postgres, own_redis):
    """Redis down: the queue only carries ids and the database row is the truth, so a create is
    still accepted at once (the reaper queues it when Redis is back) and reads work; this Redis
    keeps nothing across the restart, the worst case. PostgreSQL down: every request answers 503
    with Retry-After within seconds. After each, the worker reconnects and every job completes."""
    st = studio(make_settings(tmp_path, tiny_model_dir, database_url=own_postgres.create_database("outage"),
                              redis_url=own_redis.url))
    st.serve()
    worker = st.worker()
    ids = [create(st.url, LONG).json()["id"]] + [create(st.url, {**SMALL, "seed": i}).json()["id"] for i in range(3)]
    wait_for(lambda: status_of(st.url, ids[:1])[ids[0]]["progress"] >= 5, 120, "work to be under way")

    own_redis.stop()
    for what, status, seconds, r in _outage_answers(st.url):
        assert status == 200 and seconds < 5, (what, status, seconds, r.text)
        if what == "POST /v1/videos":
            ids.append(r.json()["id"])
    time.sleep(2)  # the worker meets the outage (its queue reads fail)
    own_redis.start()
    all_completed(st, ids, 120, [worker])

    more = [create(st.url, {**LONG, "seed": 9}).json()["id"], create(st.url, SMALL).json()["id"]]
    wait_for(lambda: status_of(st.url, more[:1])[more[0]]["progress"] >= 5, 120, "work to be under way again")
    own_postgres.down()
    for what, status, seconds, r in _outage_answers(st.url):
        assert status == 503 and seconds < 5, (what, status, seconds, r.text)
        assert r.headers["retry-after"] and r.json()["error"]["code"] == "service_unavailable"
    time.sleep(2)  # the worker meets the outage (heartbeat, claim, completion)
    own_postgres.up()
    all_completed(st, ids + more, 120, [worker])
    assert_stored_once(st.settings, ids + more)
    assert create(st.url, SMALL).status_code == 200
