"""The studio as a drop-in for OpenAI's Videos API: model aliases (sora-2 -> an engine) and
input_reference as {"image_url": ...}, through HTTP and through the official openai client.
No test here reaches the internet: remote URLs are refused, or served from 127.0.0.1."""

import base64
import dataclasses
import http.server
import ipaddress
import threading

import numpy as np
import pytest
from openai import OpenAI

from kinetoscope.media import read_video
from kinetoscope.studio import webhooks
from kinetoscope.studio.services import Engines, Services
from kinetoscope.studio.settings import from_env
from tests.studio.helpers import png_bytes, work
from tests.studio.live import live_server

ALIASES = {"sora-2": "kinetoscope-builtin", "sora-2-pro": "kinetoscope-builtin"}


@pytest.fixture
def settings(settings):
    return settings.with_(model_aliases=ALIASES)


def data_url(data: bytes, ctype: str = "image/png") -> str:
    return f"data:{ctype};base64,{base64.b64encode(data).decode()}"


def nothing_made(client, svc) -> bool:
    return client.get("/v1/videos").json()["data"] == [] and not any(svc.settings.files_dir.iterdir())


# --- model aliases -------------------------------------------------------------------------------
def test_an_alias_runs_on_its_engine_and_the_video_says_the_name_asked_for(client, svc):
    r = client.post("/v1/videos", json={"prompt": "a red circle", "model": "sora-2", "size": "32x32", "seconds": "1"})
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["model"] == "sora-2" and v["engine"] == "kinetoscope-builtin"
    assert work(svc) == 1
    v = client.get(f"/v1/videos/{v['id']}").json()
    assert v["status"] == "completed" and v["model"] == "sora-2", v["error"]
    remix = client.post(f"/v1/videos/{v['id']}/remix", json={"prompt": "a blue circle"}).json()
    assert remix["model"] == "sora-2" and remix["engine"] == "kinetoscope-builtin"
    plain = client.post("/v1/videos", json={"prompt": "a red circle", "size": "32x32", "seconds": "1"}).json()
    assert plain["model"] == plain["engine"] == "kinetoscope-builtin"


def test_an_unknown_model_is_a_400_listing_models_and_aliases(client, svc):
    r = client.post("/v1/videos", json={"prompt": "a ball", "model": "sora-3"})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["param"] == "model" and err["code"] == "model_not_found"
    assert "'sora-3'" in err["message"] and "kinetoscope-builtin" in err["message"]
    assert "sora-2 (kinetoscope-builtin)" in err["message"] and "sora-2-pro (kinetoscope-builtin)" in err["message"]
    assert nothing_made(client, svc)


@pytest.mark.parametrize("value,fragment", [
    ("sora-2", "'sora-2' is not name=engine"),
    ("sora-2=", "'sora-2=' is not name=engine"),
    ("sora-2=kinetoscope-builtin;sora-2-pro=kinetoscope-builtin", "is not a model name"),
    ("sora-2=kinetoscope-builtin,sora-2=other", "'sora-2' is given twice"),
    ("sora-2=wan", "alias 'sora-2' names engine 'wan', which is not configured: engines are kinetoscope-builtin"),
    ("kinetoscope-builtin=kinetoscope-builtin", "alias 'kinetoscope-builtin' is already an engine's name"),
])
def test_a_bad_alias_setting_stops_startup_naming_it(monkeypatch, tmp_path, capsys, value, fragment):
    from kinetoscope.cli import main

    monkeypatch.setenv("KINETOSCOPE_MODEL_ALIASES", value)
    with pytest.raises(ValueError, match="KINETOSCOPE_MODEL_ALIASES") as e:
        from_env(data_dir=tmp_path)
    assert fragment in str(e.value)
    assert main(["worker", "--data-dir", str(tmp_path)]) == 2  # the command line: one line, nothing started
    err = capsys.readouterr().err
    assert "KINETOSCOPE_MODEL_ALIASES" in err and fragment in err and "Traceback" not in err
    assert not (tmp_path / "studio.db").exists()


def test_settings_made_in_code_are_checked_too(settings):
    with pytest.raises(ValueError, match="alias 'sora-2' names engine 'wan'"):
        Engines.from_settings(settings.with_(model_aliases={"sora-2": "wan"}))


# --- input_reference as {"image_url": ...} -------------------------------------------------------
def test_a_data_url_reference_is_the_first_frame_as_an_upload_is(client, svc):
    svc.settings = svc.settings.with_(watermark=False)  # (each video's own watermark would tell them apart)
    image = png_bytes((30, 30, 200), size=(64, 64))
    fields = {"prompt": "a square", "size": "64x64", "seconds": "1", "seed": 1}
    by_json = client.post("/v1/videos", json={**fields, "input_reference": {"image_url": data_url(image)}})
    assert by_json.status_code == 200, by_json.text
    uploaded = client.post("/v1/videos", data={k: str(v) for k, v in fields.items()},
                           files={"input_reference": ("first.png", image, "image/png")})
    a, b = by_json.json(), uploaded.json()
    assert a["task"] == b["task"] == "i2v" and a["input_training_consent"] is False
    assert svc.storage.path(f"{a['id']}/input.png").read_bytes() == svc.storage.path(f"{b['id']}/input.png").read_bytes()
    assert work(svc, 2) == 2
    out = []
    for v in (a, b):
        path = svc.settings.data_dir / f"{v['id']}.mp4"
        path.write_bytes(client.get(f"/v1/videos/{v['id']}/content").content)
        out.append(read_video(path)[0])
    assert np.array_equal(out[0], out[1])  # the same image, prompt and seed: the same video


