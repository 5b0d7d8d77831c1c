"""The web pages through HTTP (no browser): forms post and redirect, bad input comes back next to
its field, the gallery pages newest first, delete asks first, unknown ids are a 404 page."""

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from kinetoscope.studio.app import create_app
from tests.studio.helpers import png_bytes, work

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the pages are the same on PostgreSQL


@pytest.fixture
def settings(settings):
    return settings.with_(page_size=2, max_upload_bytes=64 * 1024)


class Page(HTMLParser):
    """The parts of a page the tests look at: elements by id, form controls, labels, links."""

    def __init__(self, html: str):
        super().__init__()
        self.ids, self.controls, self.labels, self.links, self.text_of = {}, [], set(), [], {}
        self._open: list[tuple[str, str | None]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids[a["id"]] = (tag, a)
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append(a)
        if tag == "label" and a.get("for"):
            self.labels.add(a["for"])
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        if tag not in ("input", "meta", "link", "br", "img"):
            self._open.append((tag, a.get("id")))
            if a.get("id"):
                self.text_of[a["id"]] = ""

    def handle_endtag(self, tag):
        while self._open:
            t, _ = self._open.pop()
            if t == tag:
                break

    def handle_data(self, data):
        for _, i in self._open:
            if i:
                self.text_of[i] += data


def post_form(client, data, files=None, url="/"):
    return client.post(url, data=data, files=files, follow_redirects=False)


def test_create_page_labels_every_control_and_offers_model_sizes(client, svc):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = Page(r.text)
    names = {c["name"] for c in page.controls}
    assert {"prompt", "negative_prompt", "task", "size", "seconds", "seed", "steps", "guidance", "guidance_floor",
            "input_reference", "input_training_consent"} <= names
    assert "model" not in names  # only one engine
    for c in page.controls:
        assert c.get("id") in page.labels, f"control {c['name']} has no <label for>"
    caps = svc.engines.get("kinetoscope-builtin").capabilities
    sizes = re.findall(r'<option value="(\d+x\d+)"', r.text)
    default = f"{caps.width}x{caps.height}"
    assert default in sizes and re.search(rf'<option value="{default}" selected', r.text)
    for s in sizes:
        w, h = map(int, s.split("x"))
        assert w % caps.size_multiple == 0 and h % caps.size_multiple == 0
        assert caps.min_size <= min(w, h) and max(w, h) <= caps.max_size
    assert any(int(s.split("x")[0]) > int(s.split("x")[1]) for s in sizes)  # landscape and portrait too
    assert any(int(s.split("x")[0]) < int(s.split("x")[1]) for s in sizes)
    assert page.ids["f-input_training_consent"][1].get("checked") is None  # consent is off by default
    assert not re.search(r'(src|href)="(https?:)?//', r.text)  # nothing from the internet
    assert client.get("/static/studio.css").status_code == 200 and client.get("/static/studio.js").status_code == 200


def test_form_post_creates_a_job_and_redirects_to_its_page(client, svc):
    r = post_form(client, {"prompt": "a red circle moving right", "size": "64x32", "seconds": "1", "seed": "7",
                           "steps": "3", "guidance_floor": "0.25", "task": "t2v"})
    assert r.status_code == 303
    url = r.headers["location"]
    vid = url.rsplit("/", 1)[1]
    assert url == f"/videos/{vid}"
    v = client.get(f"/v1/videos/{vid}").json()
    assert (v["prompt"], v["size"], v["seconds"], v["task"]) == ("a red circle moving right", "64x32", "1", "t2v")
    assert v["request"]["seed"] == 7 and v["request"]["steps"] == 3 and v["request"]["guidance_floor"] == 0.25

    queued = client.get(url)
    assert queued.status_code == 200 and "off below noise level 0.25" in queued.text
    bar = Page(queued.text)
    assert '<noscript><meta http-equiv="refresh"' in queued.text  # refreshes itself without JavaScript
    assert f'data-events="/v1/videos/{vid}/events"' in queued.text
    assert 'role="progressbar"' in queued.text and 'aria-valuenow="0"' in queued.text
    assert "<video" not in queued.text and bar.links.count(f"/v1/videos/{vid}/content?variant=video") == 0

    assert work(svc, worker_id="web-test-worker") == 1
    done = client.get(url).text
    page = Page(done)
    assert "http-equiv=\"refresh\"" not in done and "data-events" not in done
    assert 'aria-valuenow="100"' in done and "<video" in done
    for variant in ("video", "thumbnail", "spritesheet"):
        link = f"/v1/videos/{vid}/content?variant={variant}"
        assert link in page.links and client.get(link).status_code == 200
    assert "&#34;seed&#34;: 7" in done or '"seed": 7' in done  # the recipe as readable JSON


def test_upload_is_i2v_and_training_consent_is_opt_in(client, svc):
    ids = []
    for consent in (None, "on"):
        data = {"prompt": "a blue square", "seconds": "0.5", "steps": "2"}
        if consent:
            data["input_training_consent"] = consent
        r = post_form(client, data, files={"input_reference": ("first.png", png_bytes((30, 120, 200), (48, 32)), "image/png")})
        assert r.status_code == 303, r.text
        ids.append(r.headers["location"].rsplit("/", 1)[1])
    plain, consented = (client.get(f"/v1/videos/{i}").json() for i in ids)
    assert plain["task"] == "i2v" and plain["input_training_consent"] is False
    assert consented["input_training_consent"] is True
    assert "Upload used for training</dt><dd>yes" in client.get(f"/videos/{ids[1]}").text


@pytest.mark.parametrize("data,field,fragment", [
    ({"prompt": "a ball", "seconds": "99"}, "seconds", "out of range"),
    ({"prompt": "a ball", "size": "100x64"}, "size", "multiple of 16"),
    ({"prompt": "a ball", "steps": "0"}, "steps", "out of range"),
    ({"prompt": "a ball", "guidance_floor": "1.5"}, "guidance_floor", "guidance_floor"),
    ({"prompt": "a ball", "seed": "soon"}, "seed", "integer"),
    ({"prompt": "", "negative_prompt": "blur"}, "prompt", "prompt"),
    ({"prompt": "a ball", "task": "i2v"}, "input_reference", "input_reference"),
    ({"prompt": "a ball", "model": "sora-9"}, "", "kinetoscope-builtin"),  # no model field shown: a banner
])
def test_bad_input_rerenders_the_form_with_the_message_next_to_the_field(client, svc, data, field, fragment):
    data = {"negative_prompt": "shaky", **data}
    r = post_form(client, data)
    assert r.status_code == 400
    page = Page(r.text)
    if field:
        error = page.text_of[f"e-{field}"]
        assert fragment in error
        control = page.ids[f"f-{field}"][1]
        assert control.get("aria-invalid") == "true" and f"e-{field}" in control["aria-describedby"]
    assert fragment in page.text_of["problems"]  # and in the summary at the top
    assert page.ids["f-negative_prompt"][1]["value"] == data["negative_prompt"]  # what the user typed is kept
    if data["prompt"]:
        assert page.text_of["f-prompt"] == data["prompt"]
    assert client.get("/v1/videos").json()["data"] == []
    assert not any(svc.settings.files_dir.iterdir())


def test_storyboard_from_the_form_takes_one_shot_per_line_and_remixes_from_them(client, svc):
    assert '<option value="storyboard">' in client.get("/").text and '<option value="loop">' in client.get("/").text
    r = post_form(client, {"prompt": "0s a red circle\n1.5s a blue square", "task": "storyboard", "seconds": "",
                           "size": "32x32", "steps": "2"})
    assert r.status_code == 303, r.text
    vid = r.headers["location"].rsplit("/", 1)[1]
    v = client.get(f"/v1/videos/{vid}").json()
    assert v["task"] == "storyboard" and v["seconds"] == "3.5" and len(v["request"]["shots"]) == 2
    assert work(svc) == 1
    page = Page(client.get(f"/videos/{vid}").text)
    assert page.text_of["f-prompt"] == "0s a red circle\n1.5s a blue square"  # the remix form starts from the shots
    assert page.text_of["c-prompt"] == "a blue square"  # extending goes on from the last shot
    assert "3.5 s at 8 fps, 2 shots (dissolve)" in client.get(f"/videos/{vid}").text

    bad = post_form(client, {"prompt": "0s a red circle\n0.5s a blue square", "task": "storyboard", "size": "32x32"})
    assert bad.status_code == 400
    assert "needs at least" in Page(bad.text).text_of["e-prompt"]


def test_non_image_upload_is_shown_at_the_upload_field(client):
    r = post_form(client, {"prompt": "a ball"}, files={"input_reference": ("x.png", b"not an image", "image/png")})
    assert r.status_code == 400 and "PNG, JPEG or WebP" in Page(r.text).text_of["e-input_reference"]


def test_oversized_upload_is_a_413_page_with_the_limit(client):
    big = b"0" * (100 * 1024)
    r = post_form(client, {"prompt": "a ball"}, files={"input_reference": ("x.png", big, "image/png")})
    assert r.status_code == 413 and str(64 * 1024) in Page(r.text).text_of["problems"]
    assert client.get("/v1/videos").json()["data"] == []


def test_model_selector_appears_with_a_second_engine(svc, tiny_model_dir, text_encoder):
    from kinetoscope.studio.services import Services

    two = Services.start(svc.settings.with_(engines={"second-model": f"builtin:{tiny_model_dir}"},
                                            data_dir=svc.settings.data_dir / "two"))
    try:
        with TestClient(create_app(services=two)) as c:
            page = Page(c.get("/").text)
            assert "f-model" in page.labels
            assert re.findall(r'<option value="([^"]+)"', c.get("/").text).count("second-model") == 1
            r = post_form(c, {"prompt": "a ball", "model": "second-model", "seconds": "99"})
            assert r.status_code == 400 and '<option value="second-model" selected' in r.text
            r = post_form(c, {"prompt": "a ball", "model": "second-model", "seconds": "0"})
            assert c.get("/v1/videos/" + r.headers["location"].rsplit("/", 1)[1]).json()["model"] == "second-model"
    finally:
        two.close()


def test_a_failed_job_shows_its_error_and_stops_refreshing(client, svc):
    r = post_form(client, {"prompt": "a blue square", "seconds": "0.5"},
                  files={"input_reference": ("first.png", png_bytes((30, 120, 200), (48, 32)), "image/png")})
    vid = r.headers["location"].rsplit("/", 1)[1]
    (svc.settings.files_dir / vid / "input.png").unlink()  # the upload is lost before a worker gets to it
    work(svc, worker_id="web-test-worker")
    html = client.get(f"/videos/{vid}").text
    page = Page(html)
    assert "Failed" in page.text_of["progress-label"] and 'role="alert"' in html
    assert "http-equiv=\"refresh\"" not in html and "<video" not in html and "Remix" not in html


def test_gallery_lists_newest_first_and_pages_with_after(client):
    ids = [client.post("/v1/videos", json={"prompt": f"ball number {i}", "seconds": "0"}).json()["id"] for i in range(5)]
    seen, url = [], "/gallery"
    for _ in range(5):
        r = client.get(url)
        assert r.status_code == 200
        page_ids = re.findall(r'href="/videos/(video_[0-9a-f]+)"', r.text)
        assert len(page_ids) <= 2  # page_size
        seen += page_ids
        nxt = re.search(r'href="(/gallery\?after=video_[0-9a-f]+)"', r.text)
        if not nxt:
            break
        url = nxt.group(1)
    assert seen == ids[::-1]
    assert "Queued" in r.text  # status badges
    assert client.get("/gallery?after=video_nope").status_code == 404


def test_delete_asks_first_then_removes_and_returns_to_the_gallery(client, svc):
    vid = post_form(client, {"prompt": "a green star", "seconds": "0"}).headers["location"].rsplit("/", 1)[1]
    work(svc, worker_id="web-test-worker")
    assert (svc.settings.files_dir / vid).is_dir()
    confirm = post_form(client, {}, url=f"/videos/{vid}/delete")
    assert confirm.status_code == 200 and 'name="confirm" value="yes"' in confirm.text
    assert client.get(f"/v1/videos/{vid}").status_code == 200  # nothing deleted yet
    r = post_form(client, {"confirm": "yes"}, url=f"/videos/{vid}/delete")
    assert r.status_code == 303 and r.headers["location"] == "/gallery"
    assert client.get(f"/videos/{vid}").status_code == 404
    assert not (svc.settings.files_dir / vid).exists()
    assert vid not in client.get("/gallery").text


def test_remix_form_makes_a_new_job_and_keeps_the_recipe(client, svc):
    vid = post_form(client, {"prompt": "a red circle", "seconds": "0.5", "seed": "11", "steps": "2"}).headers["location"].rsplit("/", 1)[1]
    assert 'action="/videos/' + vid + '/remix"' not in client.get(f"/videos/{vid}").text  # not until it is done
    work(svc, worker_id="web-test-worker")
    bad = post_form(client, {"prompt": ""}, url=f"/videos/{vid}/remix")
    assert bad.status_code == 400 and "prompt is required" in Page(bad.text).text_of["e-prompt"]
    r = post_form(client, {"prompt": "a green circle"}, url=f"/videos/{vid}/remix")
    assert r.status_code == 303
    mix = client.get("/v1/videos/" + r.headers["location"].rsplit("/", 1)[1]).json()
    assert mix["remixed_from_video_id"] == vid and mix["prompt"] == "a green circle" and mix["request"]["seed"] == 11


def test_unknown_ids_get_a_404_page(client):
    for method, url in [("get", "/videos/video_nope"), ("post", "/videos/video_nope/delete"),
                        ("post", "/videos/video_nope/remix")]:
        r = client.request(method, url)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
        assert "Not found" in r.text and "video video_nope" in r.text


def test_job_page_extends_and_redraws_a_finished_video(client, svc):
    from kinetoscope.studio.worker import Worker

    vid = client.post("/v1/videos", json={"prompt": "a red circle", "seconds": "1"}).json()["id"]
    Worker(svc).run_once(timeout=2)
    page = client.get(f"/videos/{vid}").text
    assert 'action="/videos/' + vid + '/continue"' in page and 'for="c-strength"' in page
    r = client.post(f"/videos/{vid}/continue", data={"action": "extend", "prompt": "a red circle", "seconds": "1"},
                    follow_redirects=False)
    assert r.status_code == 303
    ext = client.get("/v1/videos/" + r.headers["location"].rsplit("/", 1)[1]).json()
    assert ext["task"] == "extend" and ext["source_video_id"] == vid and ext["seconds"] == "2"
    r = client.post(f"/videos/{vid}/continue", data={"action": "edit", "prompt": "a blue circle", "strength": "0.4"},
                    follow_redirects=False)
    ed = client.get("/v1/videos/" + r.headers["location"].rsplit("/", 1)[1]).json()
    assert ed["task"] == "edit" and ed["request"]["strength"] == 0.4
    r = client.post(f"/videos/{vid}/continue", data={"action": "edit", "prompt": "x y", "strength": "3"})
    assert r.status_code == 400 and "strength 3 is out of range" in r.text
