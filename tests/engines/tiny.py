"""Tiny, randomly initialised diffusers video pipelines, one per supported family, built offline.

The component configs follow diffusers' own fast tests (tests/pipelines/{wan,ltx,cogvideo,hunyuan_video}).
Text encoders are tiny T5 / Llama / CLIP models built from a config; their tokenizers are built
from a small vocabulary with transformers' tokenizers backend, so nothing is downloaded.

    folder = save_tiny("wan", tmp_path / "wan")     # a model folder like the ones on the Hub
"""

from __future__ import annotations

from pathlib import Path

import torch

FAMILIES = ("wan", "wan-i2v", "wan22-i2v", "wan-ti2v", "ltx", "cogvideox", "cogvideox-i2v", "hunyuan")
WORDS = "a red green blue circle square star bouncing moving left right on the background dance monkey".split()
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:!?'\"-_<>|{}()\n"


def t5_tokenizer():
    from transformers import T5Tokenizer

    # Unigram over whole words (scored higher) and single letters, so any text tokenizes
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [("▁" + w, -1.0 - i / 100) for i, w in enumerate(WORDS)]
    vocab += [(c, -10.0) for c in sorted(set(LETTERS + "▁"))]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def t5_encoder(tokenizer, umt5: bool = False):
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    kw = dict(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
              relative_attention_num_buckets=8)
    torch.manual_seed(0)
    return UMT5EncoderModel(UMT5Config(**kw)) if umt5 else T5EncoderModel(T5Config(**kw))


def llama_tokenizer():
    from transformers import LlamaTokenizer

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, "▁": 3}
    for c in sorted(set(LETTERS + " ")):
        vocab.setdefault(c, len(vocab))
    tok = LlamaTokenizer(vocab=vocab, merges=[])
    tok.pad_token = "</s>"
    return tok


def clip_tokenizer():
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in sorted(ByteLevel.alphabet()):
        vocab.setdefault(c, len(vocab))
        vocab.setdefault(c + "</w>", len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=[])


def wan(kind: str = "wan"):
    from diffusers import (AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanImageToVideoPipeline, WanPipeline,
                           WanTransformer3DModel)

    tok = t5_tokenizer()
    torch.manual_seed(0)
    if kind == "wan-ti2v":  # Wan 2.2 TI2V-5B: 48-channel VAE with 16x space compression, timestep per token
        vae = AutoencoderKLWan(base_dim=3, z_dim=48, in_channels=12, out_channels=12, is_residual=True, patch_size=2,
                               latents_mean=[0.0] * 48, latents_std=[1.0] * 48, dim_mult=[1, 1, 1, 1],
                               num_res_blocks=1, scale_factor_spatial=16, scale_factor_temporal=4,
                               temperal_downsample=[False, True, True])
    else:
        vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                               temperal_downsample=[False, True, True])
    in_channels = {"wan": 16, "wan-i2v": 36, "wan22-i2v": 36, "wan-ti2v": 48}[kind]

    def transformer():
        torch.manual_seed(0)
        return WanTransformer3DModel(
            patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=in_channels,
            out_channels=48 if kind == "wan-ti2v" else 16, text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2,
            cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32,
            image_dim=4 if kind == "wan-i2v" else None)

    parts = dict(tokenizer=tok, text_encoder=t5_encoder(tok, umt5=True), vae=vae, transformer=transformer(),
                 scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0))
    if kind == "wan":
        return WanPipeline(**parts)
    if kind == "wan-ti2v":
        return WanPipeline(**parts, expand_timesteps=True)
    if kind == "wan22-i2v":  # Wan 2.2 I2V-A14B: two experts split by noise level, no CLIP image encoder
        return WanImageToVideoPipeline(**parts, transformer_2=transformer(), boundary_ratio=0.875)
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=4, projection_dim=4, num_hidden_layers=2, num_attention_heads=2, image_size=32,
        intermediate_size=16, patch_size=1))
    return WanImageToVideoPipeline(**parts, image_encoder=encoder, image_processor=CLIPImageProcessor(crop_size=32, size=32))


