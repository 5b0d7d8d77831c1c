"""Configured engines: from an env var or a YAML file, builtin always listed, each loaded once on demand."""

from __future__ import annotations

import pytest

from kinetoscope.engines.registry import ENV, Registry, ships_fast, configured

BUILTINS = ["builtin", "builtin-fast"] if ships_fast() else ["builtin"]


def test_inline_env_var_and_builtin_always_there(monkeypatch):
    monkeypatch.setenv(ENV, "wan=diffusers:/m/Wan2.1?dtype=bf16; ltx = diffusers:/m/LTX-Video ;")
    configs = configured()
    assert list(configs) == [*BUILTINS, "wan", "ltx"]
    assert configs["wan"].spec == "diffusers:/m/Wan2.1?dtype=bf16"
    assert configs["ltx"].spec == "diffusers:/m/LTX-Video"
    monkeypatch.delenv(ENV)
    assert list(configured()) == BUILTINS
    if "builtin-fast" in BUILTINS:
        assert configured()["builtin-fast"].spec == "builtin?fast=1"


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
    assert set(listed) == {*BUILTINS, "mine", "wan"}
    assert listed["wan"] == {"id": "wan", "engine": "diffusers", "loaded": False, "folder": "tiny-wan",
                             "pipeline": "WanPipeline"}
    engine = reg.get("wan")
    assert reg.get("wan") is engine  # loaded once, kept
    assert engine.name == "wan"
    caps = reg.describe("wan")["capabilities"]
    assert caps["tasks"] == ["t2v", "image"] and caps["extra"]["frame_rule"] == "1+4k"
    assert reg.get("mine").name == "mine" and not reg.is_loaded("builtin")
    with pytest.raises(ValueError, match=f"model 'sora' is not configured: use one of {', '.join(BUILTINS)}, mine, wan"):
        reg.get("sora")


def test_a_broken_folder_is_listed_with_its_error(tmp_path):
    reg = Registry(configured(f"gone=diffusers:{tmp_path / 'missing'}"))
    assert "not a diffusers model folder" in reg.describe("gone")["error"]


def test_a_model_folder_with_a_fast_setting_is_also_served_fast(tiny_model_dir, tmp_path):
    import json
    import shutil

    from kinetoscope.studio.services import Engines
    from kinetoscope.studio.settings import Settings

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    assert not ships_fast(f"builtin:{folder}")
    assert list(Engines.from_settings(Settings(builtin_spec=f"builtin:{folder}")).configs) == ["kinetoscope-builtin"]
    shutil.copytree(folder / "denoiser", folder / "denoiser-fast")
    cfg = json.loads((folder / "pipeline.json").read_text())
    (folder / "pipeline.json").write_text(json.dumps({**cfg, "fast": {"denoiser": "denoiser-fast", "steps": 3, "guidance": 1.0}}))
    assert ships_fast(f"builtin:{folder}") and not ships_fast("diffusers:/m/Wan")
    engines = Engines.from_settings(Settings(builtin_spec=f"builtin:{folder}"))
    assert list(engines.configs) == ["kinetoscope-builtin", "kinetoscope-builtin-fast"]
    fast = engines.get("kinetoscope-builtin-fast").pipeline
    assert (fast.config.steps, fast.config.guidance) == (3, 1.0)
    assert engines.get("kinetoscope-builtin").pipeline.config.steps == cfg["steps"]
