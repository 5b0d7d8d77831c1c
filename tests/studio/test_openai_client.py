"""The official `openai` client, unchanged but for base_url, against a live server."""

import dataclasses
import warnings

import numpy as np
import pytest
from openai import BadRequestError, NotFoundError, OpenAI

from kinetoscope.media import read_video
from kinetoscope.studio.services import Services
from tests.studio.live import live_server

warnings.filterwarnings("ignore", category=DeprecationWarning)


@pytest.fixture
def client(svc):
    live = Services(**{**{f.name: getattr(svc, f.name) for f in dataclasses.fields(svc)},
                       "settings": svc.settings.with_(embedded_worker=True, poll_after_ms=100)})
    with live_server(live) as url:
        yield OpenAI(base_url=f"{url}/v1", api_key="unused-by-an-open-studio", max_retries=0, timeout=60)


def test_openai_client_round_trip(client, tmp_path):
    video = client.videos.create(prompt="a red circle bouncing on a blue background", size="64x64", seconds="1")
    assert video.object == "video" and video.status in ("queued", "in_progress")
    done = client.videos.create_and_poll(prompt="a green square moving left", size="32x32", seconds="1")
    assert done.status == "completed" and done.progress == 100 and done.size == "32x32"
    got = client.videos.retrieve(video.id)
    assert got.id == video.id
    client.videos.poll(video.id)
    content = client.videos.download_content(done.id)
    content.write_to_file(tmp_path / "clip.mp4")
    frames, fps = read_video(tmp_path / "clip.mp4")
    assert frames.shape == (9, 32, 32, 3) and fps == 8 and frames.std() > 0
    thumb = client.videos.download_content(done.id, variant="thumbnail")
    assert thumb.content[:4] == b"RIFF"  # webp
    page = client.videos.list(limit=1)
    assert len(page.data) == 1 and page.has_more and page.data[0].id == done.id
    assert {v.id for v in client.videos.list(limit=10).data} == {video.id, done.id}
    remix = client.videos.remix(done.id, prompt="a blue square moving left")
    assert remix.remixed_from_video_id == done.id
    remixed = client.videos.poll(remix.id)
    assert remixed.status == "completed"
    deleted = client.videos.delete(video.id)
    assert deleted.deleted and deleted.id == video.id
    with pytest.raises(NotFoundError):
        client.videos.retrieve(video.id)


def test_openai_client_sees_clear_errors(client):
    with pytest.raises(BadRequestError) as e:
        client.videos.create(prompt="a ball", size="720x1280")
    assert e.value.body["param"] == "size" and "multiple of 16 from 32 to 256" in e.value.body["message"]


def test_openai_client_extend(client, tmp_path):
    """videos.extend with an uploaded video (openai 3.57 refuses {"id": ...} for `video`: its
    multipart encoder expects a file there), and by id through the client's generic post."""
    from openai.types import Video

    src = client.videos.create_and_poll(prompt="a red circle", size="64x64", seconds="1")
    client.videos.download_content(src.id).write_to_file(tmp_path / "src.mp4")
    source, _ = read_video(tmp_path / "src.mp4")
    up = client.videos.poll(client.videos.extend(prompt="a red circle", seconds="1", video=tmp_path / "src.mp4").id)
    by_id = client.post("/videos/extensions", body={"prompt": "a red circle", "seconds": "1", "video": {"id": src.id}},
                        cast_to=Video)
    by_id = client.videos.poll(by_id.id)
    for ext in (up, by_id):
        assert ext.status == "completed" and ext.seconds == "2"
        client.videos.download_content(ext.id).write_to_file(tmp_path / "ext.mp4")
        frames, _ = read_video(tmp_path / "ext.mp4")
        assert len(frames) == 17
        # the first second is the source video, untouched but for re-encoding
        assert np.abs(frames[:9].astype(int) - source.astype(int)).mean() < 15  # a different clip: ~50


def test_openai_client_edit(client, tmp_path):
    src = client.videos.create_and_poll(prompt="a red circle", size="64x64", seconds="1")
    client.videos.download_content(src.id).write_to_file(tmp_path / "src.mp4")
    ed = client.videos.poll(client.videos.edit(prompt="a blue circle", video=tmp_path / "src.mp4").id)
    assert ed.status == "completed" and ed.seconds == "1" and ed.size == "64x64"


def test_openai_client_storyboard(client):
    """A storyboard through videos.create: the prompt holds the shots, extra_body names the task."""
    v = client.videos.create_and_poll(prompt="0s a red circle\n1.5s a blue square", size="32x32", seconds="3",
                                      extra_body={"task": "storyboard", "steps": 2})
    assert v.status == "completed" and v.seconds == "3" and v.prompt == "a red circle → a blue square"
