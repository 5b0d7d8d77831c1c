"""Folder datasets of real clips: consent checks, buckets, subsampling, batching."""

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from kinetoscope.data.folder import (
    BucketBatchSampler,
    ConsentError,
    FolderDataset,
    assign_bucket,
    collate,
    load_manifest,
)
from kinetoscope.media import write_video


def ramp(t, h, w, step=6):
    """Frame i is a flat grey of brightness step*i, so subsampling can be read back."""
    return np.broadcast_to((np.arange(t) * step).astype(np.uint8)[:, None, None, None], (t, h, w, 3)).copy()


def ok(path, caption="a clip", **kw):
    return {"path": path, "caption": caption, "licence": "CC-BY-4.0", "consent": True, "source": "me", **kw}


def write_manifest(folder, rows):
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    write_video(d / "wide.mp4", ramp(20, 64, 80), 8)
    write_video(d / "wide2.mp4", ramp(20, 64, 80), 8)
    write_video(d / "tall.mp4", ramp(20, 64, 40), 8)
    write_video(d / "fast.mp4", ramp(40, 64, 80), 24)
    Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(d / "still.png")
    (d / "sub").mkdir()
    write_video(d / "sub" / "wide3.mp4", ramp(20, 64, 80), 8)
    (d / "broken.mp4").write_bytes(b"not a video at all")
    return d


GOOD = [ok("wide.mp4"), ok("wide2.mp4"), ok("sub/wide3.mp4"), ok("tall.mp4"), ok("fast.mp4"),
        ok("still.png", "a still")]


def test_refuses_unconsented_and_unlicensed_naming_both(media):
    write_manifest(media, GOOD + [ok("wide2.mp4", consent="no"), ok("tall.mp4", licence="")])
    with pytest.raises(ConsentError) as e:
        load_manifest(media)
    msg = str(e.value)
    assert "wide2.mp4: no consent" in msg and "tall.mp4: missing licence" in msg
    assert len(e.value.refusals) == 2


def test_allow_partial_drops_and_returns_refusals(media):
    rows = [ok("wide.mp4"), ok("wide2.mp4", consent=False), {**ok("tall.mp4"), "licence": None},
            ok("still.png", consent="Granted"), ok("fast.mp4", consent="yes")]
    write_manifest(media, rows)
    entries, refusals = load_manifest(media, allow_partial=True)
    assert [e.relpath for e in entries] == ["wide.mp4", "still.png", "fast.mp4"]
    assert {(r.path, r.reasons) for r in refusals} == {("wide2.mp4", ("no consent",)),
                                                       ("tall.mp4", ("missing licence",))}
    ds = FolderDataset(media, allow_partial=True)
    assert len(ds) == 3 and len(ds.refusals) == 2


def test_missing_and_unreadable_files_and_every_reason_listed(media):
    write_manifest(media, [ok("gone.mp4"), ok("broken.mp4"), {"path": "wide.mp4", "caption": "x"}])
    with pytest.raises(ConsentError) as e:
        load_manifest(media)
    reasons = {r.path: r.reasons for r in e.value.refusals}
    assert reasons["gone.mp4"] == ("file missing",)
    assert reasons["broken.mp4"][0].startswith("unreadable")
    assert reasons["wide.mp4"] == ("missing licence", "no consent")


def test_paths_that_escape_the_folder_are_refused(media, tmp_path):
    outside = tmp_path / "secret.mp4"
    write_video(outside, ramp(5, 64, 64), 8)
    os.symlink(outside, media / "link.mp4")
    try:
        write_manifest(media, [ok("../secret.mp4"), ok(str(outside)), ok("sub/../../x.mp4"), ok("link.mp4"),
                               ok("sub/wide3.mp4")])
        entries, refusals = load_manifest(media, allow_partial=True)
    finally:
        (media / "link.mp4").unlink()
    assert [e.relpath for e in entries] == ["sub/wide3.mp4"]
    assert len(refusals) == 4 and all(r.reasons == ("path escapes the folder",) for r in refusals)


