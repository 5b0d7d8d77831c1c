from kinetoscope.models.autoencoder import AutoencoderConfig, CausalVAE
from kinetoscope.models.transformer import DiT, TransformerConfig

__all__ = ["AutoencoderConfig", "CausalVAE", "DiT", "TransformerConfig"]
