import atexit
import os
import shutil
import tempfile

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# signing keys and studio files never in the user's home, the measured precision choice never in
# the user's cache: folders of this run's own, removed when it ends
for _var, _prefix in (("KINETOSCOPE_DATA_DIR", "kinetoscope-test-data-"), ("KINETOSCOPE_CACHE_DIR", "kinetoscope-test-cache-")):
    if _var not in os.environ:
        os.environ[_var] = tempfile.mkdtemp(prefix=_prefix)
        atexit.register(shutil.rmtree, os.environ[_var], ignore_errors=True)
torch.set_num_threads(int(os.environ.get("KINETOSCOPE_TEST_THREADS", "2")))

from kinetoscope.models import AutoencoderConfig, CausalVAE, DiT, TransformerConfig  # noqa: E402
from kinetoscope.pipeline import Pipeline, PipelineConfig  # noqa: E402

TINY_VAE = AutoencoderConfig(latent_channels=4, channels=(8, 8, 16, 16))
TINY_DIT = TransformerConfig(in_channels=4, width=32, depth=2, heads=2)


def tiny_pipeline(seed: int = 0) -> Pipeline:
    torch.manual_seed(seed)
    vae, dit = CausalVAE(TINY_VAE), DiT(TINY_DIT)
    # adaLN-Zero starts with a zero output; perturb so a random model still depends on its inputs
    with torch.no_grad():
        for p in dit.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return Pipeline(vae, dit, PipelineConfig(name="tiny-test", steps=4))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-model")
    tiny_pipeline().save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def text_encoder():
    from kinetoscope.models.text import default_text_encoder

    return default_text_encoder()
