"""`drawbench reference build`: FID reference statistics of a folder of real images."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from drawbench.commands import add_verb

EXAMPLES = """
  drawbench reference build --images ~/coco/val2014 --list coco30k --center-crop --resolution 256 --out coco30k-256.npz
  drawbench reference build --images real/ --mode legacy_tensorflow --inception-weights inception-2015-12-05.pt
  drawbench reference build --images toy_real/ --features toyclip-coordconv --out toy-coordconv.npz
"""


def register(subparsers, summary: str) -> None:
    p = add_verb(
        subparsers,
        "reference",
        summary,
        "Reference statistics (mean, covariance, sufficient statistics, features for KID, and "
        "provenance) for FID/KID. Each image: decode -> optional central square crop "
        "(--center-crop) -> optional bicubic resize to RxR (--resolution) -> the mode's clean-fid "
        "resize -> Inception (or, with --features NAME, ToyClipTransform -> a toy CLIP's image "
        "embedding). The provenance names the feature extractor, and 'drawbench evaluate' "
        "refuses statistics made with other features than its own. A copy is cached in "
        "$DRAWBENCH_CACHE/reference/.",
        EXAMPLES,
    )
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    b = sub.add_parser("build", help="build reference statistics from a folder of images")
    b.add_argument("--images", required=True, metavar="DIR", help="folder of reference images")
    b.add_argument(
        "--list",
        metavar="SET",
        help="use exactly the images of a bundled list (coco30k: file_name column)",
    )
    b.add_argument("--out", metavar="STATS.npz", help="output file (default: only the cache)")
    b.add_argument(
        "--features",
        default="inception",
        metavar="NAME",
        help="feature extractor: inception (default) or a toy CLIP (toyclip (= toyclip-vit), "
        "toyclip-vit, toyclip-coordconv, toyclip:/path/to/folder), as 'drawbench evaluate "
        "--fid-features' takes; --mode and --inception-weights apply to inception only",
    )
    b.add_argument(
        "--mode",
        default="clean",
        choices=("clean", "legacy_tensorflow", "legacy_pytorch"),
        help="clean-fid resize mode (default clean; inception features only)",
    )
    b.add_argument(
        "--inception-weights", metavar="PATH", help="Inception weights file for the mode"
    )
    b.add_argument("--center-crop", action="store_true", help="central square crop before resizing")
    b.add_argument(
        "--resolution", type=int, metavar="R", help="resize (bicubic) to RxR, like the run's images"
    )
    b.add_argument(
        "--no-features", action="store_true", help="do not store features (smaller file; no KID)"
    )
    b.add_argument("--batch-size", type=int, default=32)
    b.add_argument("--workers", type=int, default=None)
    b.add_argument("--device")
    b.add_argument("--offline", action="store_true", help="never download")
    b.add_argument(
        "--allow-random-weights", action="store_true", help="random Inception if missing (labelled)"
    )
    b.add_argument("--no-progress", action="store_true")
    b.set_defaults(func=build)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def build(args: argparse.Namespace) -> int:
    from drawbench.commands import CommandError
    from drawbench.pipeline.evaluate import NoTf32, select_device
    from evaluators.reference import (
        cached_reference_path,
        extractor_id,
        image_set_sha256,
        list_images,
    )

    root = Path(args.images)
    try:
        names = _list_names(args.list) if args.list else None
        files = list_images(root, names)
        device = select_device(args.device)
        features = _create_features(args, device)
    except (OSError, ValueError) as err:
        raise CommandError(str(err)) from None
    digest = image_set_sha256(files, root)
    with NoTf32(device, allow=False):
        ref = _compute(args, files, root, features, digest)
    key = {
        "image_set_sha256": digest,
        "extractor": extractor_id(features.provenance),
        "mode": features.mode,
        "center_crop": args.center_crop,
        "resolution": args.resolution,
    }
    cached = ref.save(cached_reference_path(key, args.list or root.name))
    if args.out:
        ref.save(args.out)
    print(
        f"reference statistics of {ref.stats.count} images ({features.name}, {features.mode}, "
        f"resolution {ref.provenance['resolution']}): {args.out or cached}\n  cached: {cached}",
        file=sys.stderr,
    )
    print(args.out or cached)
    return 0


def _create_features(args: argparse.Namespace, device: str):
    """The FeatureSet of ``--features``: Inception for ``--mode`` (weights resolved; random only
    with --allow-random-weights, announced) or a toy CLIP (its own weights, never random)."""
    from drawbench.commands.evaluate import print_random_notice
    from drawbench.pipeline.evaluate import RANDOM_WEIGHTS_SEED
    from drawbench.weights import WeightsNotFoundError
    from evaluators.fid import INCEPTION_FEATURES, create_fid_features, resolve_fid_features_weights

    try:
        weights = resolve_fid_features_weights(
            args.features, args.mode, args.inception_weights, args.offline
        )
    except WeightsNotFoundError:
        if not args.allow_random_weights or args.inception_weights:
            raise
        weights = None
        print_random_notice(["inception"])
    if args.features != INCEPTION_FEATURES:
        weights = None  # a toy CLIP is loaded by name
    return create_fid_features(args.features, device, args.mode, weights, RANDOM_WEIGHTS_SEED)


def _list_names(name: str) -> list[str]:
    from drawbench.prompts import load_prompt_set

    pset = load_prompt_set(name)
    names = [p.meta.get("file_name") for p in pset]
    if not all(names):
        raise ValueError(
            f"prompt set {name!r} has no file_name column; --list needs one (e.g. coco30k)"
        )
    return names


def _compute(args, files, root, features, digest):
    from drawbench.pipeline.evaluate import compute_reference, default_workers

    return compute_reference(
        files,
        root,
        features,
        center_crop=args.center_crop,
        resolution=args.resolution,
        keep_features=not args.no_features,
        batch_size=args.batch_size,
        workers=default_workers(getattr(features.extractor, "device", "cpu"))
        if args.workers is None
        else args.workers,
        progress=not args.no_progress,
        image_set_sha256=digest,
        extra={"list": args.list},
    )
