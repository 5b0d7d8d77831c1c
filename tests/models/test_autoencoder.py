import json
import subprocess
import sys

import pytest
import torch

from kinetoscope.models import AutoencoderConfig, CausalVAE
from tests.conftest import TINY_VAE


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return CausalVAE(TINY_VAE).eval()


@pytest.mark.parametrize("frames", [1, 5, 17, 33])
@pytest.mark.parametrize("size", [(32, 32), (48, 32)])
def test_round_trip_shapes(vae, frames, size):
    w, h = size
    x = torch.rand(1, 3, frames, h, w) * 2 - 1
    with torch.no_grad():
        z = vae.encode(x)
        y = vae.decode(z)
    assert z.shape == (1, 4, 1 + (frames - 1) // 4, h // 8, w // 8)
    assert y.shape == x.shape


def test_frame_count_must_be_1_plus_4k(vae):
    with pytest.raises(ValueError, match="1\\+4k"):
        vae.encode(torch.zeros(1, 3, 6, 16, 16))


def test_changing_a_frame_never_changes_earlier_latents(vae):
    x = torch.rand(1, 3, 17, 32, 32)
    x2 = x.clone()
    x2[:, :, 9] += 0.5  # frame 9 lives in latent frame 3 (frames 9..12)
    with torch.no_grad():
        z1, z2 = vae.encode(x), vae.encode(x2)
    diff = (z1 - z2).abs().amax(dim=(0, 1, 3, 4))
    assert torch.all(diff[:3] == 0)
    assert diff[3] > 0


def test_image_is_first_frame_of_a_video(vae):
    x = torch.rand(1, 3, 9, 32, 32)
    with torch.no_grad():
        assert torch.equal(vae.encode(x[:, :, :1]), vae.encode(x)[:, :, :1])


def test_save_load_round_trip(vae, tmp_path):
    vae.save_pretrained(tmp_path)
    again = CausalVAE.from_pretrained(tmp_path)
    x = torch.rand(1, 3, 5, 16, 16)
    with torch.no_grad():
        assert torch.equal(vae.encode(x), again.encode(x))
        assert torch.equal(vae.decode(vae.encode(x)), again.decode(again.encode(x)))


def test_lookahead_decoder_grows_from_a_causal_one_and_reads_exactly_one_latent_ahead(vae, tmp_path):
    vae.save_pretrained(tmp_path)
    grown = CausalVAE.from_pretrained(tmp_path, grow={"lookahead": 1}).eval()
    z = torch.randn(1, 4, 4, 4, 4)
    with torch.no_grad():
        assert torch.equal(grown.decode(z), vae.decode(z))  # zero-initialised: decodes as before until trained
        torch.nn.init.normal_(grown.decoder.ahead.weight, std=0.1)
        z2 = z.clone()
        z2[:, :, 2] += 1.0  # latent frame 2 holds frames 5..8
        diff = (grown.decode(z) - grown.decode(z2)).abs().amax(dim=(0, 1, 3, 4))
    assert torch.all(diff[:1] == 0)  # the first frame sees latent 1 only
    assert diff[1:5].amax() > 0  # frames 1..4 (latent 1) now see latent 2
    again = CausalVAE.from_pretrained(grown.save_pretrained(tmp_path / "grown"))
    assert again.config.lookahead == 1 and torch.equal(again.decode(z), grown.decode(z))


def _decode_with_last_frame_of_chunk_1_nudged(model, z):
    """Decode, adding 1 to the full-resolution features of frame 4 (the last frame latent 1 unfolds into)."""
    calls = []

    def nudge(module, args, out):
        calls.append(1)
        if len(calls) == 2:  # chunk 0 is frame 0, chunk 1 is frames 1..4
            out = out.clone()
            out[:, :, -1] += 1.0
        return out

    hook = model.decoder.blocks[-1][1].register_forward_hook(nudge)
    try:
        return model.decode(z)
    finally:
        hook.remove()


def test_smoothing_block_grows_without_changing_output_and_lets_a_chunk_see_the_frames_before_it(vae, tmp_path):
    vae.save_pretrained(tmp_path)
    grown = CausalVAE.from_pretrained(tmp_path, grow={"smooth_out": True}).eval()
    z = torch.randn(1, 4, 4, 4, 4)
    with torch.no_grad():
        assert torch.equal(grown.decode(z), vae.decode(z))  # zero-initialised: decodes as before until trained
        torch.nn.init.normal_(grown.decoder.smooth.conv2.weight, std=0.1)
        diff = (_decode_with_last_frame_of_chunk_1_nudged(grown, z) - grown.decode(z)).abs().amax(dim=(0, 1, 3, 4))
        base = (_decode_with_last_frame_of_chunk_1_nudged(vae, z) - vae.decode(z)).abs().amax(dim=(0, 1, 3, 4))
    assert torch.all(base[5:] == 0)  # without the block, chunk 2's frames never see chunk 1's last frame
    assert torch.all(diff[:4] == 0) and diff[5] > 0 and diff[6] > 0  # with it, the first frames of chunk 2 do
    assert torch.all(diff[9:] == 0)  # the block's two (3,3,3) convs reach four frames on, no further
    again = CausalVAE.from_pretrained(grown.save_pretrained(tmp_path / "grown"))
    assert again.config.smooth_out and torch.equal(again.decode(z), grown.decode(z))


PEAK = """
import resource, sys, torch
torch.set_num_threads(1)
from kinetoscope.models import AutoencoderConfig, CausalVAE
vae = CausalVAE(AutoencoderConfig()).eval()
t = int(sys.argv[1])
z = torch.randn(1, 8, t, 16, 16)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with torch.no_grad():
    vae.decode(z[:, :, :1])  # warm up allocator and kernels
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    vae.decode(z)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)
"""


@pytest.mark.slow
def test_chunked_decode_memory_does_not_grow_with_length():
    """Decoding 4x more latent frames (4x longer video) must not cost 4x the peak memory."""
    def peak(t):
        out = subprocess.run([sys.executable, "-c", PEAK, str(t)], capture_output=True, text=True, check=True)
        return int(out.stdout.strip())  # KiB above the warm baseline

    short, long = peak(4), peak(16)  # 13 vs 61 frames at 128x128
    output_growth = 12 * 3 * 4 * 128 * 128 * 4 / 1024  # the longer output itself, KiB
    assert long < 2 * short + output_growth, (short, long)
