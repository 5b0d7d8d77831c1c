import pytest
import torch

from kinetoscope.models import PIXELS, ConvUNet, PixelSpace, UNetConfig, load_autoencoder
from kinetoscope.models.words import WordEncoder, unknown_words, words_of


def test_pixel_space_is_the_identity_and_round_trips_through_a_folder(tmp_path):
    x = torch.rand(2, 3, 7, 16, 24) * 2 - 1
    px = load_autoencoder(PIXELS)
    assert torch.equal(px.decode(px.encode(x)), x)
    assert px.latent_shape(7, 16, 24) == (3, 7, 16, 24)
    px.save_pretrained(tmp_path / "vae")
    again = load_autoencoder(tmp_path / "vae")
    assert isinstance(again, PixelSpace) and again.config.space_factor == 1 and again.config.time_factor == 1


def test_word_encoder_is_a_bag_of_fixed_word_vectors():
    enc = WordEncoder()
    (a, ma), (b, mb) = enc(["A red circle, moving LEFT"]), WordEncoder()(["a red circle moving left"])
    assert torch.equal(a, b) and torch.equal(ma, mb)  # the same on every instance (seeded by the word)
    assert ma.sum() == 1 + 5  # start token + five words
    empty, m = enc([""])
    assert m.sum() == 1 and torch.isfinite(empty).all()  # a dropped caption is the start token alone
    left, right = enc(["moving left"])[0][0, 2], enc(["moving right"])[0][0, 2]
    cos = torch.nn.functional.cosine_similarity(left, right, dim=0)
    assert abs(float(cos)) < 0.2  # words differ by a whole vector, not a small offset


def test_unknown_words_are_named_once_in_order():
    assert words_of("a Red-ish circle") == ["a", "red-ish", "circle"]
    assert unknown_words("a crimson orb and a crimson cube", {"a", "and"}) == ["crimson", "orb", "cube"]


@pytest.mark.parametrize("stem,head,patch", [("linear", "concat", (2, 8, 8)), ("conv", "unfold", (2, 4, 4)),
                                             ("linear", "unfold", (1, 4, 4)), ("linear", "refine", (2, 8, 8))])
def test_unet_stems_heads_and_time_fold_keep_the_interface(stem, head, patch):
    torch.manual_seed(0)
    m = ConvUNet(UNetConfig(in_channels=3, channels=(16, 32), blocks=1, heads=2, patch=patch, stem=stem, head=head)).eval()
    with torch.no_grad():
        x = torch.randn(2, 3, 4, 16, 16)
        text, mask = torch.randn(2, 5, 384), torch.ones(2, 5, dtype=torch.bool)
        assert not m(x, torch.rand(2), text, mask).any()  # zero-initialised output: training starts from 0
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
        x = torch.randn(2, 3, 4, 16, 16)
        text, mask = torch.randn(2, 5, 384), torch.ones(2, 5, dtype=torch.bool)
        y = m(x, torch.rand(2), text, mask, torch.zeros(2, 4, dtype=torch.bool))
        assert y.shape == x.shape and torch.isfinite(y).all()
        if head in ("concat", "refine"):  # the head sees the noisy input itself, at full resolution
            x2 = x.clone()
            x2[..., 0, 0] += 1
            y2 = m(x2, torch.rand(2) * 0 + 0.5, text, mask)
            y1 = m(x, torch.rand(2) * 0 + 0.5, text, mask)
            assert not torch.allclose(y1, y2)


@pytest.mark.parametrize("frames", [1, 5])
def test_unet_with_a_time_fold_takes_odd_frame_counts(frames):
    m = ConvUNet(UNetConfig(in_channels=3, channels=(16, 32), blocks=1, heads=2, patch=(2, 4, 4))).eval()
    with torch.no_grad():
        y = m(torch.randn(1, 3, frames, 8, 8), torch.rand(1), torch.randn(1, 2, 384), torch.ones(1, 2, dtype=torch.bool))
    assert y.shape == (1, 3, frames, 8, 8) and torch.isfinite(y).all()


def test_unet_names_the_allowed_stems_and_heads():
    with pytest.raises(ValueError, match="conv\\|linear"):
        ConvUNet(UNetConfig(stem="big"))
    with pytest.raises(ValueError, match="unfold\\|concat\\|refine"):
        ConvUNet(UNetConfig(head="deep"))


def test_whitening_gives_the_captions_unit_covariance_where_they_vary():
    from kinetoscope.models.unet import whitening

    torch.manual_seed(0)
    shared = 5 * torch.randn(384)
    word = torch.randn(8, 384) * 0.1  # captions = one big shared vector + a small per-word offset
    pooled = shared + word[torch.randint(0, 8, (512,))] + 0.001 * torch.randn(512, 384)
    mean, w = whitening(pooled)
    z = (pooled - mean) @ w
    assert z.mean(0).abs().max() < 1e-3
    top = torch.linalg.eigvalsh(torch.cov(z.T)).flip(0)[:7]
    assert torch.allclose(top, torch.ones(7), atol=0.05)  # the 7 directions the words span: unit variance
    cos = torch.nn.functional.cosine_similarity(z[None, 0], z[1:], dim=1)
    assert cos.min() < 0  # no longer all ~1
    unseen = (mean + 0.1 * torch.randn(384)) @ w - mean @ w  # a new word's offset: directions no caption varied in
    assert unseen.norm() < 0.5 * z.norm(dim=1).mean()


def test_unet_norms_run_in_float32_under_bf16_autocast():
    from kinetoscope.models.unet import GroupNorm32

    norm = GroupNorm32(4, 16, eps=1e-6)
    x = torch.randn(2, 16, 3, 4, 4) * 300 + 1000  # a large mean: bf16 statistics lose it
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = norm(x.bfloat16())
    assert y.dtype == torch.bfloat16
    ref = torch.nn.functional.group_norm(x.bfloat16().float(), 4, norm.weight, norm.bias, 1e-6)
    assert torch.allclose(y.float(), ref, atol=0.05)
    assert torch.equal(norm(x), torch.nn.functional.group_norm(x, 4, norm.weight, norm.bias, 1e-6))
