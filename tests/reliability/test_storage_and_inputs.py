"""Storage that cannot take a file (a full disk, a path blocked), and inputs that cannot be read
(corrupt, truncated, a decompression bomb): the request or job fails cleanly with a clear error,
no partial file is left, and the worker goes on to the next job."""

import io
import struct
import subprocess
import zlib

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from kinetoscope.studio import jobs
from kinetoscope.studio.app import create_app
from kinetoscope.studio.worker import Worker

SMALL = {"prompt": "a red circle moving right", "size": "32x32", "seconds": "1", "steps": 2}


@pytest.fixture
def client(svc):
    with TestClient(create_app(services=svc)) as c:
        yield c


def run_one(svc) -> None:
    w = Worker(svc, worker_id="w")
    for _ in range(30):  # until it has run (or failed) a job
        if w.run_once(timeout=0.2):
            return


def png(size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header claiming width x height pixels, with a few hundred bytes of data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = zlib.compress(b"\0" * (1 + 3 * width) * 8, 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


def stored(svc) -> list[str]:
    root = svc.settings.files_dir
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


# --- storage -----------------------------------------------------------------------------------
@pytest.fixture
def tiny_disk(tmp_path):
    """A 512 KiB tmpfs, filled to the last byte by a `filler` file (real ENOSPC, even for root)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k,mode=0755", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()}); test_blocked_storage covers unwritable storage")
    try:
        with open(mnt / "filler", "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_full_disk_fails_the_job_cleanly_and_the_worker_goes_on(tiny_disk, settings, text_encoder, client_factory):
    svc, client = client_factory(settings.with_(storage_dir=tiny_disk))
    vid = client.post("/v1/videos", json=SMALL).json()["id"]
    run_one(svc)
    got = client.get(f"/v1/videos/{vid}").json()
    assert got["status"] == "failed" and got["error"]["code"] == "storage_error", got
    assert "No space left" in got["error"]["message"]
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["filler"]  # nothing half-written
    # an upload that cannot be stored: 503 storage_error, and no job
    r = client.post("/v1/videos", data={**SMALL, "task": "i2v"}, files={"input_reference": ("a.png", png(), "image/png")})
    assert r.status_code == 503 and r.json()["error"]["code"] == "storage_error", r.text
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["filler"]
    assert [v["id"] for v in client.get("/v1/videos").json()["data"]] == [vid]
    (tiny_disk / "filler").unlink()  # space again: the same worker completes the next job
    ok = client.post("/v1/videos", json=SMALL).json()["id"]
    run_one(svc)
    assert client.get(f"/v1/videos/{ok}").json()["status"] == "completed"


@pytest.fixture
def client_factory(request):
    made = []

    def make(settings):
        from kinetoscope.studio.services import Services

        svc = Services.start(settings)
        svc.engines.get("kinetoscope-builtin").pipeline._text = request.getfixturevalue("text_encoder")
        tc = TestClient(create_app(services=svc))
        tc.__enter__()
        made.append((svc, tc))
        return svc, tc

    yield make
    for svc, tc in made:
        tc.__exit__(None, None, None)
        svc.close()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_blocked_storage_fails_the_job_cleanly(svc, client):
    """The job's storage folder cannot be made (a file stands where it should be)."""
    vid = client.post("/v1/videos", json=SMALL).json()["id"]
    svc.settings.files_dir.mkdir(parents=True, exist_ok=True)
    (svc.settings.files_dir / vid).write_bytes(b"in the way")
    run_one(svc)
    got = client.get(f"/v1/videos/{vid}").json()
    assert got["status"] == "failed" and got["error"]["code"] == "storage_error", got
    assert stored(svc) == []  # the obstacle went with the job's prefix; nothing partial remains
    ok = client.post("/v1/videos", json=SMALL).json()["id"]
    run_one(svc)
    assert client.get(f"/v1/videos/{ok}").json()["status"] == "completed"


# --- inputs ------------------------------------------------------------------------------------
BAD_IMAGES = {
    "truncated": png()[:60],
    "garbage": b"this is not an image at all",
    "bomb_50000x50000": bomb_png(50000, 50000),
    "bomb_over_limit": bomb_png(4097, 4097),  # just over the studio's max_upload_pixels (4096x4096)
    "empty_png_header": b"\x89PNG\r\n\x1a\n",
}


def test_bad_images_are_refused_with_400_and_leave_nothing(svc, client):
    for name, data in BAD_IMAGES.items():
        r = client.post("/v1/videos", data={**SMALL, "task": "i2v"},
                        files={"input_reference": ("../../etc/passwd.png", data, "image/png")})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_image", (name, r.text)
        assert r.json()["error"]["param"] == "input_reference"
    assert client.get("/v1/videos").json()["data"] == [] and stored(svc) == []
    ok = client.post("/v1/videos", data=SMALL, files={"input_reference": ("../x.png", png(), "image/png")})
    assert ok.status_code == 200, ok.text
    run_one(svc)  # the worker still works
    assert client.get(f"/v1/videos/{ok.json()['id']}").json()["status"] == "completed"
    assert all(".." not in p and "passwd" not in p for p in stored(svc))  # the upload's name is never used


def test_bad_videos_are_refused_with_400_without_naming_server_paths(svc, client):
    good = client.post("/v1/videos", json=SMALL).json()["id"]
    run_one(svc)
    mp4 = client.get(f"/v1/videos/{good}/content").content
    for name, data in {"truncated": mp4[: len(mp4) // 3], "garbage": b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64}.items():
        r = client.post("/v1/videos/extensions", data={"prompt": "more", "seconds": "1"},
                        files={"video": ("../../a.mp4", data, "video/mp4")})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_video", (name, r.text)
        assert str(svc.settings.data_dir) not in r.text and "files/" not in r.text  # regression: the path leaked
    assert stored(svc) == sorted([good, f"{good}/spritesheet.jpg", f"{good}/thumbnail.webp", f"{good}/video.mp4"])


def test_a_corrupted_stored_input_fails_its_job_and_the_worker_goes_on(svc, client):
    """An upload that was fine when accepted but is damaged on disk before the worker reads it."""
    bad = client.post("/v1/videos", data={**SMALL, "task": "i2v"}, files={"input_reference": ("a.png", png(), "image/png")})
    key = jobs.get(svc.sessions, bad.json()["id"]).input_key
    path = svc.storage.path(key)
    path.write_bytes(path.read_bytes()[:50])
    run_one(svc)
    got = client.get(f"/v1/videos/{bad.json()['id']}").json()
    assert got["status"] == "failed" and got["error"]["code"] == "invalid_request", got
    assert not (svc.settings.files_dir / got["id"]).exists()
    ok = client.post("/v1/videos", json=SMALL).json()["id"]
    run_one(svc)
    assert client.get(f"/v1/videos/{ok}").json()["status"] == "completed"