def ltx():
    from diffusers import AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXPipeline, LTXVideoTransformer3DModel

    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(in_channels=8, out_channels=8, patch_size=1, patch_size_t=1,
                                             num_attention_heads=4, attention_head_dim=8, cross_attention_dim=32,
                                             num_layers=1, caption_channels=32)
    torch.manual_seed(0)
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False), decoder_inject_noise=(False,) * 5,
        upsample_residual=(False,) * 4, upsample_factor=(1,) * 4, timestep_conditioning=False, patch_size=1,
        patch_size_t=1, encoder_causal=True, decoder_causal=False)
    tok = t5_tokenizer()
    return LTXPipeline(transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(),
                       text_encoder=t5_encoder(tok), tokenizer=tok)


def cogvideox(kind: str = "cogvideox"):
    from diffusers import (AutoencoderKLCogVideoX, CogVideoXDDIMScheduler, CogVideoXImageToVideoPipeline,
                           CogVideoXPipeline, CogVideoXTransformer3DModel)

    i2v = kind == "cogvideox-i2v"
    torch.manual_seed(0)
    # I2V: learned positional embeddings fix the size to sample_width x sample_height latents (16x16 pixels)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2, attention_head_dim=16, in_channels=8 if i2v else 4, out_channels=4, time_embed_dim=2,
        text_embed_dim=32, num_layers=1, sample_width=2 if i2v else 4, sample_height=2 if i2v else 4,
        sample_frames=9, patch_size=2, temporal_compression_ratio=4, max_text_seq_length=16,
        use_rotary_positional_embeddings=True, use_learned_positional_embeddings=i2v)
    torch.manual_seed(0)
    vae = AutoencoderKLCogVideoX(
        in_channels=3, out_channels=3, down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8), latent_channels=4,
        layers_per_block=1, norm_num_groups=2, temporal_compression_ratio=4)
    tok = t5_tokenizer()
    cls = CogVideoXImageToVideoPipeline if i2v else CogVideoXPipeline
    return cls(transformer=transformer, vae=vae, scheduler=CogVideoXDDIMScheduler(), text_encoder=t5_encoder(tok),
               tokenizer=tok)


def hunyuan():
    from diffusers import (AutoencoderKLHunyuanVideo, FlowMatchEulerDiscreteScheduler, HunyuanVideoPipeline,
                           HunyuanVideoTransformer3DModel)
    from transformers import CLIPTextConfig, CLIPTextModel, LlamaConfig, LlamaModel

    torch.manual_seed(0)
    transformer = HunyuanVideoTransformer3DModel(
        in_channels=4, out_channels=4, num_attention_heads=2, attention_head_dim=10, num_layers=1,
        num_single_layers=1, num_refiner_layers=1, patch_size=1, patch_size_t=1, guidance_embeds=True,
        text_embed_dim=16, pooled_projection_dim=8, rope_axes_dim=(2, 4, 4))
    torch.manual_seed(0)
    vae = AutoencoderKLHunyuanVideo(
        in_channels=3, out_channels=3, latent_channels=4, down_block_types=("HunyuanVideoDownBlock3D",) * 4,
        up_block_types=("HunyuanVideoUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8), layers_per_block=1,
        act_fn="silu", norm_num_groups=4, scaling_factor=0.476986, spatial_compression_ratio=8,
        temporal_compression_ratio=4, mid_block_add_attention=True)
    tok, tok2 = llama_tokenizer(), clip_tokenizer()
    torch.manual_seed(0)
    llama = LlamaModel(LlamaConfig(bos_token_id=1, eos_token_id=2, pad_token_id=2, hidden_size=16,
                                   intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
                                   vocab_size=len(tok), hidden_act="gelu"))
    torch.manual_seed(0)
    clip = CLIPTextModel(CLIPTextConfig(bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=8,
                                        intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
                                        vocab_size=len(tok2), projection_dim=32, max_position_embeddings=77))
    return HunyuanVideoPipeline(text_encoder=llama, tokenizer=tok, transformer=transformer, vae=vae,
                                scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0), text_encoder_2=clip,
                                tokenizer_2=tok2)


def build(family: str):
    if family.startswith("wan"):
        return wan(family)
    if family.startswith("cogvideox"):
        return cogvideox(family)
    return {"ltx": ltx, "hunyuan": hunyuan}[family]()


def save_tiny(family: str, folder: str | Path) -> Path:
    """Build the tiny `family` pipeline and write it as a model folder (model_index.json + components)."""
    folder = Path(folder)
    build(family).save_pretrained(folder)
    return folder
