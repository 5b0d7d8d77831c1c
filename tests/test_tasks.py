import json

import numpy as np
import pytest
import torch

from kinetoscope import tasks
from kinetoscope.cli import main
from kinetoscope.data.world import WorldConfig, make_clip
from kinetoscope.eval.tasks import seam_ratio
from kinetoscope.media import read_metadata, read_video, write_video
from kinetoscope.models.pixels import PixelSpace
from kinetoscope.pipeline import GenerationRequest, Pipeline, RequestError
from kinetoscope.tasks.storyboard import half_dissolve
from kinetoscope.train.config import TrainConfig
from kinetoscope.train.data import GIVEN_KINDS, random_given
from tests.conftest import tiny_pipeline

FAST = {"steps": 2, "frames": 9}


@pytest.fixture(scope="module")
def pipe(text_encoder):
    p = tiny_pipeline()
    p._text = text_encoder
    return p


@pytest.fixture(scope="module")
def shipped():
    """The built-in model with its own text encoder; tests read its size, frame rate and time
    compression from it (`k`: frames per latent chunk, 1 for a pixel-space model)."""
    return Pipeline.from_pretrained()


@pytest.fixture(scope="module")
def clip(shipped):
    return shipped.generate(GenerationRequest(prompt="a red circle moving right on a blue background", frames=17, steps=2)).frames


def image(h=40, w=60, colour=(200, 30, 30)):
    return np.full((h, w, 3), colour, np.uint8)


def test_image_is_one_frame(pipe):
    assert pipe.generate(tasks.image_request("a red star")).frames.shape == (1, 64, 64, 3)


def test_i2v_gives_the_first_frame(pipe):
    req = tasks.i2v_request(pipe, image(), "a red ball rolling", width=32, height=32, frames=9)
    assert req.given_mask == [True] + [False] * 8
    assert req.given_frames.shape == (9, 32, 32, 3) and (req.given_frames[0] == (200, 30, 30)).all()
    assert pipe.generate(req).frames.shape == (9, 32, 32, 3)
    with pytest.raises(RequestError, match=r"input image has shape \(40, 60\)"):
        tasks.i2v_request(pipe, image()[..., 0], "x")


def test_i2v_starts_on_the_image_and_dissolves_into_the_motion(pipe):
    v = tasks.i2v(pipe, image(), "a red ball rolling", width=32, height=32, frames=9, steps=2)
    assert v.metadata["head_frames"] == 5 and v.metadata["release"] == tasks.stills.RELEASE
    assert np.array_equal(v.frames[0], tasks.fit(image(), 32, 32))  # the image exactly
    f = v.frames.astype(np.float32)  # frame 0 -> the first generated frame (5) in equal steps
    assert np.abs(f[0] * 0.4 + f[5] * 0.6 - f[3]).max() <= 1
    assert tasks.i2v(pipe, image(), "x", width=32, height=32, frames=5, steps=1).metadata["head_frames"] == 1
    with pytest.raises(RequestError, match="release -0.1 is out of range"):
        tasks.i2v(pipe, image(), "x", release=-0.1)


def test_interpolate_holds_both_ends(pipe):
    req = tasks.interpolate_request(pipe, image(), image(colour=(0, 0, 255)), "a morph", width=32, height=32, frames=13)
    assert req.given_mask == [True] + [False] * 8 + [True] * 4
    assert (req.given_frames[-1] == (0, 0, 255)).all()
    with pytest.raises(RequestError, match="too short"):
        tasks.interpolate_request(pipe, image(), image(), "x", width=32, height=32, frames=5)


def test_interpolate_ends_on_the_images_and_dissolves_into_the_generated_frames(pipe):
    a, b = image(colour=(200, 30, 30)), image(colour=(0, 0, 255))
    v = tasks.interpolate(pipe, a, b, "a morph", width=32, height=32, frames=17, steps=2)
    first, last = tasks.fit(a, 32, 32), tasks.fit(b, 32, 32)
    assert v.frames.shape == (17, 32, 32, 3) and v.metadata["head_frames"] == 5 and v.metadata["release"] == tasks.stills.RELEASE
    assert np.array_equal(v.frames[0], first) and np.array_equal(v.frames[-1], last)  # the images exactly
    f = v.frames.astype(np.float32)  # frame 0 -> the first generated frame (5), and 12 -> the last, in equal steps
    assert np.abs(f[0] * 0.6 + f[5] * 0.4 - f[2]).max() <= 1 and np.abs(f[12] * 0.5 + f[16] * 0.5 - f[14]).max() <= 1
    held = tasks.interpolate(pipe, a, b, "a morph", width=32, height=32, frames=17, steps=2, release=0, dissolve=False)
    assert not np.array_equal(held.frames[-1], last)  # the model's decoding of the held image, not the image
    short = tasks.interpolate(pipe, a, b, "a morph", width=32, height=32, frames=9, steps=2)
    assert short.metadata["head_frames"] == 1 and short.metadata["dissolve"] is False  # no chunk to spare
    with pytest.raises(RequestError, match="release 1.5 is out of range"):
        tasks.interpolate(pipe, a, b, "x", release=1.5)


