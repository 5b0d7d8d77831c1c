"""The studio signs and watermarks every video, anyone can verify a file, and the policy
stage refuses before anything is queued."""

import pytest

from kinetoscope.studio import audit
from kinetoscope.studio.worker import Worker

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_studio_videos_are_signed_and_watermarked(client, svc):
    vid = client.post("/v1/videos", json={"prompt": "a red circle", "size": "128x128", "seconds": "2"}).json()["id"]
    assert Worker(svc).run_once(timeout=2)
    data = client.get(f"/v1/videos/{vid}/content").content
    r = client.post("/v1/verify", files={"file": ("clip.mp4", data, "video/mp4")})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["c2pa"]["state"] == "trusted"
    assert any(a["action"] == "c2pa.created" for a in report["c2pa"]["actions"])
    assert report["c2pa"]["generation"]["video_id"] == vid
    assert report["watermark"]["found"] and report["watermark"]["this_installation"]
    assert report["watermark"]["matches_manifest"]
    tampered = bytearray(data)
    tampered[len(data) // 2] ^= 0xFF
    r = client.post("/v1/verify", files={"file": ("clip.mp4", bytes(tampered), "video/mp4")})
    assert r.json()["c2pa"]["state"] == "tampered"
    page = client.post("/verify", files={"file": ("clip.mp4", data, "video/mp4")})
    assert page.status_code == 200 and "Trusted: signed by this studio" in page.text
    assert client.post("/v1/verify", files={"file": ("notes.txt", b"hello", "text/plain")}).status_code == 400


def test_an_edit_names_its_source_as_parent(client, svc):
    src = client.post("/v1/videos", json={"prompt": "a red circle", "seconds": "1"}).json()["id"]
    Worker(svc).run_once(timeout=2)
    ed = client.post("/v1/videos/edits", json={"prompt": "a blue circle", "video": {"id": src}}).json()["id"]
    Worker(svc).run_once(timeout=2)
    data = client.get(f"/v1/videos/{ed}/content").content
    report = client.post("/v1/verify", files={"file": ("edit.mp4", data, "video/mp4")}).json()
    assert any(a["action"] == "c2pa.edited" for a in report["c2pa"]["actions"])
    assert [i["relationship"] for i in report["c2pa"]["ingredients"]] == ["parentOf"]


def test_policy_refuses_before_queueing_and_audits_without_the_text(client, svc):
    r = client.post("/v1/videos", json={"prompt": "a red circle moving right"})
    assert r.status_code == 200
    bad = "a p0rn video"
    r = client.post("/v1/videos", json={"prompt": bad})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "moderation_blocked" and err["param"] == "prompt" and bad not in err["message"]
    r = client.post("/v1/videos", json={"prompt": "a red circle", "negative_prompt": bad})
    assert r.status_code == 400 and r.json()["error"]["param"] == "negative_prompt"
    assert len(client.get("/v1/videos").json()["data"]) == 1
    log = audit.jsonl(svc.sessions)
    assert log.count('"moderation.refused"') == 2 and "p0rn" not in log


def test_only_consented_uploads_become_training_data(client, svc, tmp_path):
    import io

    from PIL import Image

    from kinetoscope.data.folder import load_manifest
    from kinetoscope.studio.training_data import export_consented

    def png(colour):
        buf = io.BytesIO()
        Image.new("RGB", (32, 32), colour).save(buf, format="PNG")
        return buf.getvalue()

    ids = {}
    for consent, colour in (("true", (200, 0, 0)), ("false", (0, 200, 0)), (None, (0, 0, 200))):
        data = {"prompt": f"a square {colour}", "seconds": "0"}
        if consent is not None:
            data["input_training_consent"] = consent
        r = client.post("/v1/videos", data=data, files={"input_reference": ("x.png", png(colour), "image/png")})
        assert r.status_code == 200 and r.json()["input_training_consent"] == (consent == "true")
        ids[consent] = r.json()["id"]
    summary = export_consented(svc, tmp_path / "dataset")
    assert summary["exported"] == 1 and summary["without_consent"] == 2
    entries, refusals = load_manifest(tmp_path / "dataset")
    assert [e.path.name for e in entries] == [f"{ids['true']}.png"] and not refusals
    assert sorted(p.name for p in (tmp_path / "dataset" / "files").iterdir()) == [f"{ids['true']}.png"]
