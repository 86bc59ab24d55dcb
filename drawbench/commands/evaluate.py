"""`drawbench evaluate`: FID / KID / CLIP score for a run in one decode pass."""

from __future__ import annotations

import argparse
import sys

from drawbench.commands import add_verb

EXAMPLES = """
  drawbench evaluate runs/sd15 --metrics clip
  drawbench evaluate runs/sd15 --metrics clip,fid,kid --reference ~/.cache/drawbench/coco30k.npz
  drawbench evaluate runs/sd15 --metrics fid --reference real_images/ --fid-mode legacy_tensorflow
  drawbench evaluate runs/demo --offline --allow-random-weights   # pipeline check, numbers meaningless
  drawbench evaluate runs/toy --metrics clip --clip-model toyclip-coordconv   # toy world, offline
  drawbench evaluate runs/toy --metrics fid,kid --fid-features toyclip-coordconv --reference toy_real/
"""

TOY_NAMES = "toyclip (= toyclip-vit), toyclip-vit, toyclip-coordconv, toyclip:/path/to/folder"


def register(subparsers, summary: str) -> None:
    p = add_verb(
        subparsers,
        "evaluate",
        summary,
        "Decode every image of a run once, feed FID / KID / CLIP score, and merge the results "
        "into RUN/metrics.json. Every model file and the reference are resolved before any "
        "image is decoded. Toy-world runs can be judged by the project's toy CLIPs (trained by "
        "benchmarks/train_toyclip.py, shipped with the package, offline): --clip-model and "
        f"--fid-features take {TOY_NAMES}.",
        EXAMPLES,
    )
    p.add_argument("run", help="run directory (runs/NAME)")
    p.add_argument(
        "--metrics",
        help="comma-separated: clip, fid, kid (default: clip, plus fid with --reference)",
    )
    p.add_argument(
        "--reference",
        metavar="STATS.npz|DIR",
        help="reference statistics from 'drawbench reference build', or a folder of real images",
    )
    p.add_argument("--batch-size", type=int, default=None, help="images per batch (default 32)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="decode worker processes (default: cores - 1, at most 8, on CUDA; 0 = in-process on CPUs with <= 4 cores)",
    )
    p.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    p.add_argument(
        "--inception-weights",
        metavar="PATH",
        help="Inception file: inception-2015-12-05.pt (modes clean, legacy_tensorflow) or "
        "pt_inception-2015-12-05-6726825d.pth (legacy_pytorch)",
    )
    p.add_argument(
        "--clip-model",
        help="open_clip model name (default ViT-L-14), or a toy CLIP for toy-world prompts: "
        f"{TOY_NAMES} (a folder written by evaluators.toyclip.save_toyclip); toy CLIPs read "
        "only toy-world captions (another word fails before any image is read)",
    )
    p.add_argument(
        "--clip-pretrained",
        help="open_clip pretrained tag (default openai); ignored for toy CLIPs",
    )
    p.add_argument(
        "--clip-weights",
        metavar="PATH",
        help="CLIP weights file for --clip-model; refused for toy CLIPs (their weights come "
        "with the name; use --clip-model toyclip:/path/to/folder)",
    )
    p.add_argument(
        "--fid-features",
        default="inception",
        metavar="NAME",
        help="features for FID/KID: inception (default, clean-fid's Inception-v3 pool3) or a "
        f"toy CLIP's image embeddings ({TOY_NAMES}; images go through ToyClipTransform at "
        "64 px; --fid-mode and --inception-weights do not apply). A --reference must be built "
        "with the same features",
    )
    p.add_argument(
        "--fid-mode",
        default="clean",
        choices=("clean", "legacy_tensorflow", "legacy_pytorch"),
        help="clean-fid resize mode (default clean); Inception features only",
    )
    p.add_argument(
        "--fid-bootstrap",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="add a 95%% FID interval by resampling prompts ROUNDS times (default 0: none; keeps "
        "d x d statistics per prompt, cheap for 128-d toy features, 32 MiB per prompt for "
        "Inception); see --fid-bootstrap-pairing for how the reference is treated",
    )
    p.add_argument(
        "--fid-bootstrap-pairing",
        choices=("auto", "paired", "fixed"),
        default="auto",
        help="auto (default): when --reference is a folder of images grouped by prompt "
        "(DIR/<prompt id>/<image>, as a run's images folder; a run directory works too) for exactly "
        "this run's prompts, each "
        "bootstrap round resamples the same prompts in the run and in the reference (paired: "
        "right for a per-prompt reference such as ground truth per caption); otherwise the "
        "reference is held fixed. paired: refuse when pairing is impossible. fixed: always "
        "hold the reference fixed. The method used is recorded in metrics.json (ci_method)",
    )
    p.add_argument(
        "--prompts",
        metavar="FILE",
        help="the run's prompt file, when run.json's set is not bundled",
    )
    p.add_argument(
        "--offline",
        action="store_true",
        help="never download (also HF_HUB_OFFLINE=1 / DRAWBENCH_OFFLINE=1)",
    )
    p.add_argument(
        "--allow-random-weights",
        action="store_true",
        help="use random-weight models when weights are missing (pipeline tests only; labelled)",
    )
    p.add_argument(
        "--allow-tf32",
        action="store_true",
        help="leave TF32 on CUDA enabled (flagged in the result)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def options_from_args(args: argparse.Namespace):
    from drawbench.pipeline.evaluate import DEFAULT_BATCH_SIZE, EvaluateOptions

    metrics = (
        tuple(m.strip() for m in args.metrics.split(",") if m.strip()) if args.metrics else None
    )
    return EvaluateOptions(
        metrics=metrics,
        reference=args.reference,
        batch_size=args.batch_size or DEFAULT_BATCH_SIZE,
        workers=args.workers,
        device=args.device,
        inception_weights=args.inception_weights,
        clip_model=args.clip_model,
        clip_pretrained=args.clip_pretrained,
        clip_weights=args.clip_weights,
        fid_mode=args.fid_mode,
        fid_features=args.fid_features,
        offline=args.offline,
        allow_random_weights=args.allow_random_weights,
        allow_tf32=args.allow_tf32,
        prompts=args.prompts,
        fid_bootstrap=args.fid_bootstrap,
        fid_pairing=args.fid_bootstrap_pairing,
    )


def run(args: argparse.Namespace) -> int:
    from drawbench.commands import CommandError
    from drawbench.pipeline.evaluate import EvaluationError, plan_evaluation, run_evaluation
    from drawbench.runs import RunDirectoryError
    from drawbench.weights import WeightsNotFoundError

    if args.batch_size is not None and args.batch_size < 1:
        raise CommandError("--batch-size must be at least 1")
    if args.fid_bootstrap < 0:
        raise CommandError("--fid-bootstrap must be >= 0 (0 turns the interval off)")
    try:
        plan = plan_evaluation(args.run, options_from_args(args))
    except (EvaluationError, WeightsNotFoundError, RunDirectoryError) as err:
        raise CommandError(str(err)) from None
    if plan.random_weights:
        print_random_notice(plan.random_weights)
    print(
        f"evaluating {len(plan.items)} images of {plan.run.path}: {', '.join(plan.metrics)} on {plan.device}",
        file=sys.stderr,
    )
    try:
        results = run_evaluation(plan, progress=not args.no_progress)
    except EvaluationError as err:
        raise CommandError(str(err)) from None
    print_results(results)
    print(f"wrote {plan.run.path / 'metrics.json'}", file=sys.stderr)
    if plan.random_weights:
        print_random_notice(plan.random_weights)
    return 0


def print_random_notice(which: list[str]) -> None:
    from drawbench.pipeline.evaluate import RANDOM_WEIGHTS_NOTICE

    bar = "!" * 72
    print(
        f"{bar}\n!!  {RANDOM_WEIGHTS_NOTICE}: {', '.join(which)} model(s) have RANDOM WEIGHTS\n"
        f"!!  (--allow-random-weights). Use only to test the pipeline; never report these numbers.\n{bar}",
        file=sys.stderr,
    )


def print_results(results) -> None:
    for name, r in results.items():
        ci = f"  95% CI [{r.ci_low:.4f}, {r.ci_high:.4f}]" if r.ci_low is not None else ""
        flag = "  (RANDOM WEIGHTS)" if r.provenance.get("random_weights") else ""
        print(f"{name:<11} {r.value:.4f}{ci}  n={r.n}{flag}")
        for w in r.warnings:
            print(f"  warning: {w}")