def test_stills_dissolve_over_several_frames_on_the_shipped_model(shipped):
    """Whatever the model's time compression (the shipped one's is none: one frame per chunk), the
    images are held for HOLD frames or more and dissolve into the generated frames over them."""
    a, b = image(colour=(200, 30, 30)), image(colour=(0, 0, 255))
    h, w = shipped.config.height, shipped.config.width
    v = tasks.interpolate(shipped, a, b, "a morph", frames=17, steps=2)
    head, tail = v.metadata["head_frames"], v.metadata["tail_frames"]
    assert head - 1 >= tasks.stills.HOLD and tail >= tasks.stills.HOLD and v.metadata["dissolve"]
    assert np.array_equal(v.frames[0], tasks.fit(a, w, h)) and np.array_equal(v.frames[-1], tasks.fit(b, w, h))
    f, m, g, n = v.frames.astype(np.float32), head // 2, 16 - tail, tail // 2  # g: the last generated frame
    assert np.abs(f[0] * (1 - m / head) + f[head] * (m / head) - f[m]).max() <= 1  # in equal steps
    assert np.abs(f[g] * (1 - n / tail) + f[-1] * (n / tail) - f[g + n]).max() <= 1


def test_extend_forwards_and_backwards_keep_the_input(pipe):
    rng = np.random.default_rng(0)
    clip = rng.integers(0, 255, (9, 32, 32, 3), dtype=np.uint8)
    v = tasks.extend(pipe, clip, "keep going", seconds=2, fps=8, frames=9, steps=2)
    assert v.frames.shape == (9 + 16, 32, 32, 3)
    assert np.array_equal(v.frames[:4], clip[:4])  # the last 5 (the overlap) are crossfaded into the new
    b = tasks.extend(pipe, clip, "before", seconds=1, direction="backward", frames=13, steps=2)
    assert b.frames.shape == (8 + 9, 32, 32, 3) and np.array_equal(b.frames[-1:], clip[-1:])
    with pytest.raises(RequestError, match="need at least 5"):
        tasks.extend(pipe, clip[:3], "x", seconds=1, frames=9, overlap_latents=2)
    short = tasks.extend(pipe, clip[:3], "x", seconds=1, frames=9, steps=2)  # the overlap shrinks to what the video holds
    assert short.frames.shape[0] == 3 + 8 and short.metadata["overlap_latents"] == 1
    assert short.metadata["release"] == 0.0 and v.metadata["release"] == tasks.windows.RELEASE  # one frame: nothing to crossfade
    with pytest.raises(RequestError, match="direction 'sideways'"):
        tasks.extend(pipe, clip, "x", seconds=1, direction="sideways")
    with pytest.raises(RequestError, match="width 48 does not match the input video's 32x32"):
        tasks.extend(pipe, clip, "x", seconds=1, width=48)


def test_extend_warm_start_starts_from_the_held_frames(pipe):
    rng = np.random.default_rng(1)
    clip = rng.integers(0, 255, (9, 32, 32, 3), dtype=np.uint8)

    def new(seed, **kw):
        return tasks.extend(pipe, clip, "x", seconds=1, frames=9, steps=2, seed=seed, **kw).frames[9:]
    # warm_start 0: nothing is denoised, so the new frames come from the held given frames alone, whatever the seed
    assert np.array_equal(new(0, warm_start=0.0), new(1, warm_start=0.0))
    assert not np.array_equal(new(0), new(1))
    assert not np.array_equal(new(0, warm_start=0.99), new(0, warm_start=0.0))
    with pytest.raises(RequestError, match=r"warm_start 1.5 is out of range: allowed 0"):
        tasks.extend(pipe, clip, "x", seconds=1, frames=9, warm_start=1.5)


def test_grow_lands_on_the_end_frames(pipe):
    clip = np.zeros((9, 32, 32, 3), np.uint8)
    req = pipe.resolve(GenerationRequest(prompt="x", width=32, height=32, frames=13, steps=1))
    out = tasks.grow(pipe, req, clip, 16, overlap_latents=1, end=np.full((4, 32, 32, 3), 200, np.uint8))
    assert out.shape == (9 + 16, 32, 32, 3)  # windows of 13: 1 given + 4 new..., last: 1 given + new + 4 given


