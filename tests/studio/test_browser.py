"""The web pages in a real headless Chromium against a live uvicorn server with its own worker:
make a video from the page, watch its progress, play it, download it, delete it; and the same
basic flow with JavaScript switched off. Screenshots (desktop and a 375-px phone) go to
$KINETOSCOPE_ARTIFACTS (default: the test's temp folder).

Needs Debian's chromium (KINETOSCOPE_CHROMIUM overrides the path) and the playwright package;
no browser is ever downloaded."""

import os
import shutil
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from kinetoscope.media import read_video
from kinetoscope.studio.app import create_app
from tests.studio.servers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]
CHROMIUM = os.environ.get("KINETOSCOPE_CHROMIUM", "/usr/bin/chromium")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
SLOW_JOB = {"size": "128x128", "seconds": "2", "steps": "150"}  # ~2 s on one core: long enough to watch


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        msg = f"{CHROMIUM} is not installed (apt-get install -y chromium)"
        if os.environ.get("KINETOSCOPE_REQUIRE_SERVICES") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def artifacts(tmp_path):
    folder = Path(os.environ.get("KINETOSCOPE_ARTIFACTS") or tmp_path / "artifacts") / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def base_url(svc):
    """A live uvicorn on 127.0.0.1 with the in-process worker, as `kinetoscope serve` runs it."""
    app = create_app(settings=svc.settings.with_(embedded_worker=True), services=svc)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True, name="uvicorn")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(30)


def shoot(page, artifacts: Path, name: str) -> None:
    """Desktop and phone screenshots of the page as it is now (the viewport is put back after)."""
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(artifacts / f"{name}-{label}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"], f"{name} scrolls sideways at {label}"
    page.set_viewport_size(DESKTOP)


def fill_create_form(page, prompt: str, size: str, seconds: str, steps: str, seed: str = "3") -> None:
    page.get_by_label("Prompt", exact=True).fill(prompt)
    page.get_by_label("Size (width × height)").select_option(size)
    page.get_by_label("Duration (seconds)").fill(seconds)
    page.get_by_text("More settings").click()
    page.get_by_label("Steps").fill(steps)
    page.get_by_label("Seed").fill(seed)


def progress_of(page) -> int:
    return int(page.get_by_role("progressbar").get_attribute("aria-valuenow"))


def test_make_watch_play_download_delete(browser, base_url, svc, artifacts, tmp_path):
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base_url + "/")
    shoot(page, artifacts, "01-create")

    fill_create_form(page, "a red circle moving right", **SLOW_JOB)
    shoot(page, artifacts, "01-create-filled")
    page.get_by_role("button", name="Make video").click()
    page.wait_for_url(base_url + "/videos/video_*")
    video_id = page.url.rsplit("/", 1)[1]

    # live progress over SSE: the bar moves inside the same document (no reload in between)
    page.evaluate("window.sameDocument = true")
    page.wait_for_function("""() => { const v = +document.querySelector('[role=progressbar]').getAttribute('aria-valuenow');
                                      return window.sameDocument && v > 0 && v < 100; }""", timeout=60_000)
    assert page.locator("[data-badge] .badge").inner_text().lower() == "making"
    page.screenshot(path=str(artifacts / "02-progress-desktop.png"), full_page=True)
    # done: the page reloads itself with the player
    page.locator("video").wait_for(timeout=120_000)
    assert page.evaluate("window.sameDocument") is None
    assert progress_of(page) == 100 and page.locator(".badge").inner_text().lower() == "done"

    state = page.evaluate("""async () => {
        const v = document.querySelector('video');
        v.muted = true;
        await v.play();
        await new Promise(r => setTimeout(r, 600));
        return {ready: v.readyState, duration: v.duration, time: v.currentTime, width: v.videoWidth, height: v.videoHeight};
    }""")
    assert state["ready"] >= 2 and state["duration"] > 0 and state["time"] > 0, state
    assert (state["width"], state["height"]) == (128, 128)
    page.evaluate("document.querySelector('video').pause()")
    shoot(page, artifacts, "03-video")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download video").click()
    saved = tmp_path / "download.mp4"
    download.value.save_as(saved)
    frames, fps = read_video(saved)
    assert frames.shape == (17, 128, 128, 3) and fps == 8

    page.get_by_role("link", name="Gallery").click()
    tile = page.locator(f'a[href="/videos/{video_id}"]')
    assert tile.count() == 1
    # the poster loads after the page does (slower on a loaded machine): wait for it to load or fail
    assert tile.locator("img").evaluate("""img => img.complete && img.naturalWidth > 0 ? true : new Promise(done => {
        img.addEventListener('load', () => done(img.naturalWidth > 0));
        img.addEventListener('error', () => done(false));
        if (img.complete) done(img.naturalWidth > 0);
    })""")
    shoot(page, artifacts, "04-gallery")

    tile.click()
    page.get_by_role("button", name="Delete…").click()
    assert page.get_by_role("heading", name="Delete this video?").is_visible()
    shoot(page, artifacts, "05-delete-confirm")
    page.get_by_role("button", name="Yes, delete it").click()
    page.wait_for_url(base_url + "/gallery")
    assert page.locator(f'a[href="/videos/{video_id}"]').count() == 0
    assert not (svc.settings.files_dir / video_id).exists()
    assert errors == []
    context.close()


def test_basic_flow_without_javascript(browser, base_url, svc, artifacts):
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    page = context.new_page()
    page.goto(base_url + "/")

    # a mistake comes back next to its field, with the prompt kept
    page.get_by_label("Prompt", exact=True).fill("a blue square falling")
    page.get_by_label("Task").select_option("i2v")
    page.get_by_role("button", name="Make video").click()
    page.wait_for_load_state()
    message = page.locator("#e-input_reference")
    assert "input_reference" in message.inner_text()
    assert page.get_by_label("Prompt", exact=True).input_value() == "a blue square falling"
    shoot(page, artifacts, "06-nojs-error")

    page.get_by_label("Task").select_option("t2v")
    page.get_by_role("button", name="Make video").click()
    page.wait_for_url(base_url + "/videos/video_*")
    video_id = page.url.rsplit("/", 1)[1]
    page.locator("video").wait_for(timeout=120_000)  # the page refreshed itself until done
    assert progress_of(page) == 100
    assert page.get_by_role("link", name="Download video").get_attribute("href") == \
        f"/v1/videos/{video_id}/content?variant=video"

    page.get_by_label("New prompt").fill("a green square falling")
    page.get_by_role("button", name="Remix").click()
    page.wait_for_url(base_url + "/videos/video_*")
    assert page.url.rsplit("/", 1)[1] != video_id
    page.locator("video").wait_for(timeout=120_000)
    assert page.get_by_role("link", name=video_id).is_visible()  # "remix of"

    page.get_by_role("button", name="Delete…").click()
    page.get_by_role("button", name="Yes, delete it").click()
    page.wait_for_url(base_url + "/gallery")
    assert page.locator(f'a[href="/videos/{video_id}"]').count() == 1  # the source is still there
    context.close()
