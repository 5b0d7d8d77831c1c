import pytest
import torch

from kinetoscope.diffusion import add_noise, denoise, flow_loss, logit_normal, shift_t, timesteps, token_shift, velocity
from kinetoscope.models import DiT, TransformerConfig
from kinetoscope.pipeline import next_to_new


def test_velocity_from_x0_prediction_is_exact():
    x0, eps = torch.randn(2, 4, 3, 4, 4), torch.randn(2, 4, 3, 4, 4)
    t = torch.tensor([0.3, 0.8])
    x_t = add_noise(x0, eps, t)
    assert torch.allclose(velocity(x0, x_t, t, "x0"), eps - x0, atol=1e-5)


def test_timesteps_and_shift():
    t = logit_normal(10000, generator=torch.Generator().manual_seed(0))
    assert 0 < t.min() and t.max() < 1 and abs(t.median() - 0.5) < 0.02
    assert token_shift(4096) > token_shift(256) > token_shift(64)
    s = timesteps(10, shift=3.0)
    assert s[0] == 1 and s[-1] == 0 and torch.all(s[1:] < s[:-1])
    assert shift_t(torch.tensor(0.5), 3.0) > 0.5


@pytest.mark.slow
def test_tiny_model_overfits_one_clip():
    """Rectified flow works end to end: the loss on one clip drops by at least 10x."""
    torch.manual_seed(0)
    model = DiT(TransformerConfig(in_channels=4, width=64, depth=2, heads=2))
    x0 = torch.randn(1, 4, 2, 4, 4).repeat(8, 1, 1, 1, 1)
    text, mask = torch.randn(1, 3, 384).repeat(8, 1, 1), torch.ones(8, 3, dtype=torch.bool)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    probe_t = torch.linspace(0.1, 0.9, 8)
    g = torch.Generator().manual_seed(1)

    def probe():
        with torch.no_grad():
            return flow_loss(model, x0, text, mask, t=probe_t, generator=torch.Generator().manual_seed(2)).item()

    start = probe()
    for _ in range(400):
        loss = flow_loss(model, x0, text, mask, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    end = probe()
    assert end < start / 10, (start, end)
    # and sampling from noise lands on the clip
    out = denoise(model, torch.randn(1, 4, 2, 4, 4, generator=g), (text[:1], mask[:1]), steps=20, guidance=1.0)
    assert (out - x0[:1]).pow(2).mean() < 0.1 * x0.pow(2).mean()


def test_given_frames_are_held_fixed():
    torch.manual_seed(0)
    model = DiT(TransformerConfig(in_channels=4, width=32, depth=1, heads=2))
    clean = torch.randn(1, 4, 3, 4, 4)
    given = torch.tensor([[True, False, False]])
    text = (torch.randn(1, 3, 384), torch.ones(1, 3, dtype=torch.bool))
    out = denoise(model, torch.randn(1, 4, 3, 4, 4), text, text, steps=3, given_latents=clean, given=given)
    assert torch.equal(out[:, :, 0], clean[:, :, 0])
    assert not torch.equal(out[:, :, 1], clean[:, :, 1])


def test_released_given_frames_are_denoised_with_the_rest():
    torch.manual_seed(0)
    model = DiT(TransformerConfig(in_channels=4, width=32, depth=1, heads=2))
    with torch.no_grad():  # not zero-initialised: new frames must depend on their neighbours
        for p in model.parameters():
            p.normal_(0, 0.2)
    clean = torch.randn(1, 4, 4, 4, 4)
    given = torch.tensor([[True, True, False, False]])
    release = next_to_new(given)
    assert release.tolist() == [[False, True, False, False]]
    assert next_to_new(torch.tensor([[True, True, False, True]])).tolist() == [[False, True, False, True]]
    text = (torch.randn(1, 3, 384), torch.ones(1, 3, dtype=torch.bool))
    noise = torch.randn(1, 4, 4, 4, 4)

    def run(at):
        return denoise(model, noise, text, text, steps=4, given_latents=clean, given=given, release=release, release_at=at)
    held, freed = run(0.0), run(0.6)
    assert torch.equal(held[:, :, :2], clean[:, :, :2])  # release_at 0: held to the end
    assert torch.equal(freed[:, :, 0], clean[:, :, 0])  # not next to a new frame: held
    assert not torch.equal(freed[:, :, 1], clean[:, :, 1])  # released below t = 0.6, then denoised
    assert not torch.equal(freed[:, :, 2:], held[:, :, 2:])  # and the new frames saw it move

    class Still(torch.nn.Module):  # predicts x itself as the clean sample: nothing moves
        config = TransformerConfig(in_channels=4, prediction="x0")

        def forward(self, x, *args):
            return x

    pure = torch.randn(1, 4, 4, 4, 4)  # SDEdit: `noise` is the partly noised input, not noise
    out = denoise(Still(), noise, text, steps=4, given_latents=clean, given=given, release=release, release_at=0.6,
                  release_noise=pure, t_start=0.8)
    t = 0.5  # the first step below 0.6 with 4 steps: its released frame is noised with `release_noise`
    assert torch.allclose(out[:, :, 1], (1 - t) * clean[:, :, 1] + t * pure[:, :, 1], atol=1e-5)


def test_heun_and_euler_both_run_and_reject_unknown():
    model = DiT(TransformerConfig(in_channels=4, width=32, depth=1, heads=2))
    text = (torch.randn(1, 3, 384), torch.ones(1, 3, dtype=torch.bool))
    for s in ("euler", "heun"):
        assert denoise(model, torch.randn(1, 4, 1, 4, 4), text, steps=2, sampler=s).shape == (1, 4, 1, 4, 4)
    with pytest.raises(ValueError, match="sampler"):
        denoise(model, torch.randn(1, 4, 1, 4, 4), text, steps=2, sampler="ddim")


def test_step_cache_skips_calls_and_zero_changes_nothing():
    import torch

    from kinetoscope.diffusion import denoise

    class Linear(torch.nn.Module):  # a smooth toy denoiser: x0 estimate = 0.5 x
        config = type("C", (), {"prediction": "x0"})()

        def forward(self, x, t, text, mask, given):
            self.calls = getattr(self, "calls", 0) + 1
            return 0.5 * x

    g = torch.Generator().manual_seed(0)
    noise = torch.randn(1, 4, 2, 4, 4, generator=g)
    cond = (torch.zeros(1, 3, 8), torch.ones(1, 3, dtype=torch.bool))
    outs = {}
    for th in (0.0, 0.2):
        m, stats = Linear(), {}
        outs[th] = denoise(m, noise, cond, None, steps=20, guidance=1.0, cache=th, stats=stats)
        assert stats["model_calls"] == m.calls
    ref = denoise(Linear(), noise, cond, None, steps=20, guidance=1.0)
    assert torch.equal(outs[0.0], ref)
    stats = {}
    denoise(Linear(), noise, cond, None, steps=20, guidance=1.0, cache=0.2, stats=stats)
    assert 2 <= stats["model_calls"] < 20
    assert (outs[0.2] - ref).abs().mean() < 0.25 * ref.abs().mean()  # close to the uncached result


def test_weight_cap_weighs_the_clean_sample_error_by_min_inverse_t_squared():
    from types import SimpleNamespace

    from kinetoscope.diffusion.flow import flow_loss

    x0, noise = torch.randn(2, 3, 2, 4, 4), torch.randn(2, 3, 2, 4, 4)
    guess = torch.randn_like(x0)

    class Fixed(torch.nn.Module):  # predicts the same clean sample whatever it is given
        config = SimpleNamespace(prediction="x0")

        def forward(self, x, t, text, mask, given=None):
            return guess

    text, mask = torch.zeros(2, 1, 4), torch.ones(2, 1, dtype=torch.bool)
    t = torch.tensor([0.1, 0.8])
    x0_err = ((guess - x0) ** 2).mean(dim=(1, 2, 3, 4))
    plain = flow_loss(Fixed(), x0, text, mask, t=t, noise=noise)
    capped = flow_loss(Fixed(), x0, text, mask, t=t, noise=noise, weight_cap=4.0)
    assert torch.allclose(plain, (x0_err / t**2).mean(), rtol=1e-4)
    assert torch.allclose(capped, (x0_err * torch.tensor([4.0, 1 / 0.64])).mean(), rtol=1e-4)


def test_guidance_floor_guides_only_above_it():
    """Below the floor the conditional prediction is used alone (one batch of one); above it, the
    usual guided pair; a floor of 0 changes nothing, and the floor's steps match guidance 1's."""
    class TextShift(torch.nn.Module):  # x0 estimate: 0.5 x plus the caption's first value
        config = type("C", (), {"prediction": "x0"})()

        def forward(self, x, t, text, mask, given):
            self.batches = [*getattr(self, "batches", []), (x.shape[0], float(t[0]))]
            return 0.5 * x + text[:, :1, :1, None, None]

    noise = torch.randn(1, 4, 2, 4, 4, generator=torch.Generator().manual_seed(0))
    cond = (torch.ones(1, 3, 8), torch.ones(1, 3, dtype=torch.bool))
    uncond = (torch.zeros(1, 3, 8), torch.ones(1, 3, dtype=torch.bool))
    m = TextShift()
    floored = denoise(m, noise, cond, uncond, steps=10, guidance=3.0, guidance_floor=0.45)
    assert [b for b, t in m.batches if t >= 0.45] == [2] * 6 and [b for b, t in m.batches if t < 0.45] == [1] * 4
    assert torch.equal(denoise(TextShift(), noise, cond, uncond, steps=10, guidance=3.0, guidance_floor=0.0),
                       denoise(TextShift(), noise, cond, uncond, steps=10, guidance=3.0))
    unguided = denoise(TextShift(), noise, cond, uncond, steps=10, guidance=1.0)
    guided = denoise(TextShift(), noise, cond, uncond, steps=10, guidance=3.0)
    assert (floored - unguided).abs().mean() > 0 and (floored - guided).abs().mean() > 0  # between the two
    m = TextShift()
    denoise(m, noise, cond, uncond, steps=4, guidance=3.0, guidance_floor=0.45, sampler="heun")
    # t = 1, .75, .5, .25: each step calls at t and (but the last) at t_next, each guided by its own t
    assert [(b, t) for b, t in m.batches] == [(2, 1.0), (2, 0.75), (2, 0.75), (2, 0.5), (2, 0.5), (1, 0.25), (1, 0.25)]
