"""Sampling speed and parameter count of drawbench's Imagen base stage vs imagen-pytorch.

Both at one identical tiny configuration (32x32 base U-Net, width 32, mults 1-2-2, one res block
per level, self-attention at the lowest level, cross-attention at the two lowest, 2 heads x 16,
text embeddings of width 32 passed directly), random weights, the same number of ancestral steps,
guidance weight 3 (CFG in one batch) and dynamic thresholding. Requires ``pip install
imagen-pytorch`` (benchmark only). Offline, imagen-pytorch's import-time ``T5Config.from_pretrained``
is answered with a small local T5Config. The last line printed is one JSON object.

Also times the shipped toy cascade (``--generator imagen-toy``: both stages, its sampling defaults)
at the demo's batch in both memory formats; ImagenGenerator samples in channels-last on CPU.

    python benchmarks/bench_imagen.py [--steps 32] [--batch 8] [--device cpu] [--repeats 2]
                                      [--toy-batch 64]
"""

from __future__ import annotations

import argparse
import json
import time

import torch


def _patch_t5_config() -> None:
    import transformers

    original = transformers.T5Config.from_pretrained

    def local(name, *args, **kwargs):
        try:
            return original(name, *args, **{**kwargs, "local_files_only": True})
        except OSError:
            return transformers.T5Config(d_model=32, num_layers=2, num_heads=4, d_kv=8, d_ff=64)

    transformers.T5Config.from_pretrained = local


def build_ours(size: int, device: str, channels: int = 32):
    from generators.imagen.config import StageConfig, UNetConfig
    from generators.imagen.stage import ImagenStage

    unet = UNetConfig(
        "base",
        channels,
        (1, 2, 2),
        (1, 1, 1),
        (False, False, True),
        (False, True, True),
        attention_heads=2,
        attention_head_dim=16,
        cond_dim=128,
        context_dim=128,
    )
    return ImagenStage(StageConfig(image_size=size, unet=unet), text_dim=32).to(device).eval()


