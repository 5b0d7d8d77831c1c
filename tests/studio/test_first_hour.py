"""A new user's first hour with the studio: the API docs work with no internet, a wrong upload is
named plainly, and a video says which seed made it."""

import re

import pytest

from tests.studio.helpers import png_bytes, work
from tests.studio.test_browser import DESKTOP, artifacts, base_url, browser, shoot  # noqa: F401 - fixtures

SMALL = {"size": "32x32", "seconds": "0.5", "steps": "2"}
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_docs_render_with_no_network(browser, base_url, artifacts, path):  # noqa: F811
    """Every request that leaves 127.0.0.1 is blocked and recorded: the docs must not need one."""
    context = browser.new_context(viewport=DESKTOP)
    outside, errors = [], []

    def route(r):
        if re.match(r"^https?://127\.0\.0\.1[:/]", r.request.url):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base_url + path)
    if path == "/docs":  # Swagger UI: the operations, grouped by tag
        page.locator(".opblock").first.wait_for(state="visible", timeout=20_000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        assert any(p.replace("\u200b", "") == "/v1/videos" for p in paths), paths
    else:  # ReDoc: a section per operation
        page.locator("h2", has_text="Create a video").first.wait_for(state="visible", timeout=20_000)
    shoot(page, artifacts, f"20-api{path.replace('/', '-')}")
    if path == "/redoc":  # ReDoc's bundle always asks for its maker's logo and drops the image when it cannot have it
        outside = [u for u in outside if u != REDOC_LOGO]
    assert outside == [], f"{path} asked the network for {outside}"
    assert errors == []
    context.close()


@pytest.mark.parametrize("name,data,ctype", [
    ("notes.txt", b"these are my notes, not a picture", "text/plain"),
    ("photo.png", b"\x89PNG\r\n\x1a\n but then nothing", "image/png"),
])
def test_an_upload_that_is_not_an_image_is_named_with_what_is_accepted(client, name, data, ctype):
    r = client.post("/v1/videos", data={"prompt": "a red ball", **SMALL}, files={"input_reference": (name, data, ctype)})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == "input_reference" and err["code"] == "invalid_image"
    msg = err["message"]
    assert f'"{name}"' in msg and ctype in msg and f"{len(data)} bytes" in msg  # what was received
    assert "PNG, JPEG or WebP" in msg  # what is accepted
    assert "<" not in msg and "object at 0x" not in msg and "BytesIO" not in msg  # never a Python repr
    assert client.get("/v1/videos").json()["data"] == []


def test_a_real_image_upload_still_works(client, svc):
    r = client.post("/v1/videos", data={"prompt": "a red ball", **SMALL},
                    files={"input_reference": ("first.png", png_bytes(size=(32, 32)), "image/png")})
    assert r.status_code == 200, r.text
    assert r.json()["task"] == "i2v"


def test_a_video_reports_its_seed_given_or_picked(client, svc):
    given = client.post("/v1/videos", json={"prompt": "a red ball", **SMALL, "seed": 7}).json()
    assert given["seed"] == 7 and given["request"]["seed"] == 7
    picked = [client.post("/v1/videos", json={"prompt": "a red ball", **SMALL}).json() for _ in range(2)]
    seeds = [v["seed"] for v in picked]
    assert all(isinstance(s, int) for s in seeds) and seeds[0] != seeds[1]  # a new one each time, as on the command line
    assert work(svc, 3) == 3
    for v in (given, *picked):
        done = client.get(f"/v1/videos/{v['id']}").json()
        assert done["status"] == "completed" and done["seed"] == v["seed"]
    listed = {v["id"]: v["seed"] for v in client.get("/v1/videos").json()["data"]}
    assert listed[given["id"]] == 7


def test_remixing_without_a_seed_keeps_the_source_seed(client, svc):
    src = client.post("/v1/videos", json={"prompt": "a red ball", **SMALL}).json()
    assert work(svc) == 1
    remix = client.post(f"/v1/videos/{src['id']}/remix", json={"prompt": "a blue ball"}).json()
    assert remix["seed"] == src["seed"]  # a remix is the same recipe with a change: the seed stays
