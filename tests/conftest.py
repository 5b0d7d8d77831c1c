import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
if "KINETOSCOPE_DATA_DIR" not in os.environ:  # signing keys and studio files: never the user's home
    import tempfile

    os.environ["KINETOSCOPE_DATA_DIR"] = tempfile.mkdtemp(prefix="kinetoscope-test-data-")
if "KINETOSCOPE_CACHE_DIR" not in os.environ:  # the measured precision choice: never the user's cache
    import tempfile

    os.environ["KINETOSCOPE_CACHE_DIR"] = tempfile.mkdtemp(prefix="kinetoscope-test-cache-")
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
