import pytest
import torch

from kinetoscope.models import ConvUNet, UNetConfig, load_denoiser

TINY = UNetConfig(in_channels=4, channels=(16, 32), blocks=1, heads=2)


@pytest.fixture(scope="module")
def unet():
    torch.manual_seed(0)
    m = ConvUNet(TINY).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return m


@pytest.mark.parametrize("grid", [(1, 4, 4), (5, 8, 8), (3, 6, 10)])
def test_same_interface_as_the_dit(unet, grid):
    x = torch.randn(2, 4, *grid)
    text, mask = torch.randn(2, 5, 384), torch.ones(2, 5, dtype=torch.bool)
    with torch.no_grad():
        y = unet(x, torch.rand(2), text, mask, torch.zeros(2, grid[0], dtype=torch.bool))
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_text_given_and_padding(unet):
    x = torch.randn(1, 4, 3, 4, 4)
    text, mask = torch.randn(1, 5, 384), torch.ones(1, 5, dtype=torch.bool)
    t = torch.tensor([0.5])
    with torch.no_grad():
        base = unet(x, t, text, mask)
        assert not torch.allclose(base, unet(x, t, torch.randn_like(text), mask))
        assert not torch.allclose(base, unet(x, t, text, mask, torch.tensor([[True, False, False]])))
        padded = unet(x, t, torch.cat([text, 9 * torch.randn(1, 2, 384)], 1), torch.cat([mask, torch.zeros(1, 2, dtype=torch.bool)], 1))
    assert torch.allclose(base, padded, atol=1e-5)


def test_save_and_load_by_class_name(unet, tmp_path):
    unet.save_pretrained(tmp_path)
    again = load_denoiser(tmp_path)
    assert isinstance(again, ConvUNet)
    x, text, mask = torch.randn(1, 4, 2, 4, 4), torch.randn(1, 3, 384), torch.ones(1, 3, dtype=torch.bool)
    with torch.no_grad():
        assert torch.equal(unet(x, torch.tensor([0.2]), text, mask), again(x, torch.tensor([0.2]), text, mask))


def test_space_to_depth_fold_keeps_the_interface_and_refuses_odd_grids():
    torch.manual_seed(0)
    m = ConvUNet(UNetConfig(in_channels=4, channels=(16, 32), blocks=1, heads=2, patch=(1, 4, 4))).eval()
    x, text, mask = torch.randn(2, 4, 3, 8, 12), torch.randn(2, 5, 384), torch.ones(2, 5, dtype=torch.bool)
    with torch.no_grad():
        assert torch.equal(m(x, torch.rand(2), text, mask), torch.zeros_like(x))  # zero-initialised head
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
        y = m(x, torch.rand(2), text, mask)
    assert y.shape == x.shape and torch.isfinite(y).all()
    with pytest.raises(ValueError, match="multiple of 4"):
        m(torch.randn(1, 4, 3, 6, 8), torch.rand(1), text[:1], mask[:1])
    with pytest.raises(ValueError, match=r"\(1, 2s, 2s\)"):
        ConvUNet(UNetConfig(patch=(1, 3, 3)))


def test_fold_and_unfold_are_inverse():
    from kinetoscope.models.unet import _fold, _unfold

    x = torch.randn(2, 3, 4, 6, 8)
    assert _fold(x, 2).shape == (2, 12, 4, 3, 4)
    assert torch.equal(_unfold(_fold(x, 2), 2), x)


def test_fine_cross_attention_grows_a_trained_model_without_changing_it(unet, tmp_path):
    unet.save_pretrained(tmp_path)
    grown = ConvUNet.from_pretrained(tmp_path, grow={"fine_cross": True})
    assert len(grown.fine_cross) == 2 * TINY.blocks
    x, text, mask = torch.randn(1, 4, 3, 4, 4), torch.randn(1, 5, 384), torch.ones(1, 5, dtype=torch.bool)
    t = torch.tensor([0.7])
    with torch.no_grad():
        assert torch.equal(unet(x, t, text, mask), grown(x, t, text, mask))  # new blocks start at zero output
        for p in grown.fine_cross.parameters():
            p.add_(0.05 * torch.randn_like(p))
        moved = grown(x, t, text, mask)
        assert not torch.allclose(moved, unet(x, t, text, mask))
        assert not torch.allclose(moved, grown(x, t, torch.randn_like(text), mask))  # the fine level reads the text
    grown.save_pretrained(tmp_path / "grown")
    with pytest.raises(ValueError, match="does not fit"):  # a grown folder cannot shrink back into other shapes
        ConvUNet.from_pretrained(tmp_path / "grown", grow={"channels": (8, 32)})


