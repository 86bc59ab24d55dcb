"""`drawbench evaluate`: planning refuses early and clearly; the decode pass feeds every metric;
metrics.json is merged; offline without weights fails before any work, naming file and flag."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from drawbench.pipeline.evaluate import (
    EvaluateOptions,
    EvaluationError,
    decode_pass,
    plan_evaluation,
    write_results,
)
from drawbench.prompts import load_prompt_set
from drawbench.runs import RunDirectory
from evaluators.base import EvalBatch, Evaluator, MetricResult
from evaluators.fid import FidEvaluator, InceptionFeatures
from evaluators.fid_stats import FeatureStats
from evaluators.reference import ReferenceStats, extractor_id


def make_run(path, n_prompts=3, per_prompt=2, size=64, prompt_set=None):
    pset = load_prompt_set("drawbench")
    run = RunDirectory.create(
        path,
        {
            "generator": {"name": "noise"},
            "prompt_set": prompt_set or pset.describe(),
            "seed": 0,
            "images_per_prompt": per_prompt,
        },
    )
    rng = np.random.default_rng(0)
    for p in pset.prompts[:n_prompts]:
        for j in range(per_prompt):
            img = Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
            run.write_image(p.id, p.category, j, 0, img, 0.0)
    return run


def _clean_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DRAWBENCH_WEIGHTS"}
    env.update(
        HOME=str(tmp_path / "home"),
        DRAWBENCH_CACHE=str(tmp_path / "cache"),
        HF_HUB_OFFLINE="1",
        TORCH_HOME=str(tmp_path / "torch"),
        HF_HOME=str(tmp_path / "hf"),
    )
    return env


@pytest.mark.parametrize(
    ("metric", "filename", "flag"),
    [
        ("fid", "inception-2015-12-05.pt", "--inception-weights"),
        pytest.param(
            "clip", "open_clip_pytorch_model.bin", "--clip-weights", marks=pytest.mark.slow
        ),  # open_clip import
    ],
)
def test_offline_without_weights_fails_before_any_work(tmp_path, metric, filename, flag):
    if metric == "fid" and os.path.exists("/tmp/inception-2015-12-05.pt"):
        pytest.skip("clean-fid's cached Inception is present in /tmp")
    run = make_run(tmp_path / "run", n_prompts=1, per_prompt=1)
    cmd = [
        sys.executable,
        "-c",
        "import sys; from drawbench.cli import main; sys.exit(main())",
        "evaluate",
        str(run.path),
        "--metrics",
        metric,
        "--reference",
        str(tmp_path / "ref.npz"),
        "--offline",
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=_clean_env(tmp_path), timeout=120
    )
    assert proc.returncode == 2, proc.stderr
    assert filename in proc.stderr and flag in proc.stderr and "Traceback" not in proc.stderr
    assert "evaluating" not in proc.stderr  # nothing started
    assert not (run.path / "metrics.json").exists()


def _random_reference(tmp_path, **overrides):
    prov = {
        "implementation": "cleanfid.inception_pytorch.InceptionV3 (random init)",
        "random_weights": True,
        "seed": 0,
    }
    prov.update(extractor=extractor_id(prov), mode="clean", resolution="64x64")
    prov.update(overrides)
    stats = FeatureStats.from_features(np.random.default_rng(0).normal(size=(4, 3)))
    return ReferenceStats(stats, prov).save(tmp_path / "ref.npz")


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ({"mode": "legacy_pytorch"}, ["different mode", "legacy_pytorch", "clean"]),
        (
            {"resolution": "256x256"},
            ["different resolution", "256x256", "64x64", "--resolution 64"],
        ),
        (
            {"extractor": "some other net"},
            ["different extractor", "some other net", "random-weights"],
        ),
    ],
)
def test_reference_with_other_settings_is_refused_naming_both(tmp_path, override, words):
    run = make_run(tmp_path / "run")
    ref = _random_reference(tmp_path, **override)
    opts = EvaluateOptions(
        metrics=("fid",), reference=str(ref), offline=True, allow_random_weights=True
    )
    with pytest.raises(EvaluationError) as err:
        plan_evaluation(run.path, opts)
    for w in words:
        assert w in str(err.value)


def test_plan_errors_say_what_to_do(tmp_path):
    run = make_run(tmp_path / "run")
    with pytest.raises(EvaluationError, match=r"unknown metric.*'bleu'.*available: clip, fid, kid"):
        plan_evaluation(run.path, EvaluateOptions(metrics=("bleu",)))
    with pytest.raises(EvaluationError, match="--reference"):
        plan_evaluation(run.path, EvaluateOptions(metrics=("fid",)))
    custom = make_run(tmp_path / "custom", prompt_set={"name": "my-prompts", "sha256": "0" * 64})
    with pytest.raises(EvaluationError, match="--prompts FILE"):
        plan_evaluation(custom.path, EvaluateOptions(metrics=("clip",), offline=True))


def test_items_come_in_one_order_whatever_order_the_manifest_was_written_in(tmp_path):
    """Generation's saver threads append manifest lines in completion order, which varies between
    runs of the same command; bootstrap intervals resample items by position, so the plan sorts
    them (prompt id, then sample) and identical images give identical intervals."""
    run = make_run(tmp_path / "run", n_prompts=4, per_prompt=3)
    ref = _random_reference(tmp_path)
    options = EvaluateOptions(
        metrics=("fid",), reference=str(ref), offline=True, allow_random_weights=True
    )
    manifest = run.path / "manifest.jsonl"
    lines = manifest.read_text().splitlines()
    orders = []
    for seed in (0, 1):
        shuffled = [lines[i] for i in np.random.default_rng(seed).permutation(len(lines))]
        assert shuffled != lines
        manifest.write_text("\n".join(shuffled) + "\n")
        orders.append(
            [(it.prompt_id, it.path.name) for it in plan_evaluation(run.path, options).items]
        )
    assert orders[0] == orders[1] == sorted(orders[0])
    assert len(orders[0]) == 12


class Recorder(Evaluator):
    """Sees every batch; needs the decoded images (no worker-side preprocessing)."""

    name = "recorder"

    def reset(self):
        self.seen = []

    def __init__(self):
        self.reset()

    def update(self, batch: EvalBatch):
        self.seen += [
            (pid, im.size) for pid, im in zip(batch.prompt_ids, batch.images, strict=True)
        ]

    def compute(self):
        return MetricResult(self.name, float(len(self.seen)), True, len(self.seen))


def test_one_decode_pass_feeds_every_evaluator_with_workers(tmp_path):
    run = make_run(tmp_path / "run")
    ref = _random_reference(tmp_path)
    plan = plan_evaluation(
        run.path,
        EvaluateOptions(
            metrics=("fid",), reference=str(ref), offline=True, allow_random_weights=True
        ),
    )
    assert plan.random_weights == ["inception"] and plan.reference.provenance["mode"] == "clean"
    ref_stats = FeatureStats.from_features(np.random.default_rng(1).normal(size=(10, 4)))
    features = InceptionFeatures(
        lambda x: torch.nn.functional.adaptive_avg_pool2d(x, 2)[:, :, 0].flatten(1)[:, :4],
        "clean",
        provenance={"implementation": "test"},
    )
    fid, rec = FidEvaluator(features, ReferenceStats(ref_stats, {})), Recorder()
    report = decode_pass(plan.items, [fid, rec], batch_size=4, workers=1, progress=False)
    assert report.n == 6 and report.sizes == {(64, 64)} and fid.stats.count == 6
    assert [pid for pid, _ in rec.seen] == [it.prompt_id for it in plan.items]
    run.write_metrics({"run": {}, "metrics": {"other": {"value": 1}}})
    doc = write_results(run, {"fid": fid.compute(), "recorder": rec.compute()})
    on_disk = json.loads((run.path / "metrics.json").read_text())
    assert on_disk == doc and set(on_disk["metrics"]) == {"other", "fid", "recorder"}
    assert on_disk["run"]["name"] == "run" and on_disk["metrics"]["fid"]["n"] == 6
    assert any("2048" in w for w in on_disk["metrics"]["fid"]["warnings"])


@pytest.mark.slow
def test_cli_end_to_end_with_random_weights_is_labelled(tmp_path):
    run = make_run(tmp_path / "run", n_prompts=2, per_prompt=2)
    real = tmp_path / "real"
    real.mkdir()
    for i in range(4):
        Image.fromarray(
            np.random.default_rng(i).integers(0, 255, (64, 64, 3), dtype=np.uint8)
        ).save(real / f"{i}.png")
    cmd = [
        sys.executable,
        "-c",
        "import sys; from drawbench.cli import main; sys.exit(main())",
        "evaluate",
        str(run.path),
        "--metrics",
        "clip,fid,kid",
        "--reference",
        str(real),
        "--offline",
        "--workers",
        "0",
        "--clip-model",
        "ViT-B-32",
        "--allow-random-weights",
        "--no-progress",
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=_clean_env(tmp_path), timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    assert "RANDOM WEIGHTS — number is meaningless" in proc.stderr
    metrics = json.loads((run.path / "metrics.json").read_text())["metrics"]
    assert set(metrics) == {"clip_score", "fid", "kid"}
    for m in metrics.values():
        assert m["provenance"]["random_weights"] is True and m["n"] == 4
    assert (run.path / "fid_stats_clean.npz").is_file()


@pytest.mark.slow
def test_reference_build_writes_out_and_cache_with_provenance(tmp_path, monkeypatch):
    from drawbench.cli import main
    from evaluators.reference import load_reference

    monkeypatch.setenv("DRAWBENCH_CACHE", str(tmp_path / "cache"))
    real = tmp_path / "real"
    real.mkdir()
    for i in range(3):
        Image.fromarray(
            np.random.default_rng(i).integers(0, 255, (80, 64, 3), dtype=np.uint8)
        ).save(real / f"{i}.png")
    out = tmp_path / "ref.npz"
    assert (
        main(
            [
                "reference",
                "build",
                "--images",
                str(real),
                "--out",
                str(out),
                "--center-crop",
                "--resolution",
                "64",
                "--offline",
                "--allow-random-weights",
                "--workers",
                "0",
                "--no-progress",
            ]
        )
        == 0
    )
    ref = load_reference(out)
    assert ref.stats.count == 3 and ref.features.shape == (3, 2048)
    prov = ref.provenance
    assert prov["mode"] == "clean" and prov["resolution"] == "64x64" and prov["center_crop"] is True
    assert prov["random_weights"] is True and len(prov["image_set_sha256"]) == 64
    assert list((tmp_path / "cache" / "reference").glob("real-clean-*.npz"))
    run = make_run(tmp_path / "run", n_prompts=1, per_prompt=2)
    plan = plan_evaluation(
        run.path,
        EvaluateOptions(
            metrics=("fid", "kid"), reference=str(out), offline=True, allow_random_weights=True
        ),
    )
    assert plan.reference.stats.count == 3  # same extractor, mode and resolution: accepted
