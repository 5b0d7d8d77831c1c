"""The gallery through HTTP: newest first with dates, search by prompt words, filters by status, task
and model, paging that keeps the filters and never splits a group; and variations: `n` 1 to 4 on
create makes n videos with seeds s, s+1, ... sharing a group id, all or none."""

import html
import re

import pytest
from fastapi.testclient import TestClient

from kinetoscope.studio import accounts
from kinetoscope.studio.app import create_app
from tests.studio.helpers import work

sqlite = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
QUICK = {"seconds": "0", "size": "32x32", "steps": 1}


def ids_on(html: str) -> list[str]:
    return re.findall(r'href="/videos/(video_[0-9a-f]+)"', html)


def make(client, prompt: str, **kw) -> dict:
    r = client.post("/v1/videos", json={"prompt": prompt, **QUICK, **kw})
    assert r.status_code == 200, r.text
    return r.json()


def test_n_makes_variations_with_consecutive_seeds_in_one_group(client, svc):
    r = client.post("/v1/videos", json={"prompt": "a red circle moving right", "n": 3, "seed": 41, **QUICK})
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["seed"] == 41 and len(first["variations"]) == 3 and first["variations"][0] == first["id"]
    videos = [client.get(f"/v1/videos/{i}").json() for i in first["variations"]]
    assert [v["seed"] for v in videos] == [41, 42, 43]
    assert {v["group_id"] for v in videos} == {first["group_id"]} and first["group_id"].startswith("group_")
    assert work(svc, 3) == 3
    frames = [client.get(f"/v1/videos/{v['id']}/content").content for v in videos]
    assert len(set(frames)) == 3  # three seeds, three videos
    # without a seed: a random one, and the next ones after it
    form = client.post("/v1/videos", data={"prompt": "a blue square", "n": "2", **{k: str(v) for k, v in QUICK.items()}}).json()
    second = client.get(f"/v1/videos/{form['variations'][1]}").json()
    assert second["seed"] == form["seed"] + 1 and second["group_id"] == form["group_id"]
    one = make(client, "a green star")
    assert one["group_id"] is None and "variations" not in one


@sqlite
@pytest.mark.parametrize("body,fragment", [
    ({"n": 0}, "n 0 is out of range: allowed 1 to 4"),
    ({"n": 5}, "n 5 is out of range: allowed 1 to 4"),
    ({"n": "many"}, "n must be an integer"),
    ({"n": 3, "seed": 2**63 - 2}, "allowed 0 to 9223372036854775805 with 3 variations"),
])
def test_bad_n_is_a_400_naming_it_and_makes_nothing(client, svc, body, fragment):
    r = client.post("/v1/videos", json={"prompt": "a red circle", **body})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] in ("n", "seed") and fragment in r.json()["error"]["message"]
    assert client.get("/v1/videos").json()["data"] == []


@sqlite
def test_variations_are_all_made_or_none_within_the_quota(svc):
    user = accounts.create_user(svc.sessions, "ada", "correct horse battery", is_admin=True)
    key, _ = accounts.create_key(svc.sessions, user, "test", ["videos:read", "videos:write"])
    accounts.set_quotas(svc.sessions, accounts.User(id="test"), user.id, max_concurrent_jobs=2)
    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(services=svc)) as c:
        r = c.post("/v1/videos", json={"prompt": "a red circle", "n": 3, **QUICK}, headers=auth)
        assert r.status_code == 429 and "the limit is 2 at a time" in r.json()["error"]["message"], r.text
        assert c.get("/v1/videos", headers=auth).json()["data"] == [] and not any(svc.settings.files_dir.iterdir())
        assert c.post("/v1/videos", json={"prompt": "a red circle", "n": 2, **QUICK}, headers=auth).status_code == 200
        assert len(c.get("/v1/videos", headers=auth).json()["data"]) == 2


@sqlite
def test_search_and_filters_newest_first_with_dates(client, svc):
    red = make(client, "a red circle moving right")
    blue = make(client, "a BLUE circle falling")
    still = make(client, "a blue square", task="image")
    work(svc, 3)
    pending = make(client, "a red star")  # still queued
    page = client.get("/gallery").text
    assert ids_on(page) == [pending["id"], still["id"], blue["id"], red["id"]]  # newest first
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>', page)
    assert ids_on(client.get("/gallery?q=blue").text) == [still["id"], blue["id"]]  # any case
    assert ids_on(client.get("/gallery?q=circle+red").text) == [red["id"]]  # every word, any order
    assert ids_on(client.get("/gallery?q=100%25").text) == []  # a search is text, not a pattern
    assert ids_on(client.get("/gallery?status=queued").text) == [pending["id"]]
    assert ids_on(client.get("/gallery?status=completed&q=blue").text) == [still["id"], blue["id"]]
    assert ids_on(client.get("/gallery?task=image").text) == [still["id"]]
    assert ids_on(client.get("/gallery?model=kinetoscope-builtin").text) == [pending["id"], still["id"], blue["id"], red["id"]]
    assert ids_on(client.get("/gallery?model=other").text) == []
    assert "No videos match" in client.get("/gallery?q=triangle").text
    page = client.get("/gallery?task=image").text
    assert '<option value="image" selected>' in page and '<option value="t2v">' in page  # the filters offer what exists
    bad = client.get("/gallery?status=lost")
    assert bad.status_code == 400 and "status 'lost' is not a video status" in html.unescape(bad.text)


@sqlite
def test_pages_keep_the_filters_and_never_split_a_group(client, svc):
    svc.settings = svc.settings.with_(page_size=2)
    old = make(client, "a red circle, the oldest")
    group = client.post("/v1/videos", json={"prompt": "a red circle in a group", "n": 3, **QUICK}).json()
    make(client, "a red circle, the newest")
    make(client, "a blue circle")  # not a match
    first = client.get("/gallery?q=red").text
    # the newest red video, then the group (cut by the page's end at 2): its three variations together, seed order
    assert ids_on(first)[1:] == group["variations"]
    nxt = re.search(r'href="/gallery\?([^"]*after=[^"]+)"', first).group(1).replace("&amp;", "&")
    assert "q=red" in nxt
    assert ids_on(client.get("/gallery?" + nxt).text) == [old["id"]]
    only = client.get(f"/gallery?group={group['group_id']}").text
    assert ids_on(only) == group["variations"] and "3 variations" in only and "seeds" in only