def build_theirs(size: int, steps: int, device: str):
    _patch_t5_config()
    from imagen_pytorch import Imagen, Unet

    unet = Unet(
        dim=32,
        dim_mults=(1, 2, 2),
        num_resnet_blocks=1,
        layer_attns=(False, False, True),
        layer_cross_attns=(False, True, True),
        attn_heads=2,
        attn_dim_head=16,
        text_embed_dim=32,
        cond_dim=128,
        memory_efficient=False,
        init_cross_embed=False,
        use_global_context_attn=False,
        attn_pool_text=False,
    )
    imagen = Imagen(
        unets=(unet,),
        image_sizes=(size,),
        timesteps=steps,
        text_embed_dim=32,
        cond_drop_prob=0.1,
        dynamic_thresholding=True,
        dynamic_thresholding_percentile=0.995,
    )
    return imagen.to(device).eval()


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def _time(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return best


def time_toy_cascade(batch: int, repeats: int) -> dict[str, float]:
    """Images/s of the shipped toy cascade in the contiguous and the channels-last format."""
    from generators.imagen.toy_generator import ToyImagenGenerator

    gen = ToyImagenGenerator()
    prompts = ["a green triangle to the left of a yellow circle"] * batch
    seeds = list(range(batch))
    out = {}
    for fmt in ("contiguous_format", "channels_last"):
        gen.inner.cascade.to(memory_format=getattr(torch, fmt))
        out[fmt] = batch / _time(lambda: gen.generate(prompts, seeds), repeats)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--toy-batch", type=int, default=64, help="0 skips the toy cascade timing")
    args = ap.parse_args()
    torch.manual_seed(0)
    from generators.imagen.stage import SamplingOptions

    ours, theirs = (
        build_ours(args.size, args.device),
        build_theirs(args.size, args.steps, args.device),
    )
    text = torch.randn(args.batch, 16, 32, device=args.device)
    mask = torch.ones(args.batch, 16, dtype=torch.bool, device=args.device)
    opts = SamplingOptions(
        steps=args.steps, sampler="ddpm", guidance_weight=3.0, threshold="dynamic"
    )
    gens = lambda: [torch.Generator().manual_seed(i) for i in range(args.batch)]  # noqa: E731
    t_ours = _time(lambda: ours.sample(text, mask, gens(), opts), args.repeats)
    # The memory format ImagenGenerator samples in on CPU (generators/imagen/generator.py).
    t_ours_cl = _time(
        lambda: ours.to(memory_format=torch.channels_last).sample(text, mask, gens(), opts),
        args.repeats,
    )
    ours.to(memory_format=torch.contiguous_format)
    with torch.no_grad():
        t_theirs = _time(
            lambda: theirs.sample(
                text_embeds=text,
                text_masks=mask,
                cond_scale=3.0,
                batch_size=args.batch,
                use_tqdm=False,
            ),
            args.repeats,
        )
    p_ours = sum(p.numel() for p in ours.parameters())
    p_theirs = sum(p.numel() for p in theirs.unets[0].parameters())
    # imagen-pytorch's blocks carry more parameters at the same settings (feed-forwards in its
    # attention blocks, ...): also time ours widened to the same parameter count (equal size).
    width = min(
        range(32, 97, 8), key=lambda c: abs(_count(build_ours(args.size, "cpu", c)) - p_theirs)
    )
    wide = build_ours(args.size, args.device, width)
    t_wide = _time(lambda: wide.sample(text, mask, gens(), opts), args.repeats)
    p_wide = _count(wide)
    toy = time_toy_cascade(args.toy_batch, args.repeats) if args.toy_batch else {}
    res = {
        "device": args.device,
        "size": args.size,
        "steps": args.steps,
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "ours_images_per_s": round(args.batch / t_ours, 3),
        "imagen_pytorch_images_per_s": round(args.batch / t_theirs, 3),
        "speed_ratio_ours_over_theirs": round(t_theirs / t_ours, 3),
        "ours_channels_last_images_per_s": round(args.batch / t_ours_cl, 3),
        "channels_last_speedup": round(t_ours / t_ours_cl, 3),
        "ours_params": p_ours,
        "imagen_pytorch_params": p_theirs,
        "param_ratio_ours_over_theirs": round(p_ours / p_theirs, 3),
        "equal_size_base_channels": width,
        "equal_size_ours_params": p_wide,
        "equal_size_ours_images_per_s": round(args.batch / t_wide, 3),
        "equal_size_speed_ratio_ours_over_theirs": round(t_theirs / t_wide, 3),
    }
    if toy:
        res["toy_cascade_batch"] = args.toy_batch
        res["toy_cascade_contiguous_images_per_s"] = round(toy["contiguous_format"], 3)
        res["toy_cascade_channels_last_images_per_s"] = round(toy["channels_last"], 3)
        res["toy_cascade_channels_last_speedup"] = round(
            toy["channels_last"] / toy["contiguous_format"], 3
        )
    print(
        f"drawbench Imagen: {res['ours_images_per_s']} img/s, {p_ours:,} params; imagen-pytorch: {res['imagen_pytorch_images_per_s']} img/s, {p_theirs:,} params"
    )
    print(
        f"drawbench Imagen in channels-last memory format (ImagenGenerator on CPU): "
        f"{res['ours_channels_last_images_per_s']} img/s ({res['channels_last_speedup']}x)"
    )
    print(
        f"equal size: drawbench Imagen at base width {width}: {p_wide:,} params, "
        f"{res['equal_size_ours_images_per_s']} img/s"
    )
    if toy:
        print(
            f"toy cascade (imagen-toy, 2 stages, batch {args.toy_batch}): "
            f"{res['toy_cascade_contiguous_images_per_s']} img/s contiguous, "
            f"{res['toy_cascade_channels_last_images_per_s']} img/s channels-last "
            f"({res['toy_cascade_channels_last_speedup']}x)"
        )
    print(json.dumps(res))


if __name__ == "__main__":
    main()
