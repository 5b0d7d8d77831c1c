"""The open-weight families the diffusers engine runs: defaults, frame rules, tasks, and call arguments.

One row per family. Geometry (the frame step k of the `1+k·n` frame rule and the size multiple)
is read from the loaded pipeline, the same attributes diffusers itself uses, so a variant with
another VAE (Wan 2.2 TI2V-5B compresses space 16×) is handled without a new row.

    family    folders (model_index.json class)                   tasks
    wan       WanPipeline (2.1 T2V, 2.2 T2V-A14B)                  t2v, image
              WanPipeline with expand_timesteps (2.2 TI2V-5B)      t2v, image, i2v
              WanImageToVideoPipeline (2.1 I2V)                    i2v
              WanImageToVideoPipeline (2.1 FLF2V, 2.2 I2V-A14B)    i2v, interpolate (first + last frame)
    ltx       LTXPipeline / LTXImageToVideoPipeline                t2v, image, i2v
    cogvideox CogVideoXPipeline (2b, 5b, 1.5-5b)                   t2v
              CogVideoXImageToVideoPipeline (5b-I2V, 1.5-5b-I2V)   i2v
    hunyuan   HunyuanVideoPipeline                                 t2v, image
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    name: str
    t2v_class: str | None  # the pipeline that runs text->video on this family's components
    i2v_class: str | None  # ... and image->video (None: the family has no image conditioning)
    width: int  # defaults: the model's trained size, length, fps, steps and guidance
    height: int
    frames: int
    fps: int
    steps: int
    guidance: float
    max_frames: int
    max_size: int = 1280
    min_multiple: int = 16  # the pipeline's own size check (LTX: 32)
    fixed_size: bool = False  # learned positional embeddings: only the trained size works
    vae_fp32: bool = False  # keep the VAE (and image encoder) in float32 whatever the dtype
    gpu_tiling: bool = False  # VAE tiling by default on an accelerator (large decodes)
    sizes: tuple[str, ...] = ()  # "WxH" it was trained at or is documented to do well (empty: width x height)


FAMILIES = {
    "wan": Family("wan", "WanPipeline", "WanImageToVideoPipeline", 832, 480, 81, 16, 50, 5.0, 81, vae_fp32=True,
                  sizes=("832x480", "480x832", "1280x720", "720x1280")),  # 480p and 720p (14B); 1.3B: 480p
    "ltx": Family("ltx", "LTXPipeline", "LTXImageToVideoPipeline", 704, 480, 121, 24, 50, 3.0, 257, min_multiple=32,
                  sizes=("704x480", "480x704", "768x512", "512x768")),  # best below 720x1280 and 257 frames
    "cogvideox": Family("cogvideox", "CogVideoXPipeline", "CogVideoXImageToVideoPipeline", 720, 480, 49, 8, 50, 6.0, 49,
                        max_size=1360, gpu_tiling=True),
    "hunyuan": Family("hunyuan", "HunyuanVideoPipeline", None, 1280, 720, 129, 24, 50, 6.0, 129, gpu_tiling=True,
                      sizes=("1280x720", "720x1280", "960x544", "544x960")),  # 720p and 540p
}

PIPELINES = {  # model_index.json `_class_name` -> (family, what the folder's own pipeline does)
    "WanPipeline": ("wan", "t2v"),
    "WanImageToVideoPipeline": ("wan", "i2v"),
    "LTXPipeline": ("ltx", "t2v"),
    "LTXImageToVideoPipeline": ("ltx", "i2v"),
    "CogVideoXPipeline": ("cogvideox", "t2v"),
    "CogVideoXImageToVideoPipeline": ("cogvideox", "i2v"),
    "HunyuanVideoPipeline": ("hunyuan", "t2v"),
}


def _transformer(pipe):
    return pipe.transformer if getattr(pipe, "transformer", None) is not None else pipe.transformer_2


def _width_of(pipe) -> int:
    c = _transformer(pipe).config
    return c.num_attention_heads * c.attention_head_dim


def trained_sizes(fam: Family) -> tuple[str, ...]:
    return fam.sizes or (f"{fam.width}x{fam.height}",)


def for_pipeline(pipe) -> Family:
    """The family row with the defaults a loaded variant changes (Wan 2.2 TI2V-5B, CogVideoX 1.5)."""
    fam = FAMILIES[PIPELINES[type(pipe).__name__][0]]
    if fam.name == "wan" and pipe.config.get("expand_timesteps"):  # TI2V-5B: 1280x704, 5 s at 24 fps
        return dataclasses.replace(fam, width=1280, height=704, frames=121, fps=24, max_frames=121,
                                   sizes=("1280x704", "704x1280"))
    if fam.name == "wan" and _width_of(pipe) < 5120:  # 1.3B (and smaller): trained at 480p only
        return dataclasses.replace(fam, sizes=("832x480", "480x832"))
    if fam.name == "cogvideox":  # the trained size and length are in the transformer's config
        c, s = _transformer(pipe).config, pipe.vae_scale_factor_spatial
        return dataclasses.replace(fam, width=c.sample_width * s, height=c.sample_height * s, frames=c.sample_frames,
                                   max_frames=c.sample_frames, fps=16 if c.patch_size_t else 8,
                                   fixed_size=bool(c.use_learned_positional_embeddings), sizes=())
    return fam


def tasks(pipe) -> tuple[str, ...]:
    fam_name, own = PIPELINES[type(pipe).__name__]
    if fam_name == "wan":
        if pipe.config.get("expand_timesteps"):  # TI2V: one model, with or without a first frame
            return ("t2v", "image", "i2v")
        if own == "t2v":
            return ("t2v", "image")
        # a last frame needs either no CLIP image embedding (2.2) or one sized for two images (FLF2V)
        c = _transformer(pipe).config
        return ("i2v", "interpolate") if c.image_dim is None or c.pos_embed_seq_len else ("i2v",)
    if fam_name == "ltx":  # the same components serve both pipelines
        return ("t2v", "image", "i2v")
    if fam_name == "cogvideox":  # the I2V transformer takes image latents as extra channels
        return (own,)
    return ("t2v", "image")


def frame_step(pipe) -> int:
    """k in the frame rule 1 + k·n: the VAE's time compression."""
    return getattr(pipe, "vae_temporal_compression_ratio", None) or pipe.vae_scale_factor_temporal


