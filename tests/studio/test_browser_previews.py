"""The job page in a real headless Chromium while a video is made: its queue position and estimate, the
live preview sharpening, then the finished video; and the Cancel button. Screenshots go to
$KINETOSCOPE_ARTIFACTS/browser (default: the test's temp folder)."""

import pytest

from tests.studio.test_browser import DESKTOP, artifacts, base_url, browser  # noqa: F401 - fixtures

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]
SLOW = {"prompt": "a red circle moving right", "size": "256x256", "seconds": "2", "steps": 200}


def create(page, base_url, **kw):  # noqa: F811
    r = page.request.post(base_url + "/v1/videos", data={**SLOW, **kw})
    assert r.ok, r.text()
    return r.json()["id"]


def test_job_page_shows_queue_preview_then_video_and_cancels(browser, base_url, svc, artifacts):  # noqa: F811
    page = browser.new_context(viewport=DESKTOP).new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base_url + "/")
    first = create(page, base_url)
    second = create(page, base_url, prompt="a blue square moving left")

    # the second waits behind the first: its page says where it is in the queue and about how long
    page.goto(f"{base_url}/videos/{second}")
    page.wait_for_function("() => /Number 1 in the queue/.test(document.querySelector('[data-queue-text]').textContent)",
                           timeout=60_000)
    assert "to go" in page.locator("[data-eta-text]").inner_text()
    page.screenshot(path=str(artifacts / "job-queued.png"), full_page=True)

    # the first, mid-generation: a preview appears and is replaced as it sharpens
    page.goto(f"{base_url}/videos/{first}")
    page.wait_for_function("""() => { const f = document.querySelector('[data-preview]');
        const img = f && f.querySelector('img');
        return f && !f.hidden && img.complete && img.naturalWidth > 0; }""", timeout=60_000)
    assert page.locator("[data-badge] .badge").inner_text().lower() == "making"
    step = int(page.locator("[data-preview]").get_attribute("data-step"))
    assert 0 < step < 200 and "Preview after step" in page.locator("[data-preview] figcaption").inner_text()
    page.screenshot(path=str(artifacts / "job-preview-mid-generation.png"), full_page=True)

    # then the video
    page.locator("video").wait_for(timeout=180_000)
    assert page.locator("[data-preview]").count() == 0 and page.locator(".badge").inner_text().lower() == "done"
    page.wait_for_function("() => document.querySelector('video').readyState >= 2", timeout=30_000)
    page.screenshot(path=str(artifacts / "job-video-done.png"), full_page=True)

    # the second is running now: cancel it from its page
    page.goto(f"{base_url}/videos/{second}")
    page.wait_for_function("() => +document.querySelector('[role=progressbar]').getAttribute('aria-valuenow') > 0",
                           timeout=60_000)
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_url(f"{base_url}/videos/{second}")
    assert page.locator(".badge").inner_text().lower() == "cancelled"
    assert "nothing was kept" in page.locator("[data-status-text]").inner_text()
    assert page.get_by_role("button", name="Cancel").count() == 0
    page.screenshot(path=str(artifacts / "job-cancelled.png"), full_page=True)
    assert page.request.get(f"{base_url}/v1/videos/{second}").json()["status"] == "cancelled"
    # the worker is free: a quick job is made next
    third = create(page, base_url, size="32x32", seconds="1", steps=2)
    page.goto(f"{base_url}/videos/{third}")
    page.locator("video").wait_for(timeout=60_000)
    assert not errors, errors