def test_a_folder_must_match_its_config_without_grow(unet, tmp_path):
    unet.save_pretrained(tmp_path)
    cfg = tmp_path / "config.json"
    cfg.write_text(cfg.read_text().replace('"fine_cross": false', '"fine_cross": true'))
    with pytest.raises(ValueError, match="does not match its config"):
        ConvUNet.from_pretrained(tmp_path)


def test_frame_positions_grow_a_trained_model_and_tell_its_frames_apart(unet, tmp_path):
    unet.save_pretrained(tmp_path)
    grown = ConvUNet.from_pretrained(tmp_path, grow={"frame_pos": True})
    same = torch.zeros(1, 4, 5, 4, 4)  # every frame alike, as pure noise is on average
    text, mask, t = torch.randn(1, 5, 384), torch.ones(1, 5, dtype=torch.bool), torch.tensor([0.99])
    with torch.no_grad():
        assert torch.equal(unet(same, t, text, mask), grown(same, t, text, mask))  # starts as the model it grew from
        grown.frame_pos.weight.normal_(0, 1.0)
        added = grown(same, t, text, mask) - unet(same, t, text, mask)
    # what the embedding adds differs from frame to frame: each frame's index reaches the output
    assert all(not torch.allclose(added[0, :, k], added[0, :, k + 1], atol=1e-4) for k in range(4))


def test_space_positions_grow_a_trained_model_and_tell_left_from_right(unet, tmp_path):
    unet.save_pretrained(tmp_path)
    grown = ConvUNet.from_pretrained(tmp_path, grow={"space_pos": True})
    same = torch.zeros(1, 4, 3, 8, 8)
    text, mask, t = torch.randn(1, 5, 384), torch.ones(1, 5, dtype=torch.bool), torch.tensor([0.99])
    with torch.no_grad():
        assert torch.equal(unet(same, t, text, mask), grown(same, t, text, mask))
        grown.space_pos.weight.normal_(0, 1.0)
        added = grown(same, t, text, mask) - unet(same, t, text, mask)
        other = grown(torch.zeros(1, 4, 3, 8, 16), t, text, mask)  # another aspect ratio runs as well
    assert not torch.allclose(added[..., :4], added[..., 4:].flip(-1), atol=1e-4)  # not mirror-symmetric
    assert other.shape == (1, 4, 3, 8, 16)


def _grown(unet, tmp_path, option, added):
    """The fixture's model grown by a zero-initialised `option`, with exactly the `added` parameters."""
    unet.save_pretrained(tmp_path)
    grown = ConvUNet.from_pretrained(tmp_path, grow={option: True}).eval()
    assert sorted(set(grown.state_dict()) - set(unet.state_dict())) == added
    return grown


def test_head_film_grows_a_trained_model_and_then_modulates_its_head(unet, tmp_path):
    grown = _grown(unet, tmp_path, "head_film", ["out_cond.bias", "out_cond.weight"])
    x, t = torch.randn(2, 4, 3, 8, 8), torch.tensor([0.9, 0.3])
    text, mask = torch.randn(2, 5, 384), torch.ones(2, 5, dtype=torch.bool)
    with torch.no_grad():
        assert torch.equal(unet(x, t, text, mask), grown(x, t, text, mask))  # starts as the model it grew from
        grown.out_cond.weight.normal_(0, 1.0)
        moved = grown(x, t, text, mask) - unet(x, t, text, mask)
    assert moved.abs().mean() > 1e-3  # the timestep and caption now reach the head's features directly


def test_input_mean_grows_a_trained_model_and_then_reads_the_clip_mean(unet, tmp_path):
    grown = _grown(unet, tmp_path, "input_mean", ["mean_proj.bias", "mean_proj.weight"])
    x, t = torch.randn(2, 4, 3, 8, 8), torch.tensor([0.9, 0.3])
    text, mask = torch.randn(2, 5, 384), torch.ones(2, 5, dtype=torch.bool)
    shifted = x + torch.tensor([0.5, -0.5, 0.0, 0.0])[None, :, None, None, None]  # another background colour
    with torch.no_grad():
        assert torch.equal(unet(x, t, text, mask), grown(x, t, text, mask))
        grown.mean_proj.weight.normal_(0, 1.0)
        moved = (grown(shifted, t, text, mask) - grown(x, t, text, mask)) - (unet(shifted, t, text, mask) - unet(x, t, text, mask))
    assert moved.abs().mean() > 1e-3  # the clip's mean colour now reaches every block's scale/shift


