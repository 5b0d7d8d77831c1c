"""Characters, consent first: the official openai client's create_character / get_character against a
live studio, a character used in a prompt (@name) by its owner and by whom the owner shares it with,
refused (403, named) when not shared or revoked; what each engine does with it; its C2PA ingredient, audit
entries and uses; moderation, storage quota and training consent of its upload."""

import dataclasses
import json
import warnings

import httpx
import numpy as np
import pytest
from openai import OpenAI, PermissionDeniedError

from kinetoscope.media import read_image, read_video, write_video
from kinetoscope.studio import accounts, audit, characters
from kinetoscope.studio.services import Services
from kinetoscope.tasks import fit
from tests.studio.helpers import png_bytes, work
from tests.studio.live import live_server

warnings.filterwarnings("ignore", category=DeprecationWarning)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # openai: the Sora API's shutdown notice
PASSWORD = "correct horse battery staple"


def figure_clip(path, frames=9, size=(64, 48)):
    """A clip of a red square on white, largest in frame 4 (so that frame is the reference); returns its frames."""
    w, h = size
    out = np.full((frames, h, w, 3), 255, np.uint8)
    for i in range(frames):
        r = 4 + 2 * (4 - abs(i - 4))  # 4 .. 12 .. 4
        out[i, h // 2 - r:h // 2 + r, w // 2 - r:w // 2 + r] = (220, 30, 30)
        out[i, :6, :] = (20, 20, 120)  # a dark band: something to keep
    write_video(path, out, 8)
    return read_video(path)[0]


def make_user(svc, name, **quotas):
    user = accounts.create_user(svc.sessions, name, PASSWORD)
    if quotas:
        from sqlalchemy import update

        from kinetoscope.studio.models import User

        with svc.sessions.begin() as s:
            s.execute(update(User).where(User.id == user.id).values(**quotas))
    key, _ = accounts.create_key(svc.sessions, user, "test", ["videos:read", "videos:write"])
    return user, {"Authorization": f"Bearer {key}"}


def create(client, headers=None, name="ada", data=None, filename="ada.png", **fields):
    return client.post("/v1/videos/characters", data={"name": name, **fields}, headers=headers or {},
                       files={"video": (filename, png_bytes((200, 30, 30), (40, 30)) if data is None else data,
                                        "application/octet-stream")})


# --- the check the issue names: the official client against a live studio ------------------------------------
@pytest.fixture
def live(svc):
    live = Services(**{**{f.name: getattr(svc, f.name) for f in dataclasses.fields(svc)},
                       "settings": svc.settings.with_(embedded_worker=True, poll_after_ms=100)})
    with live_server(live) as url:
        yield url


def test_openai_client_characters_with_consent(svc, live, tmp_path):
    _, alice_auth = make_user(svc, "alice")
    _, bob_auth = make_user(svc, "bob")
    alice = OpenAI(base_url=f"{live}/v1", api_key=alice_auth["Authorization"][7:], max_retries=0, timeout=60)
    bob = OpenAI(base_url=f"{live}/v1", api_key=bob_auth["Authorization"][7:], max_retries=0, timeout=60)
    clip = tmp_path / "ada.mp4"
    source = figure_clip(clip)

    with open(clip, "rb") as f:
        made = alice.videos.create_character(name="ada", video=f)
    assert made.name == "ada" and made.id.startswith("char_") and made.created_at > 0
    got = alice.videos.get_character(made.id)
    assert (got.id, got.name, got.created_at) == (made.id, "ada", made.created_at)
    reference = read_image(httpx.get(f"{live}/v1/videos/characters/{made.id}/content", headers=alice_auth).content)
    assert np.abs(reference.astype(int) - source[4]).mean() < 4  # the frame that shows the most of it

    video = alice.videos.create_and_poll(prompt="@ada moving left", size="32x32", seconds="1")
    assert video.status == "completed", video.error
    assert video.model_extra["request"]["characters"] == [{"id": made.id, "name": "ada", "used_as": "given_frame"}]
    data = alice.videos.download_content(video.id).content
    (tmp_path / "made.mp4").write_bytes(data)
    frames, _ = read_video(tmp_path / "made.mp4")
    # the built-in model is given the reference as the first frame: the subject appears as drawn
    assert np.abs(frames[0].astype(int) - fit(reference, 32, 32)).mean() < 12
    report = httpx.post(f"{live}/v1/verify", files={"file": ("made.mp4", data, "video/mp4")}).json()
    assert report["c2pa"]["state"] == "trusted"
    assert {"title": f"character @ada ({made.id})", "relationship": "inputTo", "format": "image/png", "signed": False} \
        in report["c2pa"]["ingredients"]

    with pytest.raises(PermissionDeniedError) as refused:  # not shared with bob
        bob.videos.create(prompt="@ada dancing", size="32x32", seconds="1")
    assert refused.value.status_code == 403 and "@ada" in refused.value.message and made.id in refused.value.message
    assert refused.value.body["code"] == "character_not_shared"

    r = httpx.post(f"{live}/v1/videos/characters/{made.id}/sharing", json={"sharing": "accounts", "accounts": ["bob"]},
                   headers=alice_auth)
    assert r.status_code == 200 and r.json()["shared_with"] == ["bob"], r.text
    assert bob.videos.get_character(made.id).name == "ada"
    shared = bob.videos.create_and_poll(prompt="@ada dancing", size="32x32", seconds="1")
    assert shared.status == "completed", shared.error

    r = httpx.post(f"{live}/v1/videos/characters/{made.id}/sharing", json={"sharing": "private"}, headers=alice_auth)
    assert r.status_code == 200 and r.json()["sharing"] == "private"
    with pytest.raises(PermissionDeniedError):  # revoked: refused from the next request on
        bob.videos.create(prompt="@ada dancing again", size="32x32", seconds="1")
    assert httpx.get(f"{live}/v1/videos/characters/{made.id}", headers=bob_auth).status_code == 404

    # the owner sees where it was used (bob does not see the uses, nor alice bob's video itself)
    mine = httpx.get(f"{live}/v1/videos/characters/{made.id}", headers=alice_auth).json()
    assert mine["use_count"] == 2
    assert [(u["video_id"], u["by"]) for u in mine["uses"]] == [(shared.id, "bob"), (video.id, "alice")]
    uses = [e for e in audit.entries(svc.sessions) if e["action"] == "character.use"]
    assert {(e["target"], e["detail"]["video_id"]) for e in uses} == {(made.id, video.id), (made.id, shared.id)}


# --- the API and its refusals ------------------------------------------------------------------------------
def test_names_uploads_and_the_prompt_are_checked(client, svc, tmp_path):
    assert create(client).status_code == 200
    r = create(client, name="Ada")  # one @ada per studio, whatever the case
    assert r.status_code == 409 and r.json()["error"]["param"] == "name"
    for bad in ("", "1ada", "ada lovelace", "a" * 33):
        r = create(client, name=bad)
        assert r.status_code == 400 and r.json()["error"]["param"] == "name", bad
    r = create(client, name="notes", data=b"hello, not a picture", filename="notes.txt")
    err = r.json()["error"]
    assert r.status_code == 400 and err["param"] == "video" and '"notes.txt"' in err["message"]
    r = client.post("/v1/videos/characters", data={"name": "bo"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "video"
    assert [c["name"] for c in client.get("/v1/videos/characters").json()["data"]] == ["ada"]
    assert sorted(p.name for p in svc.settings.files_dir.iterdir()) == [client.get("/v1/videos/characters").json()["data"][0]["id"]]

    def refused(status, code, **body):
        r = client.post("/v1/videos", json={"size": "32x32", "seconds": "1", **body})
        assert r.status_code == status and r.json()["error"]["code"] == code, r.text
        return r.json()["error"]["message"]

    assert "@zed" in refused(400, "character_not_found", prompt="@zed moving left")
    create(client, name="bo", data=png_bytes((30, 30, 200)))
    assert "one" in refused(400, "invalid_value", prompt="@ada and @bo")
    assert "t2v" in refused(400, "invalid_value", prompt="0s @ada\n1s a blue square", task="storyboard", seconds="2")
    assert "t2v" in refused(400, "invalid_value", prompt="@ada", task="loop")
    r = client.post("/v1/videos", data={"prompt": "@ada waving", "size": "32x32", "seconds": "1"},
                    files={"input_reference": ("x.png", png_bytes(), "image/png")})
    assert r.status_code == 400 and "input image" in r.json()["error"]["message"]
    assert client.get("/v1/videos").json()["data"] == []
    ok = client.post("/v1/videos", json={"prompt": "mail me@example.com a red circle", "size": "32x32", "seconds": "1"})
    assert ok.status_code == 200 and "characters" not in ok.json()["request"]  # an address is no character


def test_a_character_is_made_as_image_to_video_from_its_reference(client, svc):
    """The built-in engine: the worker's video is the i2v task's, given the reference frame, with the same seed."""
    from kinetoscope import tasks

    cid = create(client, data=png_bytes((200, 30, 30), (40, 30))).json()["id"]
    v = client.post("/v1/videos", json={"prompt": "@ada moving left", "size": "32x32", "seconds": "1", "seed": 5}).json()
    assert v["task"] == "t2v" and v["request"]["characters"][0]["used_as"] == "given_frame"
    row_request = dict(v["request"])
    assert work(svc) == 1
    got = client.get(f"/v1/videos/{v['id']}").json()
    assert got["status"] == "completed", got["error"]
    reference = read_image(svc.storage.path(f"{cid}/reference.png"))
    pipe = svc.engines.get("kinetoscope-builtin").pipeline
    kw = {k: row_request[k] for k in ("negative_prompt", "width", "height", "frames", "fps", "steps", "guidance", "seed",
                                      "sampler")}
    direct = tasks.i2v(pipe, reference, "@ada moving left", **kw).frames
    row = type("Row", (), {"request": json.dumps(row_request), "owner_id": None})
    again = characters.generate(svc, row, svc.engines.get("kinetoscope-builtin"), None)
    assert np.array_equal(again.frames, direct) and again.metadata["characters"][0]["id"] == cid
    assert np.array_equal(direct[0], fit(reference, 32, 32))


def test_revoked_before_the_worker_runs_fails_naming_it(client, svc):
    _, alice = make_user(svc, "alice")
    _, bob = make_user(svc, "bob")
    cid = create(client, alice).json()["id"]
    assert client.post(f"/v1/videos/characters/{cid}/sharing", json={"sharing": "studio"}, headers=alice).status_code == 200
    vid = client.post("/v1/videos", json={"prompt": "@ada", "size": "32x32", "seconds": "1"}, headers=bob).json()["id"]
    assert client.post(f"/v1/videos/characters/{cid}/sharing", json={"sharing": "private"}, headers=alice).status_code == 200
    work(svc)
    v = client.get(f"/v1/videos/{vid}", headers=bob).json()
    assert v["status"] == "failed" and "@ada" in v["error"]["message"] and "revoked" in v["error"]["message"]
    # sharing's own refusals name the bad value
    r = client.post(f"/v1/videos/characters/{cid}/sharing", json={"sharing": "accounts", "accounts": ["nobody"]}, headers=alice)
    assert r.status_code == 400 and "'nobody'" in r.json()["error"]["message"]
    r = client.post(f"/v1/videos/characters/{cid}/sharing", json={"sharing": "friends"}, headers=alice)
    assert r.status_code == 400 and r.json()["error"]["param"] == "sharing"
    r = client.post(f"/v1/videos/characters/{cid}/sharing", json={"sharing": "studio"}, headers=bob)
    assert r.status_code == 404  # only the owner shares it
    assert client.delete(f"/v1/videos/characters/{cid}", headers=bob).status_code == 404


def test_delete_and_account_deletion_remove_characters_and_files(client, svc):
    user, alice = make_user(svc, "alice")
    ada = create(client, alice).json()["id"]
    bo = create(client, alice, name="bo").json()["id"]
    assert (svc.settings.files_dir / ada / "reference.png").is_file()
    r = client.delete(f"/v1/videos/characters/{ada}", headers=alice)
    assert r.status_code == 200 and r.json() == {"id": ada, "object": "character.deleted", "deleted": True}
    assert client.get(f"/v1/videos/characters/{ada}", headers=alice).status_code == 404
    assert not (svc.settings.files_dir / ada).exists()
    accounts.delete_account(svc, accounts.get_user(svc.sessions, user.id))
    assert characters.get(svc.sessions, bo) is None and not (svc.settings.files_dir / bo).exists()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_open_studio_has_characters_until_its_first_account(client, svc):
    cid = create(client).json()["id"]
    r = client.post(f"/v1/videos/characters/{cid}/sharing", json={"sharing": "studio"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "no_accounts"
    _, alice = make_user(svc, "alice")
    assert [c["id"] for c in client.get("/v1/videos/characters", headers=alice).json()["data"]] == [cid]


# --- the rules uploads follow ---------------------------------------------------------------------------
def classify_upload(frames, filename):
    """An operator's upload classifier (see the policy below): refuses mostly dark images."""
    return "too_dark" if frames.mean() < 10 else None


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_uploads_are_moderated(client, svc, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"extends: default\nupload_classifier: {__name__}:classify_upload\n")
    svc.settings = svc.settings.with_(policy_file=str(policy))
    r = create(client, data=png_bytes((0, 0, 0)))
    err = r.json()["error"]
    assert r.status_code == 400 and err["code"] == "moderation_blocked" and err["param"] == "video"
    assert create(client, name="p0rn").json()["error"]["code"] == "moderation_blocked"  # the name is text too
    assert not svc.settings.files_dir.exists() or not any(svc.settings.files_dir.iterdir())
    assert audit.jsonl(svc.sessions).count('"moderation.refused"') == 2
    assert create(client).status_code == 200


def test_uploads_count_in_the_storage_quota(client, svc):
    _, alice = make_user(svc, "alice", storage_bytes=3000)
    small = create(client, alice)
    assert small.status_code == 200, small.text
    used = client.get("/v1/me", headers=alice).json()["usage"]["storage_bytes"]
    assert used == small.json()["size_bytes"] > 0
    big = np.random.default_rng(0).integers(0, 255, (40, 40, 3), np.uint8)
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(big).save(buf, format="PNG")
    r = create(client, alice, name="bo", data=buf.getvalue())
    assert r.status_code == 429 and r.json()["error"]["code"] == "storage_exceeded"
    assert [c["name"] for c in client.get("/v1/videos/characters", headers=alice).json()["data"]] == ["ada"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_only_consented_character_uploads_become_training_data(client, svc, tmp_path):
    from kinetoscope.data.folder import load_manifest
    from kinetoscope.studio.training_data import export_consented

    yes = create(client, input_training_consent="true").json()
    assert yes["input_training_consent"] is True
    no = create(client, name="bo").json()
    assert no["input_training_consent"] is False
    clip = create(client, name="cy", data=(figure_clip(tmp_path / "c.mp4"), (tmp_path / "c.mp4").read_bytes())[1],
                  filename="c.mp4", input_training_consent="false").json()
    assert clip["kind"] == "video"
    summary = export_consented(svc, tmp_path / "dataset")
    assert summary["exported"] == 1 and summary["without_consent"] == 2
    entries, refusals = load_manifest(tmp_path / "dataset")
    assert [(e.path.name, e.caption) for e in entries] == [(f"{yes['id']}.png", "ada")] and not refusals


def test_mentions():
    assert characters.mentions("@Ada meets @bo-2, mail me@example.com, @ada again") == ["ada", "bo-2"]
    assert characters.mentions("no one", None) == []
    assert characters.without_mentions("@ada moving left", "me@example.com") == ["  moving left", "me@example.com"]


# --- what each engine does with a character ---------------------------------------------------------------
@pytest.fixture
def diffusers_client(settings, tmp_path_factory):
    """A studio with two tiny open-weight engines: LTX (takes a reference image: image-to-video) and
    HunyuanVideo (text only)."""
    pytest.importorskip("diffusers")
    from fastapi.testclient import TestClient

    from kinetoscope.studio.app import create_app
    from tests.engines.tiny import save_tiny

    root = tmp_path_factory.mktemp("tiny-diffusers")
    engines = {name: f"diffusers:{save_tiny(name, root / name)}" for name in ("ltx", "hunyuan")}
    svc = Services.start(settings.with_(engines=engines))
    with TestClient(create_app(services=svc)) as c:
        yield c, svc
    svc.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_diffusers_engine_takes_the_reference_as_its_image_input_or_refuses(diffusers_client):
    from unittest import mock

    client, svc = diffusers_client
    cid = create(client, data=png_bytes((200, 30, 30), (40, 30))).json()["id"]
    r = client.post("/v1/videos", json={"prompt": "@ada a red circle", "model": "hunyuan", "size": "32x32"})
    err = r.json()["error"]
    assert r.status_code == 400 and err["code"] == "unsupported_character" and err["param"] == "model"
    assert "'hunyuan'" in err["message"] and "t2v, image" in err["message"]  # what it supports
    assert client.get("/v1/videos").json()["data"] == []

    r = client.post("/v1/videos", json={"prompt": "@ada a red circle", "model": "ltx", "size": "32x32", "seconds": "0.34",
                                        "steps": 2, "seed": 1})
    assert r.status_code == 200, r.text
    assert r.json()["request"]["characters"] == [{"id": cid, "name": "ada", "used_as": "reference_image"}]
    engine = svc.engines.get("ltx")
    pipe = engine._pipeline_for("i2v")  # the family's image-to-video pipeline, on the folder's components
    seen, call = [], type(pipe).__call__

    def spy(self, *args, **kw):  # records what the pipeline was given, then runs it
        seen.append(kw)
        return call(self, *args, **kw)

    with mock.patch.object(type(pipe), "__call__", spy):
        assert work(svc) == 1
    v = client.get(f"/v1/videos/{r.json()['id']}").json()
    assert v["status"] == "completed", v["error"]
    reference = read_image(svc.storage.path(f"{cid}/reference.png"))
    assert len(seen) == 1 and np.array_equal(np.asarray(seen[0]["image"]), fit(reference, 32, 32))
    data = client.get(f"/v1/videos/{v['id']}/content").content
    report = client.post("/v1/verify", files={"file": ("v.mp4", data, "video/mp4")}).json()
    assert f"character @ada ({cid})" in [i["title"] for i in report["c2pa"]["ingredients"]]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_account_page_shows_where_a_character_was_used(client, svc):
    _, alice = make_user(svc, "alice")
    _, bob = make_user(svc, "bob")
    create(client, alice)
    cid = client.get("/v1/videos/characters", headers=alice).json()["data"][0]["id"]
    assert client.post(f"/v1/videos/characters/{cid}/sharing", json={"sharing": "studio"}, headers=alice).status_code == 200
    vid = client.post("/v1/videos", json={"prompt": "@ada", "size": "32x32", "seconds": "1"}, headers=bob).json()["id"]
    assert client.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD}).status_code == 200
    page = client.get("/account").text
    row = page[page.index(f'data-character="{cid}"'):].split("</tr>")[0]
    assert "@ada" in row and "everyone here" in row and "1 video:" in row and vid in row and "by bob" in row
