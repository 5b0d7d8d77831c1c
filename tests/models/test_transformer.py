import pytest
import torch

from kinetoscope.models import DiT
from kinetoscope.models.transformer import rope_angles
from tests.conftest import TINY_DIT


@pytest.fixture(scope="module")
def dit():
    torch.manual_seed(0)
    m = DiT(TINY_DIT).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return m


def text(b=1, L=6):
    return torch.randn(b, L, 384), torch.ones(b, L, dtype=torch.bool)


@pytest.mark.parametrize("grid", [(1, 4, 4), (5, 8, 8), (3, 6, 10), (9, 4, 12)])
def test_forward_any_size_and_length(dit, grid):
    x = torch.randn(2, 4, *grid)
    s, m = text(2)
    with torch.no_grad():
        y = dit(x, torch.rand(2), s, m)
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_rope_handles_unseen_sizes_and_is_relative():
    a = rope_angles((3, 4, 4), 16, 10000.0, "cpu")
    b = rope_angles((7, 20, 30), 16, 10000.0, "cpu")
    assert a.shape == (48, 8) and b.shape == (7 * 20 * 30, 8)
    # the same (t, h, w) position gets the same angles whatever the grid size
    assert torch.allclose(a[1 * 16 + 2 * 4 + 3], b[1 * 600 + 2 * 30 + 3])


def test_padding_tokens_are_ignored(dit):
    x = torch.randn(1, 4, 2, 4, 4)
    s, m = text(1, 5)
    s_pad = torch.cat([s, torch.randn(1, 3, 384) * 10], dim=1)
    m_pad = torch.cat([m, torch.zeros(1, 3, dtype=torch.bool)], dim=1)
    t = torch.tensor([0.5])
    with torch.no_grad():
        assert torch.allclose(dit(x, t, s, m), dit(x, t, s_pad, m_pad), atol=1e-5)


def test_given_flag_and_text_and_time_change_the_output(dit):
    x = torch.randn(1, 4, 3, 4, 4)
    s, m = text()
    t = torch.tensor([0.5])
    with torch.no_grad():
        base = dit(x, t, s, m)
        given = dit(x, t, s, m, torch.tensor([[True, False, False]]))
        other_text = dit(x, t, torch.randn_like(s), m)
        other_t = dit(x, torch.tensor([0.9]), s, m)
    for y in (given, other_text, other_t):
        assert not torch.allclose(base, y)


def test_save_load_round_trip(dit, tmp_path):
    dit.save_pretrained(tmp_path)
    again = DiT.from_pretrained(tmp_path)
    x = torch.randn(1, 4, 2, 4, 4)
    s, m = text()
    with torch.no_grad():
        assert torch.equal(dit(x, torch.tensor([0.3]), s, m), again(x, torch.tensor([0.3]), s, m))
