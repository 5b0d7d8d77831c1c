"""precision("auto"): bf16 only where this machine measured it finite and faster, the measurement cached."""

import json

import pytest
import torch

from kinetoscope import hardware


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """A CPU-only machine with the given flags, whose probe returns `machine.probe` and counts its calls."""
    monkeypatch.setenv("KINETOSCOPE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    class Machine:
        flags = {"avx2", "avx512f", "avx512_bf16"}
        probe = {"fp32_s": 1.0, "bf16_s": 0.5, "finite": True, "max_rel_error": 0.004, "reps": 3}
        probes = 0

    m = Machine()
    monkeypatch.setattr(hardware, "cpu_flags", lambda: m.flags)

    def probe():
        m.probes += 1
        return dict(m.probe)

    monkeypatch.setattr(hardware, "probe_bf16", probe)
    return m


def test_a_cpu_without_bf16_instructions_gets_fp32_unmeasured(machine):
    machine.flags = {"avx2", "fma"}
    p = hardware.precision("auto")
    assert p.dtype == torch.float32 and p.reason == "auto: no AVX512-BF16/AMX on this CPU (fp32, not measured)"
    assert machine.probes == 0


@pytest.mark.parametrize("probe, dtype, reason", [
    ({"bf16_s": 0.5}, torch.bfloat16, "auto: bf16 measured 2.00x faster than fp32 and finite on this CPU"),
    ({"bf16_s": 1.2}, torch.float32, "auto: bf16 measured 0.83x the speed of fp32 on this CPU (bf16 needs 1.1x)"),
    ({"bf16_s": 0.97}, torch.float32, "auto: bf16 measured 1.03x the speed of fp32 on this CPU (bf16 needs 1.1x)"),
    ({"bf16_s": 0.5, "finite": False, "max_rel_error": None}, torch.float32,
     "auto: bf16 gave non-finite values on this CPU's kernels"),
    ({"bf16_s": 0.5, "max_rel_error": 0.4}, torch.float32, "auto: bf16 was 40% off fp32 on this CPU's kernels"),
])
def test_auto_picks_bf16_only_where_it_measured_finite_and_faster(machine, probe, dtype, reason):
    machine.probe = {**machine.probe, **probe}
    p = hardware.precision("auto")
    assert (p.dtype, p.reason) == (dtype, reason)
    assert hardware.choose_precision("auto") == dtype


def test_the_measurement_is_cached_per_machine_and_torch_version(machine, tmp_path, monkeypatch):
    assert hardware.precision("auto").dtype == torch.bfloat16
    assert hardware.precision("auto").dtype == torch.bfloat16
    assert machine.probes == 1  # measured once, then read back
    cached = json.loads((tmp_path / "precision.json").read_text())
    (key, entry), = cached.items()
    assert hardware.cpu_model() in key and f"torch {torch.__version__}" in key
    assert entry["fp32_s"] == 1.0 and entry["bf16_s"] == 0.5 and entry["measured_at"]
    monkeypatch.setattr(torch, "__version__", "9.9.9")  # another torch (or CPU, or flags) measures again
    hardware.precision("auto")
    assert machine.probes == 2 and len(json.loads((tmp_path / "precision.json").read_text())) == 2


def test_an_unwritable_cache_costs_only_a_new_measurement(machine, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("KINETOSCOPE_CACHE_DIR", str(blocker / "cache"))
    assert hardware.precision("auto").dtype == torch.bfloat16
    assert hardware.precision("auto").dtype == torch.bfloat16
    assert machine.probes == 2


def test_asked_for_precisions_are_used_as_asked_and_others_refused():
    assert hardware.precision("bf16") == (torch.bfloat16, "bf16: asked for")
    assert hardware.precision("fp32") == (torch.float32, "fp32: asked for")
    with pytest.raises(ValueError, match="precision 'fp16' is not one of auto, fp32, bf16"):
        hardware.precision("fp16")


def test_the_probe_measures_both_precisions_and_checks_bf16():
    result = hardware.probe_bf16(reps=1)
    assert result["fp32_s"] > 0 and result["bf16_s"] > 0
    assert result["finite"] and result["max_rel_error"] < hardware.BF16_MAX_ERROR  # on any CPU with sane kernels