@pytest.mark.parametrize("t", [0.02, 0.3, 0.5, 0.8, 0.98])
def test_precond_scales_give_the_network_a_unit_variance_input_and_target(t):
    from kinetoscope.models.unet import precond_scales

    torch.manual_seed(0)
    sigma = 0.7
    x0, eps = sigma * torch.randn(20000), torch.randn(20000)
    x_t = (1 - t) * x0 + t * eps
    c_skip, c_out, c_in = (c.flatten() for c in precond_scales(torch.tensor([t]), sigma, 1))
    target = (x0 - c_skip * x_t) / c_out  # what the network must output for c_skip x_t + c_out F to be x0
    assert abs((c_in * x_t).std().item() - 1) < 0.03
    assert abs(target.std().item() - 1) < 0.03


def test_precond_starts_as_the_best_linear_estimate_and_refuses_velocity():
    torch.manual_seed(0)
    m = ConvUNet(UNetConfig(in_channels=3, channels=(16, 32), blocks=1, heads=2, patch=(2, 4, 4), stem="linear",
                            head="concat", precond=True, sigma_data=0.7)).eval()
    x, t = torch.randn(2, 3, 4, 8, 8), torch.tensor([0.1, 0.9])
    text, mask = torch.randn(2, 5, 384), torch.ones(2, 5, dtype=torch.bool)
    with torch.no_grad():
        y = m(x, t, text, mask)
        a = 1 - t
        expected = (a * 0.49 / (a * a * 0.49 + t * t)).view(2, 1, 1, 1, 1) * x  # zero-initialised head: F = 0
        assert torch.allclose(y, expected, atol=1e-6)
        m.conv_out.bias.fill_(0.1)  # the network's output now adds c_out(t) * F: more at high noise
        added = (m(x, t, text, mask) - y).abs().mean(dim=(1, 2, 3, 4))
    assert added[1] > 3 * added[0]
    with pytest.raises(ValueError, match="precond/center needs prediction x0"):
        ConvUNet(UNetConfig(prediction="velocity", precond=True))


def test_clip_mean_estimates_the_clean_mean_from_noisy_and_given_frames():
    from kinetoscope.models.unet import clip_mean

    torch.manual_seed(0)
    x0 = torch.tensor([0.6, -0.2, -1.0])[None, :, None, None, None].expand(2, 3, 16, 32, 32)
    t = torch.tensor([0.2, 0.8])
    x_t = (1 - t.view(2, 1, 1, 1, 1)) * x0 + t.view(2, 1, 1, 1, 1) * torch.randn(2, 3, 16, 32, 32)
    mu, a = clip_mean(x_t, t)
    assert torch.allclose(mu.flatten(1), x0[:, :, 0, 0, 0], atol=0.05)
    assert torch.allclose(a.flatten(1), (1 - t)[:, None].expand(2, 16))
    given = torch.zeros(2, 16, dtype=torch.bool)
    given[:, 0] = True  # a clean first frame counts at full weight
    mu_g, a_g = clip_mean(torch.where(given[:, None, :, None, None], x0, x_t), t, given)
    assert (a_g[:, 0, 0] == 1).all() and torch.allclose(mu_g.flatten(1), x0[:, :, 0, 0, 0], atol=0.05)


def test_center_moves_the_output_with_the_clip_colour_and_leaves_the_network_input_alone():
    torch.manual_seed(0)
    m = ConvUNet(UNetConfig(in_channels=3, channels=(16, 32), blocks=1, heads=2, patch=(2, 4, 4), stem="linear",
                            head="concat", center=True)).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
    t = torch.tensor([0.3, 0.3])
    x = torch.randn(1, 3, 4, 8, 8).expand(2, -1, -1, -1, -1) * 0.3
    shift = torch.tensor([[0.0, 0.0, 0.0], [0.8, -0.5, 0.2]])[:, :, None, None, None]  # another background colour
    text, mask = torch.randn(1, 5, 384).expand(2, -1, -1), torch.ones(2, 5, dtype=torch.bool)
    with torch.no_grad():
        y = m(x + 0.7 * shift, t, text, mask)  # the same noisy clip, its clean colour moved by `shift`
        plain = ConvUNet(m.config.__class__(**{**m.config.__dict__, "center": False})).eval()
        plain.load_state_dict(m.state_dict())
        y_plain = plain(x + 0.7 * shift, t, text, mask)
    assert torch.allclose(y[1] - y[0], shift[1].expand_as(y[0]), atol=0.02)  # the output follows the colour
    assert not torch.allclose(y_plain[1] - y_plain[0], shift[1].expand_as(y[0]), atol=0.1)  # without center it does not
