"""Toy CLIPs as metric models (issue 8, items 4-5): ``--clip-model toyclip...`` is the project's
CLIP score with a toy model, ``--fid-features toyclip...`` is FID/KID on its image features.

Pinned here: the score is ``100 * max(cos, 0)`` of the model's own embeddings; the shipped
CoordConv judge separates correct renders from mismatched ones through the real pipeline; a
non-toy word fails before any image is read; toy FID is the Frechet distance of the model's
(unnormalised) image embeddings, ~0 for a set with itself, small for renders vs other renders
and large for noise; references made with other features are refused naming both; and no toy
model is ever labelled as random weights.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("open_clip")
pytest.importorskip("safetensors")
pytest.importorskip("cleanfid")

from PIL import Image  # noqa: E402

from drawbench.images import load_image_rgb, sha256_file  # noqa: E402
from drawbench.pipeline.evaluate import (  # noqa: E402
    RANDOM_WEIGHTS_NOTICE,
    EvaluateOptions,
    EvaluationError,
    plan_evaluation,
    run_evaluation,
)
from drawbench.prompts import load_prompt_set  # noqa: E402
from drawbench.runs import RunDirectory  # noqa: E402
from drawbench.toyworld import parse_caption  # noqa: E402
from drawbench.toyworld_render import render_scene  # noqa: E402
from drawbench.toyworld_text import WORDS, ToyTokenizer  # noqa: E402
from evaluators import toyclip as toyclip_module  # noqa: E402
from evaluators.base import EvalBatch  # noqa: E402
from evaluators.clip_score import create_clip_score  # noqa: E402
from evaluators.fid import FidEvaluator, ToyClipFeatures, create_fid_features  # noqa: E402
from evaluators.fid_stats import FeatureStats  # noqa: E402
from evaluators.reference import ReferenceStats, extractor_id, load_reference  # noqa: E402
from evaluators.toyclip import (  # noqa: E402
    DEFAULT_TOYCLIP,
    SHIPPED_TOYCLIPS,
    WEIGHTS_FILE,
    ToyClipConfig,
    ToyClipTransform,
    create_toyclip,
    is_toyclip_name,
    load_toyclip,
    resolve_toyclip,
    save_toyclip,
    shipped_toyclip_dir,
)

TOYWORLD = load_prompt_set("toyworld")
#: Every 8th toyworld prompt: all four categories, distinct meanings.
PROMPTS = TOYWORLD.prompts[::8][:8]
TINY = {
    "vit": ToyClipConfig(
        image_tower="vit",
        embed_dim=16,
        vit_width=32,
        vit_layers=1,
        vit_head_width=16,
        text_width=32,
        text_heads=2,
        text_layers=1,
    ),
    "coordconv": ToyClipConfig(
        image_tower="coordconv",
        embed_dim=16,
        cnn_channels=(8, 8),
        cnn_strides=(4, 2),
        cnn_hidden=32,
        text_width=32,
        text_heads=2,
        text_layers=1,
    ),
}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def tiny_toyclips(tmp_path_factory) -> dict[str, Path]:
    """Untrained tiny toy CLIPs (one per tower), saved as ``save_toyclip`` folders."""
    root = tmp_path_factory.mktemp("tiny-toyclips")
    return {
        tower: save_toyclip(create_toyclip(cfg, seed=1), cfg, root / tower, {"note": "test"})
        for tower, cfg in TINY.items()
    }


def make_toy_run(path: Path, image_of, per_prompt: int = 1, prompts=PROMPTS) -> RunDirectory:
    """A run directory over toyworld prompts; ``image_of(index, prompt, sample)`` draws each image."""
    run = RunDirectory.create(
        path,
        {
            "generator": {"name": "test"},
            "prompt_set": TOYWORLD.describe(),
            "seed": 0,
            "images_per_prompt": per_prompt,
        },
    )
    for i, p in enumerate(prompts):
        for j in range(per_prompt):
            run.write_image(p.id, p.category, j, 0, image_of(i, p, j), 0.0)
    return run


def render(prompt, seed: int) -> Image.Image:
    return render_scene(parse_caption(prompt.text), seed)


def options(**kw) -> EvaluateOptions:
    return EvaluateOptions(workers=0, device="cpu", offline=True, batch_size=8, **kw)


def assert_not_random(result) -> None:
    assert result.provenance["random_weights"] is False
    assert "train_toyclip.py" in result.provenance["trained_by"]
    assert RANDOM_WEIGHTS_NOTICE not in result.warnings
    assert not any("random" in w.lower() for w in result.warnings)


# --------------------------------------------------------------------------- names


def test_toy_names_resolve_offline_and_unknown_ones_list_the_available(tiny_toyclips, tmp_path):
    for name in ("toyclip", "toyclip-vit", "toyclip-coordconv", "toyclip:/x", "toyclip-nope"):
        assert is_toyclip_name(name)
    for name in ("ViT-B-32", "ViT-L-14", "toyclipper", None):
        assert not is_toyclip_name(name)
    assert resolve_toyclip("toyclip-coordconv") == shipped_toyclip_dir("toyclip-coordconv")
    assert resolve_toyclip(f"toyclip:{tiny_toyclips['vit']}") == tiny_toyclips["vit"]
    with pytest.raises(ValueError, match=r"'toyclip-nope' is unknown; available: .*coordconv"):
        resolve_toyclip("toyclip-nope")
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        resolve_toyclip(f"toyclip:{tmp_path}")
    if DEFAULT_TOYCLIP not in SHIPPED_TOYCLIPS:  # until the ViT toy CLIP ships
        for name in ("toyclip", "toyclip-vit"):
            with pytest.raises(ValueError, match=r"not shipped yet; available: toyclip-coord"):
                resolve_toyclip(name)


def test_shipping_the_vit_is_only_adding_its_name(tiny_toyclips, monkeypatch, tmp_path):
    """With ``toyclip-vit`` in SHIPPED_TOYCLIPS (its folder stood in for), ``toyclip`` scores."""
    folders = {"toyclip-vit": tiny_toyclips["vit"]}
    real_dir = shipped_toyclip_dir
    monkeypatch.setattr(toyclip_module, "SHIPPED_TOYCLIPS", (*SHIPPED_TOYCLIPS, "toyclip-vit"))
    monkeypatch.setattr(
        toyclip_module, "shipped_toyclip_dir", lambda name: folders.get(name) or real_dir(name)
    )
    run = make_toy_run(tmp_path / "run", lambda i, p, j: render(p, j))
    plan = plan_evaluation(run.path, options(metrics=("clip",), clip_model="toyclip"))
    result = run_evaluation(plan, progress=False)["clip_score"]
    assert result.settings["model"] == "toyclip-vit" and result.provenance["model"] == "toyclip-vit"
    assert result.provenance["image_tower"] == "vit"


# --------------------------------------------------------------------------- CLIP score


@pytest.mark.parametrize("tower", ["vit", "coordconv"])
def test_toy_clip_score_is_the_clamped_cosine_computed_by_hand(tiny_toyclips, tmp_path, tower):
    folder = tiny_toyclips[tower]
    run = make_toy_run(tmp_path / "run", lambda i, p, j: render(p, 10 * i + j), per_prompt=2)
    plan = plan_evaluation(run.path, options(metrics=("clip",), clip_model=f"toyclip:{folder}"))
    assert plan.random_weights == [] and plan.clip_weights == folder / WEIGHTS_FILE
    result = run_evaluation(plan, progress=False)["clip_score"]

    model, config = load_toyclip(folder)
    transform, tokenizer = ToyClipTransform(config.image_size), ToyTokenizer()
    by_prompt: dict[str, list[float]] = {}
    with torch.no_grad():
        for item in plan.items:
            img = model.encode_image(transform(load_image_rgb(item.path))[None])[0]
            txt = model.encode_text(tokenizer([item.prompt]))[0]
            cos = float(torch.nn.functional.cosine_similarity(img, txt, dim=0))
            by_prompt.setdefault(item.prompt_id, []).append(100 * max(cos, 0.0))
    expected = {pid: float(np.mean(v)) for pid, v in by_prompt.items()}
    assert result.per_prompt == pytest.approx(expected, abs=1e-4)
    assert result.value == pytest.approx(
        np.mean([s for v in by_prompt.values() for s in v]), abs=1e-4
    )
    assert result.n == 16 and set(result.per_category) == {p.category for p in PROMPTS}
    assert result.ci_low <= result.value <= result.ci_high
    assert result.settings["model"] == f"toyclip:{folder.resolve()}"
    assert result.settings["pretrained"] is None and result.settings["clamp"] == "per pair, at 0"
    assert result.provenance["weights_sha256"] == sha256_file(folder / WEIGHTS_FILE)
    assert_not_random(result)


def test_shipped_judge_scores_correct_renders_far_above_mismatched_ones(tmp_path):
    good = make_toy_run(tmp_path / "good", lambda i, p, j: render(p, 100 + j))
    shifted = lambda i, p, j: render(PROMPTS[(i + 3) % len(PROMPTS)], 100 + j)  # noqa: E731
    bad = make_toy_run(tmp_path / "bad", shifted)
    opts = options(metrics=("clip",), clip_model="toyclip-coordconv", clip_pretrained="openai")
    values = {}
    for run in (good, bad):
        plan = plan_evaluation(run.path, opts)
        assert plan.options.clip_pretrained is None  # a pretrained tag is ignored for toy names
        run_evaluation(plan, progress=False)
        metric = json.loads((run.path / "metrics.json").read_text())["metrics"]["clip_score"]
        values[run.name] = metric["value"]
        assert metric["settings"]["model"] == "toyclip-coordconv"
        assert metric["provenance"]["random_weights"] is False
        assert metric["provenance"]["weights_sha256"] == sha256_file(
            shipped_toyclip_dir("toyclip-coordconv") / WEIGHTS_FILE
        )
        assert set(metric["per_category"]) == {"Colors", "Counting", "Positional", "Composition"}
    assert values["good"] > 60 > 30 > values["bad"]


def test_a_word_outside_the_toy_vocabulary_fails_before_any_image(tmp_path, monkeypatch, capsys):
    from drawbench.cli import main

    pset = load_prompt_set("drawbench")
    run = RunDirectory.create(
        tmp_path / "run",
        {
            "generator": {"name": "t"},
            "prompt_set": pset.describe(),
            "seed": 0,
            "images_per_prompt": 1,
        },
    )
    first = pset.prompts[0]
    run.write_image(first.id, first.category, 0, 0, render(PROMPTS[0], 0), 0.0)
    word = next(w for w in first.text.rstrip(".").lower().split() if w not in WORDS)

    def no_decoding(path):
        raise AssertionError(f"decoded {path} before the prompts were checked")

    monkeypatch.setattr("drawbench.pipeline.evaluate.load_image_rgb", no_decoding)
    with pytest.raises(EvaluationError, match="only reads toy-world captions") as err:
        plan_evaluation(run.path, options(metrics=("clip",), clip_model="toyclip-coordconv"))
    assert repr(word) in str(err.value) and first.id in str(err.value)
    code = main(["evaluate", str(run.path), "--clip-model", "toyclip-coordconv", "--offline"])
    stderr = capsys.readouterr().err
    assert code == 2 and repr(word) in stderr and "Traceback" not in stderr
    assert "evaluating" not in stderr and not (run.path / "metrics.json").exists()


def test_clip_weights_conflicting_with_a_toy_name_are_refused(tiny_toyclips, tmp_path):
    run = make_toy_run(tmp_path / "run", lambda i, p, j: render(p, j))
    other = tiny_toyclips["vit"] / WEIGHTS_FILE
    with pytest.raises(EvaluationError, match=r"--clip-weights .* conflicts with --clip-model"):
        plan_evaluation(
            run.path,
            options(metrics=("clip",), clip_model="toyclip-coordconv", clip_weights=str(other)),
        )
    own = shipped_toyclip_dir("toyclip-coordconv") / WEIGHTS_FILE
    plan = plan_evaluation(
        run.path, options(metrics=("clip",), clip_model="toyclip-coordconv", clip_weights=str(own))
    )
    assert plan.clip_weights == own


def test_streaming_toy_clip_score_reads_the_prompts_before_the_images(tiny_toyclips):
    score = create_clip_score(f"toyclip:{tiny_toyclips['coordconv']}")
    batch = EvalBatch([None], ["a red dragon"], ["p0"], ["c"], {"clip": "not a tensor"})
    with pytest.raises(ValueError, match="'dragon'"):
        score.update(batch)


# --------------------------------------------------------------------------- toy FID


def test_toy_features_are_the_unnormalised_image_embedding_and_fid_is_cleanfids(tiny_toyclips):
    from cleanfid.fid import frechet_distance as cleanfid_frechet_distance

    name = f"toyclip:{tiny_toyclips['coordconv']}"
    features = create_fid_features(name)
    assert isinstance(features, ToyClipFeatures) and features.mode == "toyclip-64px"
    images = [render(PROMPTS[i % 8], i) for i in range(24)]
    others = [render(PROMPTS[i % 8], 1000 + i) for i in range(24)]
    model, _ = load_toyclip(tiny_toyclips["coordconv"])
    with torch.no_grad():
        by_hand = model.encode_image(torch.stack([ToyClipTransform()(im) for im in images]))
    batch = EvalBatch(images, [""] * 24, [""] * 24, [""] * 24)
    assert features.features(batch) == pytest.approx(by_hand.numpy(), abs=1e-5)

    def fid_against(ref_images):
        ref_feats = features.features(EvalBatch(ref_images, *([[""] * len(ref_images)] * 3)))
        reference = ReferenceStats(FeatureStats.from_features(ref_feats), {})
        fid = FidEvaluator(features, reference)
        fid.update(batch)
        return fid.compute(), ref_feats

    same, _ = fid_against(images)
    assert abs(same.value) < 1e-6
    result, ref_feats = fid_against(others)
    x = by_hand.double().numpy()
    expected = cleanfid_frechet_distance(
        x.mean(0), np.cov(x, rowvar=False), ref_feats.mean(0), np.cov(ref_feats, rowvar=False)
    )
    assert result.value == pytest.approx(expected, rel=1e-6)
    assert result.settings["features"] == name and result.provenance["random_weights"] is False


def test_toy_fid_through_the_pipeline_ranks_renders_far_below_noise(tmp_path, monkeypatch):
    monkeypatch.setenv("DRAWBENCH_CACHE", str(tmp_path / "cache"))
    per = 2
    reference = tmp_path / "reference"
    reference.mkdir()
    for p in PROMPTS:
        for j in range(per):
            render(p, 5000 + j).save(reference / f"{p.id}-{j}.png")
    rng = np.random.default_rng(0)
    noise = lambda i, p, j: Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))  # noqa: E731
    runs = {
        "renders": make_toy_run(tmp_path / "renders", lambda i, p, j: render(p, j), per),
        "noise": make_toy_run(tmp_path / "noise", noise, per),
    }
    opts = options(
        metrics=("fid", "kid"), reference=str(reference), fid_features="toyclip-coordconv"
    )
    fid = {}
    for name, run in runs.items():
        plan = plan_evaluation(run.path, opts)
        assert plan.random_weights == [] and plan.fid_settings["features"] == "toyclip-coordconv"
        results = run_evaluation(plan, progress=False)
        fid[name] = results["fid"].value
        for metric in ("fid", "kid"):
            r = results[metric]
            assert r.settings["features"] == "toyclip-coordconv"
            assert r.settings["mode"] == "toyclip-64px" and r.n == 16
            assert r.provenance["reference"]["provenance"]["features"] == "toyclip-coordconv"
            assert_not_random(r)
        stats = load_reference(run.path / "fid_stats_toyclip-coordconv.npz")
        assert stats.provenance["features"] == "toyclip-coordconv" and stats.stats.dim == 128
    assert fid["renders"] < 0.2 and fid["noise"] > 10 * fid["renders"]
    cached = sorted((tmp_path / "cache" / "reference").glob("reference-toyclip-64px-*.npz"))
    assert len(cached) == 1  # computed once, reused by the second run


def test_toy_fid_bootstrap_pairs_with_a_reference_grouped_by_prompt(tmp_path, monkeypatch):
    monkeypatch.setenv("DRAWBENCH_CACHE", str(tmp_path / "cache"))
    run = make_toy_run(tmp_path / "renders", lambda i, p, j: render(p, j), 2)
    grouped = make_toy_run(tmp_path / "truth", lambda i, p, j: render(p, 7000 + j), 3)
    flat = tmp_path / "flat"
    flat.mkdir()
    for p in PROMPTS:
        for j in range(3):
            render(p, 7000 + j).save(flat / f"{p.id}-{j}.png")
    fewer = make_toy_run(tmp_path / "fewer", lambda i, p, j: render(p, 7000 + j), 3, PROMPTS[:-1])

    def evaluate(reference: Path, pairing: str = "auto"):
        opts = options(
            metrics=("fid",),
            reference=str(reference),
            fid_features="toyclip-coordconv",
            fid_bootstrap=100,
            fid_pairing=pairing,
        )
        return run_evaluation(plan_evaluation(run.path, opts), progress=False)["fid"]

    paired, fixed = evaluate(grouped.path / "images"), evaluate(flat)
    assert "paired: each round resamples the same prompts" in paired.ci_method
    assert "reference fixed" in fixed.ci_method
    assert paired.value == pytest.approx(fixed.value, rel=1e-9)  # same images, same estimate
    assert "reference fixed" in evaluate(grouped.path / "images", "fixed").ci_method
    assert "paired" in evaluate(grouped.path, "paired").ci_method  # a run directory: its images/
    assert "reference fixed" in evaluate(fewer.path / "images").ci_method  # prompts differ: auto
    with pytest.raises(
        EvaluationError,
        match="not every reference image sits in a folder named after its prompt id",
    ):
        evaluate(flat, "paired")
    with pytest.raises(EvaluationError, match=r"not the run's prompt ids \(0 extra, 1 missing\)"):
        evaluate(fewer.path / "images", "paired")


# --------------------------------------------------------------------------- compatibility


def _inception_reference(tmp_path) -> Path:
    prov = {
        "implementation": "cleanfid.inception_torchscript.InceptionV3W",
        "weights_sha256": "ab" * 32,
        "random_weights": False,
    }
    prov.update(extractor=extractor_id(prov), mode="clean", resolution="64x64")
    stats = FeatureStats.from_features(np.random.default_rng(0).normal(size=(4, 3)))
    return ReferenceStats(stats, prov).save(tmp_path / "inception-ref.npz")


def test_inception_statistics_never_meet_toy_features(tmp_path, tiny_toyclips, monkeypatch):
    from drawbench.cli import main

    monkeypatch.setenv("DRAWBENCH_CACHE", str(tmp_path / "cache"))
    run = make_toy_run(tmp_path / "run", lambda i, p, j: render(p, j))
    toy = options(metrics=("fid",), fid_features="toyclip-coordconv")
    inception_ref = _inception_reference(tmp_path)
    with pytest.raises(EvaluationError, match="different extractor") as err:
        plan_evaluation(run.path, replace(toy, reference=str(inception_ref)))
    for words in ("InceptionV3W", "features: inception", "toy CLIP", "toyclip-coordconv"):
        assert words in str(err.value)

    # a toy-feature reference from 'drawbench reference build' meets neither Inception nor
    # another toy CLIP
    images = tmp_path / "real"
    images.mkdir()
    for i, p in enumerate(PROMPTS[:4]):
        render(p, 50 + i).save(images / f"{i}.png")
    out = tmp_path / "tiny-ref.npz"
    tiny = f"toyclip:{tiny_toyclips['vit']}"
    args = ["reference", "build", "--images", str(images), "--features", tiny, "--out", str(out)]
    assert main([*args, "--workers", "0", "--no-progress", "--offline"]) == 0
    ref = load_reference(out)
    assert ref.provenance["features"] == f"toyclip:{tiny_toyclips['vit'].resolve()}"
    assert ref.provenance["random_weights"] is False and ref.features.shape == (4, 16)
    assert list((tmp_path / "cache" / "reference").glob("real-toyclip-64px-*.npz"))
    with pytest.raises(EvaluationError, match="different extractor") as err:
        plan_evaluation(
            run.path,
            options(metrics=("fid",), reference=str(out), fid_features="toyclip-coordconv"),
        )
    assert "vit image tower" in str(err.value) and "coordconv image tower" in str(err.value)
    with pytest.raises(EvaluationError, match="different extractor") as err:
        plan_evaluation(
            run.path, options(metrics=("fid",), reference=str(out), allow_random_weights=True)
        )
    assert "features: inception" in str(err.value) and "--features inception" in str(err.value)
    plan = plan_evaluation(
        run.path, options(metrics=("fid",), reference=str(out), fid_features=tiny)
    )
    assert plan.reference.stats.count == 4  # same toy CLIP: accepted


def test_feature_options_are_checked_before_any_work(tmp_path):
    run = make_toy_run(tmp_path / "run", lambda i, p, j: render(p, j))
    ref = str(_inception_reference(tmp_path))
    cases = [
        ({"fid_features": "dino"}, "unknown FID features 'dino'; use inception or a toy CLIP"),
        ({"fid_features": "toyclip-coordconv", "fid_mode": "legacy_pytorch"}, "drop --fid-mode"),
        (
            {"fid_features": "toyclip-coordconv", "inception_weights": "x.pt"},
            "drop --inception-weights",
        ),
    ]
    for extra, message in cases:
        with pytest.raises(EvaluationError, match=message):
            plan_evaluation(run.path, options(metrics=("fid",), reference=ref, **extra))


def test_help_names_the_toy_values(capsys, monkeypatch):
    from drawbench.cli import main

    monkeypatch.setenv("COLUMNS", "1000")  # no line breaks inside names

    for argv in (["evaluate", "--help"], ["reference", "build", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        text = " ".join(capsys.readouterr().out.split())
        assert "toyclip-coordconv" in text and "toyclip:/path/to/folder" in text
