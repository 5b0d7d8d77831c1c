"""The official `openai` client reads the video object's queue fields and a cancelled video: its `Video`
keeps fields it does not know (queue_position, eta_seconds) and does not check `status` against its
list (queued, in_progress, completed, failed), so `cancelled` comes through, and `poll` returns on it."""

import dataclasses
import warnings

import pytest
from openai import OpenAI
from openai.types import Video

from kinetoscope.studio.services import Services
from tests.studio.live import live_server

warnings.filterwarnings("ignore", category=DeprecationWarning)
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_openai_client_reads_queue_fields_and_a_cancelled_video(svc):
    quiet = Services(**{**{f.name: getattr(svc, f.name) for f in dataclasses.fields(svc)},
                        "settings": svc.settings.with_(embedded_worker=False, poll_after_ms=100)})  # nothing runs
    with live_server(quiet) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused-by-an-open-studio", max_retries=0, timeout=60)
        first = client.videos.create(prompt="a red circle", size="32x32", seconds="1")
        second = client.videos.create(prompt="a blue square", size="32x32", seconds="1")
        got = client.videos.retrieve(second.id)
        assert got.status == "queued" and got.queue_position == 2 and got.eta_seconds > 0
        cancelled = client.post(f"/videos/{first.id}/cancel", cast_to=Video)
        assert isinstance(cancelled, Video) and cancelled.status == "cancelled" and cancelled.queue_position is None
        assert client.videos.poll(first.id).status == "cancelled"  # poll returns on a status outside its list
        assert client.videos.retrieve(second.id).queue_position == 1
        assert {v.id: v.status for v in client.videos.list().data} == {first.id: "cancelled", second.id: "queued"}