def test_crossfade_loop_has_no_seam():
    t = np.arange(24, dtype=np.float32)
    frames = np.broadcast_to((np.clip(t * 10, 0, 255))[:, None, None, None], (24, 8, 8, 3)).astype(np.uint8)
    loop = tasks.loop.__globals__["crossfade_loop"](frames, 8)
    assert len(loop) == 16
    assert seam_ratio(frames)["ratio"] > 10  # a ramp: the jump back to the start is huge
    assert seam_ratio(loop)["ratio"] <= 1.5


def test_loop_chooses_the_crossfade_whose_seam_steps_least():
    rng = np.random.default_rng(0)
    frames = np.cumsum(rng.integers(0, 4, (30, 1, 1, 1)), axis=0).astype(np.float32)  # uneven steps
    frames[21] += 30  # a bump in the frames a crossfade of 8 would put at the seam
    frames = np.broadcast_to(np.clip(frames, 0, 255), (30, 4, 4, 3)).astype(np.uint8)
    g = tasks.loop.__globals__
    ratios = {m: seam_ratio(g["crossfade_loop"](frames, m))["ratio"] for m in range(6, 13)}
    best = g["best_crossfade"](frames)
    assert ratios[best] == min(ratios.values()) and ratios[best] < ratios[8] and 6 <= best <= 12
    assert g["best_crossfade"](frames[:13]) == 5  # as long as the clip allows (below half of it)


