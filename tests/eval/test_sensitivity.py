"""The caption-sensitivity probe: ratios of clean-sample error, changed caption over true."""
import torch

from kinetoscope.data.scene import DIRECTIONS, OPPOSITE
from kinetoscope.eval.sensitivity import caption_sensitivity, sensitivity_line
from tests.conftest import tiny_pipeline


def test_opposites_reverse_every_direction():
    assert OPPOSITE["left"] == "right" and OPPOSITE["up-left"] == "down-right"
    assert all(DIRECTIONS[OPPOSITE[d]] == tuple(-v for v in DIRECTIONS[d]) for d in DIRECTIONS)


class _Prompts:
    def __init__(self, enc):
        self.enc, self.seen = enc, []

    def __call__(self, prompts):
        self.seen += prompts
        return self.enc(prompts)


def test_a_denoiser_that_ignores_the_text_scores_one_and_a_reader_does_not(text_encoder):
    pipe = tiny_pipeline()
    pipe._text = spy = _Prompts(text_encoder)
    s = caption_sensitivity(pipe, n=4, levels=(0.5, 0.9), frames=5, height=32, width=32, batch=2)
    assert s["clips"] == 4 and s["levels"] == [0.5, 0.9]
    assert all(len(s[k]) == 2 and all(r > 0 for r in s[k]) for k in ("opposite_direction", "other_colour", "no_caption"))
    true = [p for p in spy.seen if p][:4]
    flipped = spy.seen[4:8]
    assert all(a != b for a, b in zip(true, flipped)) and any("moving" in p for p in true)
    # the same denoiser made blind to the text: every ratio exactly 1
    forward = pipe.denoiser.forward
    pipe.denoiser.forward = lambda x, t, text, mask, given=None: forward(x, t, torch.zeros_like(text), mask, given)
    blind = caption_sensitivity(pipe, n=4, levels=(0.5, 0.9), frames=5, height=32, width=32, batch=2)
    assert blind["opposite_direction"] == [1.0, 1.0] and blind["other_colour"] == [1.0, 1.0]
    assert "opposite direction 1.000 1.000" in sensitivity_line(blind)


def test_the_probe_draws_from_the_model_s_own_world():
    from kinetoscope.eval.sensitivity import _scenes

    world = {"colours": ["red", "green"], "shapes": ["square"], "motions": ["left", "bounce", "up"],
             "sizes": ["medium", "large"], "background_colours": ["black"]}
    cfg, scenes = _scenes(12, 5, 32, 32, world=world)
    assert {s.background.colour for s in scenes} == {"black"}
    assert {o.shape for s in scenes for o in s.objects} == {"square"}
    assert {o.motion for s in scenes for o in s.objects} <= {"left", "up"}  # straight motions only
    assert {o.colour for s in scenes for o in s.objects} <= {"red", "green"} and set(cfg.colours) == {"red", "green"}
    _, anywhere = _scenes(12, 5, 32, 32)  # no world recorded: the whole world's backgrounds
    assert len({s.background.colour for s in anywhere}) > 1