@pytest.mark.parametrize("reference,status,code,fragment", [
    ({"image_url": "data:image/png;base64,iVBORw0KGgo!!!not-base64"}, 400, "invalid_value", "base64 does not decode"),
    ({"image_url": data_url(b"just some text", "text/plain")}, 400, "invalid_image", "(text/plain, 14 bytes)"),
    ({"image_url": data_url(b"0" * (64 * 1024 + 1))}, 413, "file_too_large", "larger than 65536 bytes"),
    ({"file_id": "file_abc123"}, 400, "invalid_value", "file ids are not supported"),
    ({}, 400, "missing_required_parameter", "needs an image_url"),
    ({"image_url": "ftp://example.com/cat.png"}, 400, "invalid_value", "is not a data: URL"),
    ({"image_url": "https://example.com/cat.png"}, 400, "invalid_value", "KINETOSCOPE_ALLOW_REMOTE_REFERENCES=1"),
    ("https://example.com/cat.png", 400, "invalid_type", "must be an uploaded image file"),
])
def test_bad_references_are_refused_naming_input_reference(client, svc, reference, status, code, fragment):
    svc.settings = svc.settings.with_(max_upload_bytes=64 * 1024)
    r = client.post("/v1/videos", json={"prompt": "a ball", "size": "32x32", "input_reference": reference})
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["param"] == "input_reference" and err["code"] == code and fragment in err["message"], err
    assert nothing_made(client, svc)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/cat.png", "http://localhost/cat.png", "http://[::1]/cat.png",
                                 "http://169.254.169.254/latest/meta-data", "https://10.1.2.3/cat.png"])
def test_allowed_remote_references_never_reach_the_studios_own_network(client, svc, url):
    svc.settings = svc.settings.with_(allow_remote_references=True)
    r = client.post("/v1/videos", json={"prompt": "a ball", "input_reference": {"image_url": url}})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == "input_reference" and "loopback, private or reserved address" in err["message"]
    assert nothing_made(client, svc)


@pytest.fixture
def image_server():
    """A server on 127.0.0.1 that the tests below let stand in for a public host: /cat.png, /big, /moved."""
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers["Host"]))
            if self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data")
                self.end_headers()
                return
            body = png_bytes((30, 200, 30), size=(32, 32)) if self.path == "/cat.png" else b"0" * 70_000
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()  # no Content-Length: the limit holds while reading
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


def test_an_allowed_remote_reference_is_fetched_from_the_address_that_was_checked(client, svc, image_server, monkeypatch):
    port, seen = image_server
    real = webhooks.addresses_of
    public = ipaddress.ip_address("127.0.0.1")  # images.example resolves here; the check is told it is public

    monkeypatch.setattr(webhooks, "addresses_of", lambda host, p: [public] if host == "images.example" else real(host, p))
    monkeypatch.setattr(webhooks, "not_public", lambda ips: next((ip for ip in ips if ip != public and not ip.is_global), None))
    svc.settings = svc.settings.with_(allow_remote_references=True, max_upload_bytes=64 * 1024)
    body = {"prompt": "a square", "size": "32x32", "seconds": "1"}
    r = client.post("/v1/videos", json={**body, "input_reference": {"image_url": f"http://images.example:{port}/cat.png"}})
    assert r.status_code == 200, r.text
    assert r.json()["task"] == "i2v" and seen == [("/cat.png", f"images.example:{port}")]
    big = client.post("/v1/videos", json={**body, "input_reference": {"image_url": f"http://images.example:{port}/big"}})
    assert big.status_code == 413 and big.json()["error"]["param"] == "input_reference"
    moved = client.post("/v1/videos", json={**body, "input_reference": {"image_url": f"http://images.example:{port}/moved"}})
    assert moved.status_code == 400 and "169.254.169.254, a loopback" in moved.json()["error"]["message"]
    assert len(client.get("/v1/videos").json()["data"]) == 1


# --- the official openai client ------------------------------------------------------------------
@pytest.fixture
def openai_client(svc):
    live = Services(**{**{f.name: getattr(svc, f.name) for f in dataclasses.fields(svc)},
                       "settings": svc.settings.with_(embedded_worker=True, poll_after_ms=100)})
    with live_server(live) as url:
        yield OpenAI(base_url=f"{url}/v1", api_key="unused-by-an-open-studio", max_retries=0, timeout=60)


def test_openai_client_code_for_sora_runs_unchanged(openai_client):
    """model="sora-2" as written for OpenAI; input_reference as {"image_url": ...} goes through the client's
    generic post (openai 3.57's videos.create accepts only a file there: its multipart encoder wants one)."""
    from openai.types import Video

    video = openai_client.videos.create_and_poll(model="sora-2", prompt="a red square", size="32x32", seconds="1")
    assert video.status == "completed" and video.model == "sora-2", video.error
    image = data_url(png_bytes((200, 30, 30), size=(32, 32)))
    posted = openai_client.post("/videos", cast_to=Video, body={
        "model": "sora-2-pro", "prompt": "a red square", "size": "32x32", "seconds": "1",
        "input_reference": {"image_url": image}})
    done = openai_client.videos.poll(posted.id)
    assert done.status == "completed" and done.model == "sora-2-pro" and done.task == "i2v", done.error
