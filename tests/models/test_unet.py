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
