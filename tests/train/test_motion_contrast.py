"""motion_contrast: counterfactual captions that differ only in the motion, and the hinge on them."""
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from kinetoscope.data import captions
from kinetoscope.data.scene import OPPOSITE
from kinetoscope.data.world import WorldConfig, sample_scene
from kinetoscope.diffusion import motion_contrast_loss
from kinetoscope.train.config import load_config
from kinetoscope.train.data import motion_counterfactual
from kinetoscope.train.loop import Trainer
from tests.train.test_train import denoiser_cfg, vae_dir  # noqa: F401  (fixture)


def _scenes(n, **kw):
    rng = np.random.default_rng(0)
    return [sample_scene(rng, WorldConfig(**kw)) for _ in range(n)]


def test_the_counterfactual_changes_the_motion_words_and_nothing_else():
    changed = 0
    for i, scene in enumerate(_scenes(200, max_objects=2)):
        cf = motion_counterfactual(scene, np.random.default_rng(i))
        if scene.objects[0].motion == "still":
            assert cf is None
            continue
        first = cf.objects[0]
        assert first.motion not in (scene.objects[0].motion, "still")
        if scene.objects[0].motion in OPPOSITE:  # straight lines: the opposite direction
            assert first.motion == OPPOSITE[scene.objects[0].motion]
        assert (first.shape, first.colour, first.size) == (scene.objects[0].shape, scene.objects[0].colour, scene.objects[0].size)
        if scene.layout == "group":
            assert {o.motion for o in cf.objects} == {first.motion}
        else:
            assert [o.motion for o in cf.objects[1:]] == [o.motion for o in scene.objects[1:]]
        a = captions.canonical_caption(scene)
        b = captions.canonical_caption(cf)
        assert a != b and a.split(" on ")[-1] == b.split(" on ")[-1]  # same background words
        changed += 1
    assert changed > 150


def test_the_same_seed_gives_the_same_phrasing():
    scene = next(s for s in _scenes(20) if s.objects[0].motion == "left")
    cf = motion_counterfactual(scene, np.random.default_rng(1))
    cf.objects[0].motion = "right"
    a = captions.random_caption(scene, np.random.default_rng(7))
    b = captions.random_caption(cf, np.random.default_rng(7))
    assert a.replace("left", "right") == b or ("left" in a) != ("left" in b)


class _ReadsText(nn.Module):
    """Returns x0 for the text it was told is true, zeros for any other."""
    config = SimpleNamespace(prediction="x0")

    def __init__(self, x0, true_text):
        super().__init__()
        self.x0, self.true_text, self.scale = x0, true_text, nn.Parameter(torch.ones(()))

    def forward(self, x_t, t, text, mask, given=None):
        same = (text == self.true_text).all(dim=(1, 2)).view(-1, 1, 1, 1, 1)
        return self.scale * torch.where(same, self.x0, torch.zeros_like(self.x0))


def test_the_hinge_is_zero_for_a_model_that_reads_the_motion_and_positive_for_one_that_does_not():
    torch.manual_seed(0)
    x0, noise = torch.randn(3, 4, 5, 8, 8), torch.randn(3, 4, 5, 8, 8)
    t = torch.full((3,), 0.9)
    x_t = (1 - t.view(-1, 1, 1, 1, 1)) * x0 + t.view(-1, 1, 1, 1, 1) * noise
    true_text, cf_text, mask = torch.randn(3, 6, 16), torch.randn(3, 6, 16), torch.ones(3, 6, dtype=torch.bool)
    reads = _ReadsText(x0 + 0.1 * noise, true_text)
    hinge, gap = motion_contrast_loss(reads, x0, x_t, t, reads(x_t, t, true_text, mask), cf_text, mask, margin=0.05)
    assert float(hinge.detach()) == 0 and float(gap) > 1
    # a model that ignores the text: same prediction for both captions, hinge = margin * error, and its gradient
    ignores = _ReadsText(x0 + 0.1 * noise, cf_text)
    pred = ignores(x_t, t, cf_text, mask)
    hinge, gap = motion_contrast_loss(ignores, x0, x_t, t, pred, cf_text, mask, margin=0.05)
    err = float(((pred.detach() - x0) ** 2).mean())
    assert float(gap) == pytest.approx(0) and float(hinge.detach()) == pytest.approx(0.05 * err, rel=1e-4)
    hinge.backward()
    assert ignores.scale.grad is not None and float(ignores.scale.grad) != 0
    # given frames are left out of both errors
    given = torch.tensor([[True, False, False, False, False]] * 3)
    hinge_g, _ = motion_contrast_loss(ignores, x0, x_t, t, pred.detach(), cf_text, mask, given=given, margin=0.05)
    err_g = float(((pred.detach() - x0)[:, :, 1:] ** 2).mean())
    assert float(hinge_g.detach()) == pytest.approx(0.05 * err_g, rel=1e-4)


def test_training_with_motion_contrast_logs_the_gap(tmp_path, vae_dir):  # noqa: F811
    cfg = denoiser_cfg(tmp_path, vae_dir, 6, latent_pool=8, motion_contrast=1.0, motion_contrast_from=0.0,
                       image_prob=0.0, caption_dropout=0.0, log_every=1)
    trainer = Trainer(cfg)
    trainer.train()
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"loss"' in line]
    assert len(rows) == 6 and any("motion_gap" in r for r in rows)


@pytest.mark.parametrize("opt", ["motion_contrast=-1", "motion_contrast_from=1.0", "motion_margin=-0.1"])
def test_motion_contrast_options_name_their_range(opt):
    with pytest.raises(ValueError, match="out of range: need weight >= 0, margin >= 0, 0 <= from < 1"):
        load_config(None, [opt], base={"stage": "denoiser"})
