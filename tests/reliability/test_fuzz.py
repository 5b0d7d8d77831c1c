"""Property-based fuzzing of the whole /v1 API from its own OpenAPI schema (schemathesis), over
real HTTP, on SQLite and on PostgreSQL + Redis: no 5xx, and every answer (status, content type,
headers, body) as the schema says. Once on an open studio (anonymous), once with an admin's API
key (every route, admin ones too), and the ownership matrix: another account's video, fuzzed on
every route that takes a video id, is never seen, changed or deleted.

KINETOSCOPE_FUZZ_EXAMPLES sets the examples per operation (10 here; RELIABILITY.md has a bigger run).
"""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings as hyp_settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from kinetoscope.studio import accounts, jobs
from kinetoscope.studio.worker import Worker
from tests.studio.live import live_server

pytestmark = pytest.mark.slow
EXAMPLES = int(os.environ.get("KINETOSCOPE_FUZZ_EXAMPLES", "10"))
HYPOTHESIS = hyp_settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                          suppress_health_check=list(HealthCheck))
# Every built-in check but one: "a request the schema allows must be accepted" cannot hold for
# values only the model knows are wrong (a size it cannot make, a length over its maximum);
# those are refused with a 400 that names the value and its range, as the schema documents.
EXCLUDED = [positive_data_acceptance]
PASSWORD = "correct horse battery"
COUNTS: dict[str, int] = {}


@pytest.fixture
def settings(settings):  # noqa: F811 - the studio's settings, without the per-minute rate limit
    return settings.with_(rate_limit_per_minute=0)


def _completed_video(svc, owner_id=None) -> str:
    row = jobs.create(svc.sessions, svc.queue, svc.settings, model="kinetoscope-builtin", task="t2v", prompt="a red circle",
                      request={"prompt": "a red circle", "width": 32, "height": 32, "frames": 9, "fps": 8, "steps": 2,
                               "guidance": 3.5, "seed": 1, "negative_prompt": "", "sampler": "euler"},
                      seconds="1", size="32x32", owner_id=owner_id)
    w = Worker(svc, worker_id="fuzz")
    while jobs.get(svc.sessions, row.id).status != "completed":
        w.run_once(timeout=0.5)
    return row.id


@pytest.fixture
def open_studio(svc):
    _completed_video(svc)
    with live_server(svc) as url:
        yield schemathesis.openapi.from_url(f"{url}/openapi.json")


@pytest.fixture
def admin_key(svc) -> str:
    admin = accounts.create_user(svc.sessions, "admin", PASSWORD, is_admin=True)
    key, _ = accounts.create_key(svc.sessions, admin, "fuzz", list(accounts.SCOPES))
    _completed_video(svc, admin.id)
    return key


@pytest.fixture
def admin_studio(svc, admin_key):
    with live_server(svc) as url:
        yield schemathesis.openapi.from_url(f"{url}/openapi.json")


@pytest.fixture
def two_accounts(svc):
    alice = accounts.create_user(svc.sessions, "alice", PASSWORD)
    bob = accounts.create_user(svc.sessions, "bob", PASSWORD)
    bob_key, _ = accounts.create_key(svc.sessions, bob, "fuzz", ["videos:read", "videos:write"])
    alice_video = _completed_video(svc, alice.id)
    with live_server(svc) as url:
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json").include(path_regex=r"\{video_id\}")
        yield schema, alice_video, {"Authorization": f"Bearer {bob_key}"}


def fuzz(schema, name: str, headers: dict, check=None) -> None:
    """Every operation in `schema`, EXAMPLES generated requests each (schemathesis strategies driven
    by Hypothesis): each answer validated against the schema and the built-in checks; fails if the
    schema offered no operation or Hypothesis generated no request (a fuzz that tried nothing)."""
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @HYPOTHESIS
        def run(case):
            COUNTS[name] = COUNTS.get(name, 0) + 1
            if check is not None:
                check(case)
            response = case.call(headers=headers, timeout=15)
            case.validate_response(response, headers=headers, excluded_checks=EXCLUDED)
            if check is not None:
                check(case, response)

        run()
        operations += 1
    assert operations and COUNTS.get(name, 0) >= operations, f"{name}: {operations} operations, {COUNTS.get(name, 0)} cases"
    print(f"\nfuzz {name}: {COUNTS[name]} cases over {operations} operations")


def test_fuzz_open_studio(open_studio):
    fuzz(open_studio, "open", {})


def test_fuzz_with_an_admin_key(admin_studio, admin_key):
    fuzz(admin_studio, "admin", {"Authorization": f"Bearer {admin_key}"})


def test_fuzzed_requests_never_reach_another_accounts_video(svc, two_accounts):
    """Bob's key, every route that takes a video id, fuzzed bodies and query strings, Alice's id."""
    schema, alice_video, bob = two_accounts
    before = jobs.to_api(jobs.get(svc.sessions, alice_video))

    def aim_at_alice(case, response=None):
        if response is None:
            case.path_parameters = {**(case.path_parameters or {}), "video_id": alice_video}
            return
        assert response.status_code in (400, 404, 405, 413), (case.method, case.formatted_path, response.status_code)
        assert response.status_code == 404 or alice_video not in response.text  # her id is only echoed in "not found"

    fuzz(schema, "ownership", bob, aim_at_alice)
    assert jobs.to_api(jobs.get(svc.sessions, alice_video)) == before  # not deleted, not changed
    assert (svc.settings.files_dir / alice_video / "video.mp4").is_file()

