from kinetoscope.models.autoencoder import AutoencoderConfig, CausalVAE
from kinetoscope.models.pixels import PixelSpace, PixelSpaceConfig
from kinetoscope.models.transformer import DiT, TransformerConfig
from kinetoscope.models.unet import ConvUNet, UNetConfig

# Denoiser backbones: every one takes (x, t, text, text_mask, given) and predicts the same thing.
BACKBONES = {"dit": DiT, "unet": ConvUNet}


PIXELS = "pixels"  # the autoencoder setting that means "no autoencoder": train and sample on pixels


def load_autoencoder(folder, device="cpu"):
    """The autoencoder of a folder (config.json names its class), or pixel space for "pixels"."""
    import json
    from pathlib import Path

    if str(folder) == PIXELS:
        return PixelSpace().to(device)
    config = Path(folder) / "config.json"
    name = json.loads(config.read_text()).get("class") if config.is_file() else None
    return (PixelSpace if name == "PixelSpace" else CausalVAE).from_pretrained(folder, device=device)


def load_denoiser(folder, device="cpu"):
    """Load whichever backbone a denoiser folder holds (config.json names its class)."""
    import json
    from pathlib import Path

    name = json.loads((Path(folder) / "config.json").read_text()).get("class", "DiT")
    return denoiser_class(name, folder).from_pretrained(folder, device=device)


def denoiser_class(name: str, where=""):
    classes = {cls.__name__: cls for cls in BACKBONES.values()}
    if name not in classes:
        raise ValueError(f"{where}: unknown denoiser class {name!r}; known: {', '.join(classes)}")
    return classes[name]


def denoiser_from_config(config: dict):
    """A fresh denoiser from a config.json-style dict ({"class": ..., fields})."""
    from kinetoscope.models.io import config_from_dict

    cls = denoiser_class(config.get("class", "DiT"), "model config")
    return cls(config_from_dict(cls.config_class, config))


__all__ = ["AutoencoderConfig", "CausalVAE", "PixelSpace", "PixelSpaceConfig", "PIXELS", "load_autoencoder", "DiT", "TransformerConfig", "ConvUNet", "UNetConfig", "BACKBONES",
           "load_denoiser", "denoiser_from_config"]
