import pytest
import torch

from kinetoscope.models import ConvUNet, UNetConfig
from kinetoscope.models.experts import NoiseExperts


def unet(seed):
    torch.manual_seed(seed)
    m = ConvUNet(UNetConfig(in_channels=4, channels=(16, 32), blocks=1, heads=2, text_dim=8))
    with torch.no_grad():  # a zero-initialised head would make both experts output zeros
        m.conv_out.weight.normal_(0, 0.1)
    return m.eval()


def test_each_sample_goes_to_the_expert_of_its_noise_level():
    high, low = unet(0), unet(1)
    experts = NoiseExperts(high, [(0.0, 0.6, low)])
    x, text, mask = torch.randn(3, 4, 2, 8, 8), torch.randn(3, 5, 8), torch.ones(3, 5, dtype=torch.bool)
    t = torch.tensor([0.2, 0.6, 0.9])
    with torch.no_grad():
        out, a, b = experts(x, t, text, mask), high(x, t, text, mask), low(x, t, text, mask)
        assert torch.equal(out[0], b[0]) and torch.equal(out[1], a[1]) and torch.equal(out[2], a[2])
        assert not torch.allclose(a[0], b[0])
        below = torch.full((3,), 0.1)
        assert torch.equal(experts(x, below, text, mask), low(x, below, text, mask))  # one call when all agree
    assert experts.config is high.config
    three = NoiseExperts(high, [(0.3, 0.6, unet(2)), (0.0, 0.3, low)])  # any order: sorted by range
    assert three.pick(torch.tensor([0.0, 0.29, 0.3, 0.59, 0.6, 1.0])).tolist() == [0, 0, 1, 1, 2, 2]
    ends = NoiseExperts(high, [(0.9, 1.0, unet(2)), (0.0, 0.3, low)])  # the main denoiser covers the gap between
    assert ends.pick(torch.tensor([0.0, 0.3, 0.6, 0.89, 0.9, 0.999, 1.0])).tolist() == [0, 2, 2, 2, 1, 1, 1]


def test_experts_that_do_not_fit_together_are_refused():
    other = ConvUNet(UNetConfig(in_channels=4, channels=(16, 32), blocks=1, heads=2, text_dim=8, patch=(1, 4, 4)))
    with pytest.raises(ValueError, match="patch"):
        NoiseExperts(unet(0), [(0.0, 0.5, other)])
    with pytest.raises(ValueError, match=r"\[0.0, 0.5\) and \[0.4, 0.7\) overlap"):
        NoiseExperts(unet(0), [(0.4, 0.7, unet(1)), (0.0, 0.5, unet(2))])
    for lo, hi in ((0.0, 1.0), (0.5, 0.5), (-0.1, 0.2), (0.8, 1.2)):
        with pytest.raises(ValueError, match=rf"\[{lo}, {hi}\) is not a part of the noise levels"):
            NoiseExperts(unet(0), [(lo, hi, unet(1))])
