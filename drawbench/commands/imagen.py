"""`drawbench imagen`: train a stage of the reference Imagen cascade; count parameters."""

from __future__ import annotations

import argparse

from drawbench.commands import add_verb

DESCRIPTION = """Train the reference Imagen cascade (generators/imagen) one stage at a time on a
folder of images with captions (captions.csv with columns file,caption, or a .txt beside each
image), or print the parameter counts of a config. Stage 0 is the 64x64 base model; stage k > 0
is a super-resolution model trained on pairs made from the same images. Sample a trained folder
with `drawbench generate --generator imagen -o checkpoint=OUT`."""

EXAMPLES = """
  drawbench imagen params --config imagen-paper
  drawbench imagen train --stage 0 --data shapes/ --config imagen-tiny --out ckpt/ --steps 2000
  drawbench imagen train --stage 1 --data shapes/ --config imagen-tiny --out ckpt/ --resume
  drawbench imagen train --stage 0 --data coco/ --config imagen-paper --device cuda --text-encoder /models/t5-v1_1-xxl
"""


def register(subparsers, summary: str) -> None:
    p = add_verb(subparsers, "imagen", summary, DESCRIPTION, EXAMPLES)
    sub = p.add_subparsers(dest="imagen_action", metavar="ACTION")
    t = sub.add_parser("train", help="train one stage of a cascade")
    t.add_argument("--stage", type=int, required=True, help="stage index (0 = base 64x64)")
    t.add_argument("--data", required=True, help="folder of images with captions")
    t.add_argument(
        "--config",
        required=True,
        help="bundled config name (imagen-paper, imagen-tiny) or a .json path",
    )
    t.add_argument(
        "--out", default="imagen-checkpoint", help="checkpoint folder (default: %(default)s)"
    )
    t.add_argument(
        "--steps", type=int, default=1000, help="total optimizer steps (default: %(default)s)"
    )
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step")
    t.add_argument("--lr", type=float, default=None, help="Adam learning rate (default 1e-4)")
    t.add_argument("--ema-decay", type=float, default=None, help="EMA decay (default 0.9999)")
    t.add_argument("--save-every", type=int, default=500)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    t.add_argument("--device", default="cpu", help="cpu or cuda[:N] (bf16 autocast on cuda)")
    t.add_argument(
        "--text-encoder",
        default=None,
        help="T5 name or local folder, or a toy CLIP (toyclip-coordconv, toyclip:FOLDER) "
        "(default: the config's)",
    )
    t.set_defaults(func=_train)
    c = sub.add_parser("params", help="print parameter counts of a config (no weights allocated)")
    c.add_argument("--config", required=True, help="bundled config name or .json path")
    c.set_defaults(func=_params)
    p.set_defaults(func=lambda args: p.print_help() or 0)


def _load_config(name: str):
    from drawbench.commands import CommandError
    from generators.imagen.config import load_config

    try:
        return load_config(name)
    except (ValueError, FileNotFoundError) as err:
        raise CommandError(str(err)) from None


def _params(args: argparse.Namespace) -> int:
    from generators.imagen.params import count_stage_parameters

    config = _load_config(args.config)
    for k, n in enumerate(count_stage_parameters(config)):
        s = config.stages[k]
        size = f"{s.low_res_size}->{s.image_size}" if s.low_res_size else f"{s.image_size}"
        print(f"stage {k} ({s.unet.architecture} U-Net, {size}): {n:,} parameters ({n / 1e6:.1f}M)")
    return 0


def _train(args: argparse.Namespace) -> int:
    from drawbench.commands import CommandError

    config = _load_config(args.config)
    if not 0 <= args.stage < len(config.stages):
        raise CommandError(
            f"--stage must lie in [0, {len(config.stages) - 1}] for config {args.config}"
        )
    from generators.imagen.text_encoder import load_text_encoder
    from generators.imagen.train import (
        DEFAULT_EMA_DECAY,
        DEFAULT_LEARNING_RATE,
        TrainOptions,
        train_stage,
    )

    try:
        options = TrainOptions(
            steps=args.steps,
            batch_size=args.batch_size,
            grad_accum=args.grad_accum,
            lr=args.lr or DEFAULT_LEARNING_RATE,
            ema_decay=DEFAULT_EMA_DECAY if args.ema_decay is None else args.ema_decay,
            save_every=args.save_every,
            seed=args.seed,
            device=args.device,
        )
        from generators.imagen.dataset import list_image_captions

        list_image_captions(args.data)
        encoder = load_text_encoder(
            args.text_encoder or config.text_encoder,
            max_length=config.max_text_length,
            device=args.device,
        )
        if encoder.embed_dim != config.text_embed_dim:
            raise CommandError(
                f"text encoder {encoder.name} has width {encoder.embed_dim} but config {args.config} wants text_embed_dim {config.text_embed_dim}"
            )
        losses = train_stage(
            config, args.stage, args.data, args.out, encoder, options, resume=args.resume
        )
    except (ValueError, FileNotFoundError, ImportError, FloatingPointError) as err:
        raise CommandError(str(err)) from None
    if losses:
        print(
            f"stage {args.stage}: {len(losses)} steps, loss {losses[0]:.4f} -> {losses[-1]:.4f}; checkpoint in {args.out}"
        )
    else:
        print(
            f"stage {args.stage}: already trained to {args.steps} steps; checkpoint in {args.out}"
        )
    return 0