def test_csv_manifest_and_no_manifest(media, tmp_path):
    assert pytest.raises(ConsentError, load_manifest, tmp_path).match("no manifest")
    write_video(tmp_path / "a.mp4", ramp(9, 64, 64), 8)
    (tmp_path / "manifest.csv").write_text(
        "path,caption,licence,consent,source\na.mp4,\"red, moving\",CC0,YES,me\na.mp4,x,CC0,,me\n")
    entries, refusals = load_manifest(tmp_path, allow_partial=True)
    assert [(e.relpath, e.caption, e.frames) for e in entries] == [("a.mp4", "red, moving", 9)]
    assert refusals[0].reasons == ("no consent",)


def test_bucket_assignment():
    assert assign_bucket(80, 64, 20, 8.0)[:2] == (96, 64)  # 1.25 is nearest 3:2; too small -> smallest
    assert assign_bucket(40, 64, 20, 8.0) == (64, 96, 17)
    assert assign_bucket(400, 260, 33, 8.0) == (192, 128, 33)  # largest size the clip covers
    assert assign_bucket(100, 100, 1) == (64, 64, 1)  # an image is one frame
    assert assign_bucket(80, 64, 40, 24.0) == (96, 64, 9)  # 40 frames at 24 fps -> 14 at 8 fps -> 9
    assert assign_bucket(80, 64, 4, 8.0)[2] == 1


def test_items_are_bucketed_subsampled_and_deterministic(media):
    write_manifest(media, GOOD)
    ds = FolderDataset(media, seed=3)
    assert ds.buckets == [(96, 64, 17)] * 3 + [(64, 96, 17), (96, 64, 9), (64, 64, 1)]
    for i, (w, h, t) in enumerate(ds.buckets):
        item = ds[i]
        v = item["video"]
        assert v.dtype == torch.float32 and v.shape == (3, t, h, w) and item["bucket"] == (w, h, t)
        assert -1 <= v.min() and v.max() <= 1
    assert ds[5]["caption"] == "a still"
    fast = ds[4]["video"].mean(dim=(0, 2, 3))  # 24 fps -> 8 fps: every 3rd frame, 3 * 6 grey levels apart
    assert torch.allclose(fast.diff(), torch.full((8,), 18 / 127.5), atol=0.03)
    assert torch.equal(ds[4]["video"], FolderDataset(media, seed=3)[4]["video"])
    starts = {FolderDataset(media, seed=s)[4]["video"][0, 0, 0, 0].item() for s in range(8)}
    assert len(starts) > 1  # the start is random, by seed


def test_bucket_batches_share_a_shape_and_follow_the_seed(media):
    write_manifest(media, GOOD)
    ds = FolderDataset(media)
    sampler = BucketBatchSampler(ds, batch_size=2, seed=1)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(len(ds))) and len(sampler) == len(batches)
    assert all(len({ds.buckets[i] for i in b}) == 1 for b in batches)
    loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler, collate_fn=collate)
    for batch in loader:
        w, h, t = batch["bucket"]
        assert batch["video"].shape == (len(batch["caption"]), 3, t, h, w)
    assert list(BucketBatchSampler(ds, 2, seed=1)) == batches
    keys = [(96, 64, 17)] * 40 + [(64, 96, 17)] * 30
    runs = {str(list(BucketBatchSampler(keys, 4, seed=s))) for s in range(4)}
    assert len(runs) > 1
    s = BucketBatchSampler(keys, 4, seed=0)
    first = list(s)
    s.set_epoch(1)
    assert list(s) != first and sorted(i for b in s for i in b) == list(range(70))


def test_bucket_sampler_strides_over_ranks():
    keys = [0] * 10 + [1] * 7  # batches of 3: 4 + 3 = 7 batches
    ranks = [list(BucketBatchSampler(keys, 3, seed=5, rank=r, world_size=2)) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == 4  # 7 padded to 8 so no rank waits on the other
    seen = [i for r in ranks for b in r for i in b]
    assert set(seen) == set(range(17))
    dropped = [list(BucketBatchSampler(keys, 3, seed=5, rank=r, world_size=2, drop_last=True)) for r in range(2)]
    assert len(dropped[0]) == len(dropped[1]) == 2  # 3 + 2 full batches, 5 cut to 4
    assert all(len(b) == 3 and len({keys[i] for i in b}) == 1 for r in dropped for b in r)