def size_multiple(pipe, fam: Family) -> int:
    """Width and height must be multiples of the VAE's space compression times the patch size."""
    if hasattr(pipe, "vae_spatial_compression_ratio"):  # LTX
        m = pipe.vae_spatial_compression_ratio * pipe.transformer_spatial_patch_size
    else:
        patch = _transformer(pipe).config.patch_size
        m = pipe.vae_scale_factor_spatial * (patch[1] if isinstance(patch, (tuple, list)) else patch)
    return max(m, fam.min_multiple)


def call_kwargs(pipe, fam: Family, req, task: str, true_cfg: float | None) -> dict:
    """Our resolved request -> this family's pipeline arguments (without generator and callbacks)."""
    kw = dict(prompt=req.prompt, negative_prompt=req.negative_prompt, height=req.height, width=req.width,
              num_frames=req.frames, num_inference_steps=req.steps, guidance_scale=req.guidance)
    if task in ("i2v", "interpolate"):
        from PIL import Image

        kw["image"] = Image.fromarray(req.given_frames[0])
        if task == "interpolate":
            kw["last_image"] = Image.fromarray(req.given_frames[-1])
    if fam.name == "ltx":
        kw["frame_rate"] = req.fps  # LTX conditions its positions on the frame rate
    elif fam.name == "cogvideox":
        kw["max_sequence_length"] = _transformer(pipe).config.max_text_seq_length
    elif fam.name == "hunyuan":
        # guidance-distilled: guidance_scale is embedded; a negative prompt needs true CFG (2 passes per step)
        if req.negative_prompt:
            kw["true_cfg_scale"] = true_cfg
        else:
            kw.pop("negative_prompt")
    return kw