def test_loop_end_to_end(shipped, clip):
    k, g, w = shipped.vae.config.time_factor, tasks.loop.__globals__, tasks.windows
    bridge = 17 - 1 - k  # a 17-frame window's new frames between a given frame and the clip's first chunk
    v = tasks.loop(shipped, "a red circle moving right on a blue background", video=clip[:9], steps=2, frames=17, crossfade=4)
    assert v.frames.shape == (9 + bridge - 4, *clip.shape[1:]) and v.metadata["bridge_frames"] == bridge
    assert v.metadata["task"] == "loop" and w.overlap_frames(shipped, v.metadata["overlap_latents"]) == 9 - k  # all the
    # 9-frame clip allows beside the chunk the bridge lands on (OVERLAP_FRAMES is 9)
    assert v.metadata["release"] == g["RELEASE"] and v.metadata["crossfade"] == 4
    auto = tasks.loop(shipped, "x", video=clip[:9], steps=1, frames=17)
    lo, hi = g["CROSSFADES"][0], min(g["CROSSFADES"][1], (9 + bridge) // 2 - 1)
    assert lo <= auto.metadata["crossfade"] <= hi and len(auto.frames) == 9 + bridge - auto.metadata["crossfade"]
    short = w.window_need(k, w.overlap_frames(shipped, 2), k) - k  # a chunk short of a 2-latent overlap and the landing
    v = tasks.loop(shipped, "x", video=clip[:9], steps=1, frames=short, crossfade=2)  # so the overlap is 1
    assert v.metadata["overlap_latents"] == 1 and v.metadata["release"] == 0 and len(v.frames) == 9 + (short - 1 - k) - 2
    with pytest.raises(RequestError, match="release 2 is out of range"):
        tasks.loop(shipped, "x", video=clip[:9], release=2)
    with pytest.raises(RequestError, match=f"input video has {k} frames: need at least {1 + k}"):
        tasks.loop(shipped, "x", video=clip[:k], steps=2)


def test_edit_strength(shipped, clip):
    prompt = "a green circle moving right on a blue background"
    same = tasks.edit(shipped, clip, prompt, strength=1.0, steps=2, seed=4)
    fresh = shipped.generate(GenerationRequest(prompt=prompt, frames=17, steps=2, seed=4))
    assert np.array_equal(same.frames, fresh.frames)  # strength 1 ignores the input
    world = make_clip(3, WorldConfig()).frames  # a real world clip: how far the autoencoder alone may move it
    kept = tasks.edit(shipped, world, prompt, strength=0.0, steps=2)
    assert kept.metadata["model_calls"] == 0  # no denoising at all
    moved = np.abs(kept.frames.astype(float) - world)  # strength 0: the input through the autoencoder
    assert moved.max() == 0 if isinstance(shipped.vae, PixelSpace) else moved.mean() < 6  # pixel space: none
    src = world[:10, :clip.shape[1], :clip.shape[2]]  # a real clip (its own background colour) at the model's size
    half = tasks.edit(shipped, src, prompt, strength=0.5, steps=4)
    assert half.frames.shape == (10, *clip.shape[1:])
    d_half = np.abs(half.frames.astype(float) - src).mean()
    far = tasks.edit(shipped, src, prompt, strength=1.0, steps=4)  # same seed and steps, the input ignored
    assert d_half < np.abs(far.frames.astype(float) - src).mean()
    for bad, needle in ((1.5, "strength 1.5 is out of range: allowed 0.0 to 1.0"), (-0.1, "strength -0.1")):
        with pytest.raises(RequestError, match=needle):
            tasks.edit(shipped, clip, prompt, strength=bad)
    with pytest.raises(RequestError, match="frames cannot be set for an edit"):
        tasks.edit(shipped, clip, prompt, frames=9)
    with pytest.raises(RequestError, match="need \\(T, H, W, 3\\) uint8"):
        tasks.edit(shipped, clip[0], prompt)


def test_storyboard_dissolves_between_shots_drawn_as_alone(shipped):
    a, b = "a red circle moving right on a blue background", "a yellow star on a green background"
    k, fps, (h, w) = shipped.vae.config.time_factor, shipped.config.fps, (shipped.config.height, shipped.config.width)
    cut, total, d = k * round(1.5 * fps / k), round(3 * fps), half_dissolve(k)  # d: the dissolve's frames each side
    v = tasks.storyboard(shipped, [tasks.Shot(0, a), tasks.Shot(1.5, b)], seconds=3, steps=2, frames=13, seed=4)
    assert v.frames.shape == (total, h, w, 3) and v.metadata["transition"] == "dissolve"
    seg = v.metadata["segments"]
    assert [(s["start_frame"], s["end_frame"], s["seed"], s["transition"]) for s in seg] == \
        [(0, cut, 4, None), (cut, total, 1004, "dissolve")]
    # each shot alone: text->video of the shortest clip of 1 + k*j frames (up to the 13 asked) that holds it
    alone = [shipped.generate(tasks.t2v_request(shipped, p, steps=2, frames=min(13, 1 + k * -(-(n - 1) // k)),
                                                seed=s["seed"])).frames[:n]
             for p, s, n in zip((a, b), seg, (cut, total - cut))]
    np.testing.assert_array_equal(v.frames[:cut - d], alone[0][:cut - d])  # each shot as it is alone, outside the dissolve
    np.testing.assert_array_equal(v.frames[cut + d:], alone[1][d:])
    def steps(frames):  # mean absolute change between consecutive frames
        return np.abs(np.diff(frames.astype(np.float32), axis=0)).mean(axis=(1, 2, 3))

    own = max(steps(alone[0][cut - d - 1:]).max(), steps(alone[1][:d + 1]).max())  # the shots' own motion there
    jump = np.abs(alone[0][cut - d - 1].astype(np.float32) - alone[1][d]).mean()
    assert steps(v.frames[cut - d - 1:cut + d + 1]).max() < own + 0.35 * jump  # the jump spread over 2d frames
    cut = tasks.storyboard(shipped, [tasks.Shot(0, a), tasks.Shot(1.5, b, transition="cut")], seconds=3, steps=2,
                           frames=13, seed=4)
    np.testing.assert_array_equal(cut.frames, np.concatenate(alone))
    with pytest.raises(RequestError, match="shot 2's transition 'fade' is not allowed: use one of dissolve, continue, cut"):
        tasks.storyboard(shipped, [tasks.Shot(0, a), tasks.Shot(1.5, b, transition="fade")], seconds=3)


@pytest.mark.parametrize("transition", ["dissolve", "continue"])
def test_storyboard_lands_on_keyframes(shipped, transition):
    key = image(colour=(250, 250, 0))
    shots = [tasks.Shot(0, "a red circle moving right on a blue background"),
             tasks.Shot(1.5, "a yellow star on a blue background", image=key)]
    k, fps, (h, w) = shipped.vae.config.time_factor, shipped.config.fps, (shipped.config.height, shipped.config.width)
    cut = k * round(1.5 * fps / k)
    v = tasks.storyboard(shipped, shots, seconds=2.5, steps=2, frames=13, transition=transition)
    assert v.frames.shape == (round(2.5 * fps), h, w, 3)
    assert [s["start_frame"] for s in v.metadata["segments"]] == [0, cut]
    kf = tasks.fit(key, w, h).astype(float)  # the keyframe shows at its time
    before = np.abs(v.frames[cut - 2 * half_dissolve(k)] - kf).mean()  # before the frames that lead into it
    assert np.abs(v.frames[cut] - kf).mean() < (0.5 if transition == "continue" else 0.01) * before
    if transition == "continue":  # held a chunk, then the shot goes on from it
        assert np.abs(v.frames[cut + k - 1] - kf).mean() < 0.5 * before


@pytest.mark.parametrize("shots,seconds,needle", [
    ([(1, "a")], 4, "the first shot is at 1s: a storyboard starts at 0s"),
    ([(0, "a"), (2, "b"), (1, "c")], 4, "shot 3 at 1s is not after shot 2 at 2s"),
    ([(0, "a"), (5, "b")], 4, "shot 2 at 5s is beyond the video's length of 4s"),
    ([(0, "a"), (0.5, "b")], 4, "shot 1 at 0s is 0.5s long: each shot needs at least 1s"),
    ([(0, "a"), (2, "b"), (3, "c")], 4, "shot 2 at 2s is 1s long: this shot needs at least 1.5s"),
])
def test_storyboard_timeline_errors(pipe, shots, seconds, needle):
    with pytest.raises(RequestError, match=needle):
        tasks.storyboard(pipe, [tasks.Shot(a, p) for a, p in shots], seconds=seconds)


def test_timeline_parsing():
    shots, seconds = tasks.parse_timeline({"seconds": "6s", "shots": [{"at": "0s", "prompt": "a"}, {"at": "0:02", "prompt": "b"}]})
    assert seconds == 6 and [s["at"] for s in shots] == [0, 2]
    with pytest.raises(RequestError, match="time 'soon' is not a time"):
        tasks.parse_time("soon")
    with pytest.raises(RequestError, match="needs `at`"):
        tasks.parse_timeline([{"prompt": "a"}])
    shots, _ = tasks.parse_timeline([{"at": 0, "prompt": "a"}, {"at": 2, "prompt": "b", "transition": "cut"}])
    assert "transition" not in shots[0] and shots[1]["transition"] == "cut"
    with pytest.raises(RequestError, match="shot 2's transition 'wipe' is not allowed: use one of dissolve, continue, cut"):
        tasks.parse_timeline([{"at": 0, "prompt": "a"}, {"at": 2, "prompt": "b", "transition": "wipe"}])


def test_recut_keeps_the_middle(shipped, clip):
    fps, w = shipped.config.fps, tasks.windows
    v = tasks.recut(shipped, clip, "a red circle", keep=(1, 2), **FAST)
    assert v.frames.shape == clip.shape and v.metadata["kept_frames"] == [fps, 2 * fps]
    head = tasks.recut(shipped, clip, "a red circle", keep=(0, 1.5), seconds=3, **FAST)
    assert head.frames.shape == (round(3 * fps), *clip.shape[1:])
    n = head.metadata["overlap_latents"]
    kept, keep = round(1.5 * fps), w.overlap_frames(shipped, n)  # the kept part's last `keep` frames crossfade into the new
    assert np.array_equal(head.frames[:kept - keep], clip[:kept - keep])
    with pytest.raises(RequestError, match="keep 1:9 is outside the video"):
        tasks.recut(shipped, clip, "x", keep=(1, 9))
    need = max(keep, w.overlap_frames(shipped, n, backward=True))  # a window's overlap, either way
    with pytest.raises(RequestError, match=f"is {need - 1} frames: keep at least {need}"):  # given, it is what it says
        tasks.recut(shipped, clip, "x", keep=(0, (need - 1) / fps), overlap_latents=n)
    short = tasks.recut(shipped, clip, "x", keep=(0, (need - 1) / fps), **FAST)  # left to its default, it fits the part
    assert short.metadata["overlap_latents"] < n and short.frames.shape == clip.shape


def test_default_overlaps_are_frames_whatever_the_time_compression(pipe, shipped, clip):
    """Left to its default, every task's window overlap covers OVERLAP_FRAMES frames forwards on a
    model with 4x time compression and on the shipped one alike (3 latent frames there, 9 in pixel
    space), as far as the clip and the window allow; a default counted in latents gave a
    pixel-space model a third of it."""
    w, k = tasks.windows, shipped.vae.config.time_factor
    assert (pipe.vae.config.time_factor, w.OVERLAP_FRAMES) == (4, 9)
    for p in (pipe, shipped):
        assert w.overlap_frames(p, w.overlap_latents_for(p)) == w.OVERLAP_FRAMES
    n = w.overlap_latents_for(shipped)
    one = {"steps": 1, "seed": 2}
    fwd = tasks.extend(shipped, clip, "x", seconds=1, **one).metadata["overlap_latents"]
    bwd = tasks.extend(shipped, clip, "x", seconds=1, direction="backward", **one).metadata["overlap_latents"]
    looped = tasks.loop(shipped, "x", video=clip, crossfade=0, **one).metadata["overlap_latents"]
    recut = tasks.recut(shipped, clip, "x", keep=(0, 1.5), seconds=3, **one).metadata["overlap_latents"]
    board = tasks.storyboard(shipped, [tasks.Shot(0, "a red dot"), tasks.Shot(1, "a blue dot", transition="continue")],
                             seconds=2, **one).metadata["overlap_latents"]
    assert w.overlap_frames(shipped, fwd) == w.overlap_frames(shipped, looped) == w.OVERLAP_FRAMES
    assert fwd == bwd == looped == recut == board == n
    short = tasks.extend(shipped, clip, "x", seconds=1, frames=8, **one)  # a window of 8 keeps one chunk to draw
    assert w.overlap_frames(shipped, short.metadata["overlap_latents"]) == 8 - k and len(short.frames) == len(clip) + 8
    given = tasks.extend(shipped, clip, "x", seconds=1, overlap_latents=2, **one)  # a given overlap stays in latents
    assert given.metadata["overlap_latents"] == 2


def test_recipe_rerenders_bit_identically_and_remixes(shipped, clip, tmp_path):
    src = tmp_path / "in.mp4"
    write_video(src, clip, 8)
    frames = read_video(src)[0]
    v = tasks.run(shipped, "edit", {"video": frames}, files={"video": src}, prompt="a blue circle", strength=0.5, steps=4)
    r = v.metadata["recipe"]
    assert r["task"] == "edit" and r["inputs"]["video"]["sha256"] == tasks.frames_sha256(frames)
    assert r["weights_sha256"] == shipped.weights_hash and r["params"]["strength"] == 0.5
    write_video(tmp_path / "out.mp4", v.frames, v.fps, metadata=v.metadata)
    again = tasks.rerender(shipped, read_metadata(tmp_path / "out.mp4"))  # input re-read from the recorded file
    assert np.array_equal(again.frames, v.frames)
    other = tasks.remix(shipped, v.metadata, {"video": frames}, prompt="a yellow circle")
    assert other.metadata["recipe"]["params"]["prompt"] == "a yellow circle" and not np.array_equal(other.frames, v.frames)
    with pytest.raises(RequestError, match="input 'video' is not the one the recipe used"):
        tasks.remix(shipped, v.metadata, {"video": frames[::-1]})
    with pytest.raises(RequestError, match="has no setting 'colour'"):
        tasks.remix(shipped, v.metadata, {"video": frames}, colour="red")
    t2v = shipped.generate(GenerationRequest(prompt="a star", frames=5, steps=2, seed=3))  # metadata without a recipe
    assert np.array_equal(tasks.rerender(shipped, t2v.metadata).frames, t2v.frames)


def test_recipe_pins_the_defaults_it_ran_with(pipe, monkeypatch):
    """A later version that changes a task's defaults (or pipeline.json's) still re-renders an old
    recipe exactly: the recipe keeps every setting that was left to a default."""
    src = pipe.generate(GenerationRequest(prompt="a red dot", frames=9, steps=1)).frames
    v = tasks.run(pipe, "extend", {"video": src}, prompt="more", seconds=1, frames=9, steps=1)
    d = v.metadata["recipe"]["defaults"]
    assert d["overlap_latents"] == v.metadata["overlap_latents"] == 2  # None resolved: the longest that fits 9 frames
    assert d["release"] == tasks.windows.RELEASE and d["direction"] == "forward" and d["guidance"] == pipe.config.guidance
    assert "frames" not in d and "steps" not in d  # passed, so in "params"

    def extend_later(pipe, video, prompt, seconds, overlap_latents=1, direction="forward", anchor=False, blend=True,
                     warm_start=1.0, release=0.0, progress=None, **kw):  # extend with two defaults changed
        return tasks.extend(pipe, video, prompt, seconds, overlap_latents, direction, anchor, blend, warm_start, release, **kw)

    monkeypatch.setitem(tasks.recipe.TASKS, "extend", (extend_later, ("video",)))
    monkeypatch.setattr(pipe.config, "guidance", pipe.config.guidance + 2)  # a new pipeline.json default
    assert np.array_equal(tasks.rerender(pipe, v.metadata, {"video": src}).frames, v.frames)
    fresh = tasks.run(pipe, "extend", {"video": src}, prompt="more", seconds=1, frames=9, steps=1)
    assert fresh.metadata["overlap_latents"] == 1 and not np.array_equal(fresh.frames, v.frames)


def test_storyboard_recipes_from_before_transitions_continue(pipe):
    shots = [{"at": 0, "prompt": "a red dot"}, {"at": 1, "prompt": "a blue dot"}]
    v = tasks.run(pipe, "storyboard", shots=shots, seconds=2, frames=9, steps=1)
    assert v.metadata["recipe"]["defaults"]["transition"] == "dissolve"
    old = json.loads(json.dumps(v.metadata["recipe"]))
    del old["defaults"]["transition"]  # a storyboard recipe made before `transition` existed
    again = tasks.rerender(pipe, old)
    assert again.metadata["transition"] == "continue" and not np.array_equal(again.frames, v.frames)
    assert np.array_equal(tasks.rerender(pipe, v.metadata).frames, v.frames)


def test_recipes_pin_the_guidance_floor_and_older_ones_are_guided_to_the_end(pipe, monkeypatch):
    """A recipe keeps the floor it ran with, so a model whose pipeline.json later moves it still
    re-renders the video; a recipe from before the floor existed is guided to the end."""
    monkeypatch.setattr(pipe.config, "guidance_floor", 0.5)
    v = tasks.run(pipe, "t2v", prompt="a red dot", frames=5, steps=4, seed=3)
    assert v.metadata["recipe"]["defaults"]["guidance_floor"] == 0.5
    monkeypatch.setattr(pipe.config, "guidance_floor", 0.0)
    assert np.array_equal(tasks.rerender(pipe, v.metadata).frames, v.frames)
    old = json.loads(json.dumps(v.metadata["recipe"]))
    del old["defaults"]["guidance_floor"]
    monkeypatch.setattr(pipe.config, "guidance_floor", 0.5)
    again = tasks.rerender(pipe, old)
    assert again.metadata["request"]["guidance_floor"] == 0.0
    assert np.array_equal(again.frames, tasks.run(pipe, "t2v", prompt="a red dot", frames=5, steps=4, seed=3,
                                                  guidance_floor=0.0).frames)


def test_cli_tasks(tiny_model_dir, tmp_path, capsys):
    from PIL import Image

    Image.fromarray(image()).save(tmp_path / "a.png")
    w = ["--weights", str(tiny_model_dir), "--quiet"]
    out = tmp_path / "i2v.mp4"
    assert main(["generate", "a ball", *w, "--image", str(tmp_path / "a.png"), "--size", "32x32", "--frames", "5",
                 "--steps", "2", "--out", str(out)]) == 0
    assert read_video(out)[0].shape == (5, 32, 32, 3)
    assert read_metadata(out)["recipe"]["inputs"]["image"]["file"] == str((tmp_path / "a.png").resolve())
    again = tmp_path / "again.mp4"  # the recipe re-reads the image from the file it names
    assert main(["generate", *w, "--task", "remix", "--video", str(out), "--seed", "4", "--out", str(again)]) == 0
    assert read_metadata(again)["recipe"]["task"] == "i2v" and read_video(again)[0].shape == (5, 32, 32, 3)
    Image.fromarray(image(colour=(20, 20, 200))).save(tmp_path / "b.png")
    assert main(["generate", "a ball", *w, "--image", str(tmp_path / "a.png"), "--last-image", str(tmp_path / "b.png"),
                 "--size", "32x32", "--frames", "9", "--steps", "1", "--out", str(tmp_path / "interp.mp4")]) == 0
    assert sorted(read_metadata(tmp_path / "interp.mp4")["recipe"]["inputs"]) == ["first", "last"]
    write_video(tmp_path / "src.mp4", np.zeros((9, 32, 32, 3), np.uint8), 8)
    assert main(["generate", "more", *w, "--extend", str(tmp_path / "src.mp4"), "--seconds", "1", "--frames", "9",
                 "--steps", "1", "--out", str(tmp_path / "ext.mp4")]) == 0
    assert read_video(tmp_path / "ext.mp4")[0].shape[0] == 17
    assert read_metadata(tmp_path / "ext.mp4")["recipe"]["params"]["direction"] == "forward"
    assert main(["generate", "x", *w, "--last-image", str(tmp_path / "b.png"), "--out", str(tmp_path / "bad.mp4")]) == 2
    assert "--last-image needs --image" in capsys.readouterr().err
    assert main(["generate", "x", *w, "--image", str(tmp_path / "a.png"), "--task", "loop", "--out", str(tmp_path / "bad.mp4")]) == 2
    assert "--image does not combine with --task loop" in capsys.readouterr().err
    assert main(["generate", "x", *w, "--image", str(tmp_path / "missing.png")]) == 2
    assert "missing.png" in capsys.readouterr().err


def test_cli_new_tasks(tiny_model_dir, tmp_path, capsys):
    w = ["--weights", str(tiny_model_dir), "--quiet", "--steps", "1"]
    src = tmp_path / "src.mp4"
    write_video(src, np.zeros((9, 32, 32, 3), np.uint8), 8)
    sb = tmp_path / "sb.mp4"
    assert main(["generate", *w, "--at", "0s", "a red dot", "--at", "1s", "a blue dot", "--seconds", "2",
                 "--size", "32x32", "--frames", "9", "--out", str(sb)]) == 0
    assert read_video(sb)[0].shape == (16, 32, 32, 3)
    assert read_metadata(sb)["recipe"]["params"]["shots"][1]["prompt"] == "a blue dot"
    assert read_metadata(sb)["transition"] == "dissolve"
    (tmp_path / "sb.json").write_text(json.dumps({"seconds": 2, "shots": [{"at": 0, "prompt": "a"},
                                                                         {"at": "1s", "prompt": "b", "transition": "cut"}]}))
    assert main(["generate", *w, "--storyboard", str(tmp_path / "sb.json"), "--size", "32x32", "--frames", "9",
                 "--transition", "continue", "--out", str(tmp_path / "sb2.mp4")]) == 0
    meta = read_metadata(tmp_path / "sb2.mp4")
    assert meta["transition"] == "continue" and [s["transition"] for s in meta["segments"]] == [None, "cut"]
    assert main(["generate", *w, "--task", "remix", "--video", str(sb), "--transition", "cut",
                 "--out", str(tmp_path / "sb3.mp4")]) == 0
    assert read_metadata(tmp_path / "sb3.mp4")["segments"][1]["transition"] == "cut"
    assert main(["generate", "a green dot", *w, "--task", "edit", "--video", str(src), "--strength", "0.5",
                 "--out", str(tmp_path / "edit.mp4")]) == 0
    assert main(["generate", "back", *w, "--extend", str(src), "--backward", "--seconds", "1", "--frames", "9",
                 "--out", str(tmp_path / "back.mp4")]) == 0
    assert read_video(tmp_path / "back.mp4")[0].shape[0] == 17
    assert main(["generate", "a red dot", *w, "--task", "remix", "--video", str(tmp_path / "edit.mp4"), "--seed", "5",
                 "--out", str(tmp_path / "remix.mp4")]) == 0
    assert read_metadata(tmp_path / "remix.mp4")["recipe"]["params"]["seed"] == 5
    capsys.readouterr()
    bad = [
        (["x", "--task", "edit", "--video", str(src), "--strength", "2"], "strength 2.0 is out of range: allowed 0.0 to 1.0"),
        (["--at", "2s", "b", "--at", "0s", "a"], "the first shot is at 2s"),
        (["--at", "0s", "a", "--at", "3s", "b", "--seconds", "2"], "shot 2 at 3s is beyond the video's length of 2s"),
        (["x", "--task", "edit", "--video", str(tmp_path / "sb.json")], "sb.json"),
        (["x", "--task", "edit"], "--task edit needs --video FILE"),
        (["x", "--backward"], "--backward needs --task extend --video FILE"),
        (["x", "--task", "recut", "--video", str(src), "--keep", "1-2"], "--keep '1-2' is not START:END"),
        (["x", "--task", "loop", "--video", str(src), "--size", "64x64"], "width 64 does not match the input video's 32x32"),
        (["x", "--task", "remix", "--video", str(src)], "holds no kinetoscope recipe"),
        (["x", "--task", "loop", "--transition", "cut"], "--transition belongs to storyboard, not --task loop"),
    ]
    for args, needle in bad:
        assert main(["generate", *args, *w, "--out", str(tmp_path / "bad.mp4")]) == 2, args
        assert needle in capsys.readouterr().err, args
    assert not (tmp_path / "bad.mp4").exists()


def test_training_samples_every_conditioning_mask():
    cfg = TrainConfig(given_prob=1.0)
    seen = set()
    for i in range(400):
        g = random_given(cfg, 5, np.random.default_rng(i)).tolist()
        assert not all(g)  # something is always left to generate
        n = sum(g)
        first, last = g[0], g[-1]
        prefix = g == [True] * n + [False] * (5 - n)
        suffix = g == [False] * (5 - n) + [True] * n
        seen.add("first" if g == [True, False, False, False, False] else "last" if g == [False] * 4 + [True] else
                 "prefix" if prefix else "suffix" if suffix else "prefix_suffix" if first and last else "other")
    assert {"first", "last", "prefix", "suffix", "prefix_suffix"} <= seen and "other" not in seen
    assert "prefix_suffix" in GIVEN_KINDS
    assert not random_given(TrainConfig(given_prob=0.0), 5, np.random.default_rng(0)).any()  # "none"
    torch.manual_seed(0)
