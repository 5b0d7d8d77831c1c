"""The procedural world: determinism, captions, held-out split, geometry, dataset."""

import json
import re

import numpy as np
import pytest

from kinetoscope.data import captions
from kinetoscope.data.dataset import WorldDataset
from kinetoscope.data.world import HELD_OUT, WorldConfig, make_clip, render, sample_scene, scene_from_spec
from kinetoscope.data.scene import HELD_OUT_SET


def _words_for(obj, words):
    if obj.shape.isdigit():
        return [obj.shape, captions.DIGIT_WORDS[int(obj.shape)]]
    return list(words[obj.shape])


def test_same_seed_same_clip_and_different_seeds_differ():
    cfg = WorldConfig.full()
    a, b, c = make_clip(5, cfg), make_clip(5, cfg), make_clip(6, cfg)
    assert np.array_equal(a.frames, b.frames)
    assert a.caption == b.caption
    assert a.scene.to_dict() == b.scene.to_dict()
    assert not np.array_equal(a.frames, c.frames)


def test_clip_shape_dtype_and_json_scene_graph():
    cfg = WorldConfig.full()
    clip = make_clip(1, cfg)
    assert clip.frames.shape == (17, 64, 64, 3) and clip.frames.dtype == np.uint8
    d = json.loads(json.dumps(clip.scene.to_dict()))
    for o in d["objects"]:
        assert len(o["track"]) == len(o["scales"]) == len(o["angles"]) == 17
    assert d["background"]["colour"] not in {o["colour"] for o in d["objects"]}


@pytest.mark.parametrize("phrasing,words", [("random", captions.SHAPE_WORDS),
                                            ("canonical", captions.SHAPE_WORDS),
                                            ("paraphrase", captions.PARA_SHAPE_WORDS)])
def test_caption_names_each_objects_colour_and_shape(phrasing, words):
    cfg = WorldConfig.full()
    for seed in range(150):
        clip = make_clip(seed, cfg, phrasing=phrasing)
        text = clip.caption
        for o in clip.scene.objects:
            colours = captions.COLOUR_WORDS.get(o.colour, (o.colour,))
            assert any(c in text for c in colours), (text, o.colour)
            assert any(w.format(d=o.shape).split()[-1] in text
                       for w in _words_for(o, words)), (text, o.shape)


def test_canonical_caption_is_one_fixed_phrasing():
    spec = {"objects": [{"shape": "circle", "colour": "red", "size": "small",
                         "motion": "right", "speed": "slow"}],
            "background": {"kind": "plain", "colour": "blue"}}
    scene = scene_from_spec(spec, WorldConfig())
    assert captions.canonical_caption(scene) == \
        "a small red circle moving right slowly on a blue background"


def test_paraphrase_words_never_appear_in_training_captions():
    cfg = WorldConfig.full()
    held = {w.format(d="").strip() for ws in captions.PARA_SHAPE_WORDS.values() for w in ws}
    held |= {"a video of", "footage showing", "watch", "a clip in which", "the shot"}
    pattern = re.compile(r"\b(" + "|".join(re.escape(h) for h in held) + r")\b")
    for seed in range(300):
        text = make_clip(seed, cfg).caption
        assert not pattern.search(text), text


def test_train_split_never_shows_a_held_out_triple():
    cfg = WorldConfig.full(motions=tuple(sorted({t[2] for t in HELD_OUT})))
    for seed in range(2000):
        scene = sample_scene(np.random.default_rng(seed), cfg)
        assert not any(o.triple in HELD_OUT_SET for o in scene.objects)


def test_heldout_split_shows_one_held_out_object():
    cfg = WorldConfig.full()
    for seed in range(100):
        scene = sample_scene(np.random.default_rng(seed), cfg, split="heldout")
        assert scene.objects[0].triple in HELD_OUT_SET
        if scene.layout == "mixed":
            assert not any(o.triple in HELD_OUT_SET for o in scene.objects[1:])


def test_single_frame_is_an_image():
    clip = make_clip(3, WorldConfig(frames=1))
    assert clip.frames.shape == (1, 64, 64, 3)
    assert len(clip.scene.objects[0].track) == 1


def test_non_square_frames_keep_objects_inside():
    cfg = WorldConfig.full(height=64, width=96, camera_prob=0.0)
    for seed in range(50):
        clip = make_clip(seed, cfg)
        assert clip.frames.shape == (17, 64, 96, 3)
        for o in clip.scene.objects:
            xs, ys = np.array(o.track).T
            assert (xs > 0).all() and (xs < 96).all() and (ys > 0).all() and (ys < 64).all()


def test_render_draws_the_scene_graph_colours():
    spec = {"objects": [{"shape": "square", "colour": "yellow", "size": "large"}],
            "background": {"colour": "black"}}
    cfg = WorldConfig()
    scene = scene_from_spec(spec, cfg)
    frames = render(scene, cfg)
    x, y = scene.objects[0].track[0]
    assert tuple(frames[0, int(y), int(x)]) == (250, 220, 20)
    assert tuple(frames[0, 0, 0]) == (15, 15, 15)


def test_bad_spec_and_config_name_the_bad_value():
    with pytest.raises(ValueError, match="hexagon"):
        scene_from_spec({"objects": [{"shape": "hexagon"}]}, WorldConfig())
    with pytest.raises(ValueError, match="max_objects"):
        WorldConfig(max_objects=4)


def test_dataset_shapes_determinism_and_resume():
    cfg = WorldConfig(frames=5, height=32, width=48)
    first = [x for _, x in zip(range(4), WorldDataset(cfg, seed=1))]
    again = [x for _, x in zip(range(4), WorldDataset(cfg, seed=1))]
    other = next(iter(WorldDataset(cfg, seed=2)))
    resumed = next(iter(WorldDataset(cfg, seed=1, start_index=2)))
    item = first[0]
    assert item["video"].shape == (3, 5, 32, 48) and item["video"].dtype.is_floating_point
    assert item["video"].min() >= -1 and item["video"].max() <= 1
    assert isinstance(item["caption"], str)
    for a, b in zip(first, again):
        assert (a["video"] == b["video"]).all() and a["caption"] == b["caption"]
    assert not (other["video"] == item["video"]).all()
    assert (resumed["video"] == first[2]["video"]).all()


def test_dataset_order_does_not_depend_on_workers():
    import torch
    cfg = WorldConfig(frames=3, height=16, width=16)
    seen = []
    for workers in (0, 2):
        ds = WorldDataset(cfg, seed=4, batch_size=2)
        loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=workers)
        seen.append([c for _, b in zip(range(3), loader) for c in b["caption"]])
    assert seen[0] == seen[1]
    assert len(set(seen[0])) > 1
