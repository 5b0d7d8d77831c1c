"""The gallery and the create page's limits in a real headless Chromium (Debian's chromium, driven by
Playwright) against a live server with its own worker: three variations made from the create page and
shown side by side, search, filters, hover to play (and tap to play, then tap to open, on a phone),
and the note for a size or length beyond what the model was trained for. Screenshots go to
$KINETOSCOPE_ARTIFACTS/browser (default: the test's temp folder)."""

import time

import pytest

from tests.studio.test_browser import DESKTOP, artifacts, base_url, browser, shoot  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]
QUICK = {"size": "64x64", "seconds": "1", "steps": "2"}
PLAYING = """link => { const v = link.querySelector('video');
                       return !!v && !v.paused && !v.hidden && v.currentTime > 0 && v.readyState >= 2; }"""


def wait_done(page, base_url, ids, seconds=180):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        states = [page.request.get(f"{base_url}/v1/videos/{i}").json()["status"] for i in ids]
        if all(s == "completed" for s in states):
            return
        assert "failed" not in states, states
        time.sleep(0.5)
    raise AssertionError(f"not done after {seconds} s: {states}")


def tiles(page) -> list[str]:
    return [h.rsplit("/", 1)[1] for h in page.locator("a.tile-link").evaluate_all("ls => ls.map(l => l.getAttribute('href'))")]


def test_variations_search_filter_and_hover_to_play(browser, base_url, artifacts):  # noqa: F811
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # the create page flags a size beyond what the model was trained for, as it is chosen
    page.goto(base_url + "/")
    note = page.locator("#beyond-note")
    assert note.is_hidden()
    page.get_by_label("Size (width × height)").select_option("128x128")
    assert note.is_visible() and "size 128x128 is beyond what this model was trained for" in note.inner_text()
    page.get_by_label("Duration (seconds)").fill("5")
    assert "size 128x128 and 5 s are beyond" in note.inner_text()
    shoot(page, artifacts, "gallery-01-create-beyond")

    # three variations from the create page: the gallery shows them side by side, seeds 5, 6, 7
    page.get_by_label("Size (width × height)").select_option(QUICK["size"])
    page.get_by_label("Duration (seconds)").fill(QUICK["seconds"])
    assert note.is_hidden()
    page.get_by_label("Prompt", exact=True).fill("a red circle moving right")
    page.get_by_label("Variations").select_option("3")
    page.get_by_text("More settings").click()
    page.get_by_label("Steps").fill(QUICK["steps"])
    page.get_by_label("Seed").fill("5")
    page.get_by_role("button", name="Make video").click()
    page.wait_for_url(base_url + "/gallery?group=group_*")
    group = tiles(page)
    assert len(group) == 3
    for name, prompt, task in (("blue", "a blue square falling", "t2v"), ("still", "a green star", "image")):
        r = page.request.post(base_url + "/v1/videos", data={"prompt": prompt, "task": task, **QUICK})
        assert r.ok, r.text()
    wait_done(page, base_url, group)
    page.reload()
    row = page.locator(".group-row")
    assert row.locator("a.tile-link").count() == 3 and row.locator("img").count() == 3
    seeds = row.locator(".tile-meta").all_inner_texts()
    assert [s.rsplit("seed ", 1)[1] for s in seeds] == ["5", "6", "7"]
    boxes = [b.bounding_box() for b in row.locator("a.tile-link").all()]
    assert len({round(b["y"]) for b in boxes}) == 1 and boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]  # side by side
    shoot(page, artifacts, "gallery-02-variations")

    # the whole gallery: newest first, dates; search by prompt; filter by status and task
    page.goto(base_url + "/gallery")
    all_ids = [v["id"] for v in page.request.get(base_url + "/v1/videos").json()["data"]]
    wait_done(page, base_url, all_ids)
    page.reload()
    assert tiles(page)[:2] == all_ids[:2] and page.locator("time").count() >= 3
    page.get_by_label("Search prompts").fill("BLUE square")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**q=BLUE+square**")
    assert tiles(page) == [all_ids[1]] and "blue square" in page.locator(".tile-prompt").inner_text()
    shoot(page, artifacts, "gallery-03-search")
    page.get_by_role("link", name="Show all").click()
    page.get_by_label("Status").select_option("completed")
    page.get_by_label("Task").select_option("image")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**task=image**")
    assert tiles(page) == [all_ids[0]]
    assert page.get_by_label("Task").input_value() == "image"  # the filter is kept on the page
    shoot(page, artifacts, "gallery-04-filter")

    # hover to play: the video plays over its poster while pointed at, and stops when left
    page.goto(base_url + "/gallery")
    tile = page.locator(f'a[href="/videos/{group[0]}"]')
    tile.hover()
    page.wait_for_function(f"() => ({PLAYING})(document.querySelector('a[href=\"/videos/{group[0]}\"]'))", timeout=30_000)
    page.screenshot(path=str(artifacts / "gallery-05-hover-playing-desktop.png"), full_page=True)
    page.mouse.move(2, 2)
    assert tile.evaluate("l => l.querySelector('video').paused")
    assert errors == []
    context.close()

    # a phone: the first tap plays, the second opens the video's page
    phone = browser.new_context(viewport={"width": 375, "height": 740}, has_touch=True, is_mobile=True)
    page = phone.new_page()
    page.goto(base_url + "/gallery")
    tile = page.locator(f'a[href="/videos/{group[1]}"]')
    tile.tap()
    page.wait_for_function(f"() => ({PLAYING})(document.querySelector('a[href=\"/videos/{group[1]}\"]'))", timeout=30_000)
    assert page.url == base_url + "/gallery"
    page.screenshot(path=str(artifacts / "gallery-06-tap-playing-phone.png"), full_page=True)
    tile.tap()
    page.wait_for_url(f"{base_url}/videos/{group[1]}")
    assert page.get_by_role("link", name="See them side by side").get_attribute("href").startswith("/gallery?group=")
    phone.close()
