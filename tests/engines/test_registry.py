"""Configured engines: from an env var or a YAML file, builtin always listed, each loaded once on demand."""

from __future__ import annotations

import pytest

from kinetoscope.engines.registry import ENV, Registry, configured


def test_inline_env_var_and_builtin_always_there(monkeypatch):
    monkeypatch.setenv(ENV, "wan=diffusers:/m/Wan2.1?dtype=bf16; ltx = diffusers:/m/LTX-Video ;")
    configs = configured()
    assert list(configs) == ["builtin", "wan", "ltx"]
    assert configs["wan"].spec == "diffusers:/m/Wan2.1?dtype=bf16"
    assert configs["ltx"].spec == "diffusers:/m/LTX-Video"
    monkeypatch.delenv(ENV)
    assert list(configured()) == ["builtin"]


def test_yaml_file_with_options(tmp_path, monkeypatch):
    path = tmp_path / "engines.yaml"
    path.write_text("wan:\n  spec: diffusers:/m/Wan2.1\n  dtype: bf16\n  tiling: true\nltx: diffusers:/m/LTX\n")
    monkeypatch.setenv(ENV, str(path))
    configs = configured()
    assert configs["wan"].options == {"dtype": "bf16", "tiling": "True"}
    assert configs["ltx"].spec == "diffusers:/m/LTX" and "builtin" in configs


@pytest.mark.parametrize("value,message", [
    ("wan", "'wan' is not name=spec"),
    ("bad name=diffusers:/m", "engine name 'bad name' is not allowed"),
    ("wan=", "engine 'wan' needs a spec"),
    ("/nowhere/engines.yaml", "no such engines file"),
])
def test_bad_configs_are_refused_by_name(value, message):
    with pytest.raises((ValueError, FileNotFoundError)) as e:
        configured(value)
    assert message in str(e.value)


def test_engines_load_lazily_once(tiny_model_dir, tmp_path):
    pytest.importorskip("diffusers")
    from tests.engines.tiny import save_tiny

    wan = save_tiny("wan", tmp_path / "tiny-wan")
    reg = Registry(configured(f"mine=builtin:{tiny_model_dir};wan=diffusers:{wan}?dtype=fp32"))
    listed = {m["id"]: m for m in reg.list()}
    assert set(listed) == {"builtin", "mine", "wan"}
    assert listed["wan"] == {"id": "wan", "engine": "diffusers", "loaded": False, "folder": "tiny-wan",
                             "pipeline": "WanPipeline"}
    engine = reg.get("wan")
    assert reg.get("wan") is engine  # loaded once, kept
    assert engine.name == "wan"
    caps = reg.describe("wan")["capabilities"]
    assert caps["tasks"] == ["t2v", "image"] and caps["extra"]["frame_rule"] == "1+4k"
    assert reg.get("mine").name == "mine" and not reg.is_loaded("builtin")
    with pytest.raises(ValueError, match="model 'sora' is not configured: use one of builtin, mine, wan"):
        reg.get("sora")


def test_a_broken_folder_is_listed_with_its_error(tmp_path):
    reg = Registry(configured(f"gone=diffusers:{tmp_path / 'missing'}"))
    assert "not a diffusers model folder" in reg.describe("gone")["error"]
