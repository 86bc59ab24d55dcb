"""`drawbench run CONFIG.toml` and `drawbench demo`, end to end on CPU."""

import json

import pytest

from drawbench.cli import main
from drawbench.pipeline.benchmark import plan_benchmark, run_benchmark
from drawbench.pipeline.config import ConfigError, RunConfig, load_run_config
from drawbench.pipeline.examples import example_path, list_examples
from drawbench.report import simulate_votes

CONFIG = """
title = "two noise models"
out = "{out}"
seed = 1
[prompts]
set = "drawbench"
category = "Colors"
limit = 3
images_per_prompt = 2
[[generators]]
name = "noise-a"
generator = "noise"
options = {{ width = 32, height = 32, variant = "a" }}
[[generators]]
name = "noise-b"
generator = "noise"
options = {{ width = 32, height = 32, variant = "b" }}
"""


def _write(tmp_path, extra=""):
    path = tmp_path / "bench.toml"
    path.write_text(CONFIG.format(out=tmp_path / "exp") + extra)
    return path


def test_run_generates_reports_and_resumes(tmp_path):
    cfg = load_run_config(_write(tmp_path))
    prompts = plan_benchmark(cfg).requests[0].prompts
    votes = simulate_votes(["noise-a", "noise-b"], list(prompts), seed=0)
    votes.to_csv(tmp_path / "votes.csv", index=False)
    cfg = load_run_config(
        _write(
            tmp_path,
            f'[study]\nname = "s"\nimages_per_set = 2\nvotes = "{tmp_path / "votes.csv"}"\n',
        )
    )
    report = run_benchmark(cfg, progress=False)
    assert report.is_file() and (report.parent / "report.md").is_file()
    manifest = tmp_path / "exp" / "noise-a" / "manifest.jsonl"
    assert len(manifest.read_text().splitlines()) == 6
    before = {
        p: p.stat().st_mtime_ns
        for p in (tmp_path / "exp").rglob("*.png")
        if "report" not in p.parts
    }
    run_benchmark(cfg, progress=False)  # resumes: nothing regenerated
    after = {p: p.stat().st_mtime_ns for p in before}
    assert before == after and len(manifest.read_text().splitlines()) == 6
    assert "SIMULATED" in (report.parent / "report.md").read_text()


def test_check_validates_without_writing(tmp_path, capsys):
    path = _write(tmp_path)
    assert main(["run", str(path), "--check"]) == 0
    assert "valid: 2 generator(s), 3 prompts x 2 images" in capsys.readouterr().out
    assert not (tmp_path / "exp").exists()


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (
            lambda s: s.replace(
                'generator = "noise"\noptions = { width = 32, height = 32, variant = "b" }',
                'generator = "nope"',
            ),
            r"generator 'noise-b': unknown generator 'nope'",
        ),
        (lambda s: s.replace('variant = "b"', "variant = true"), r"generator 'noise-b': .*variant"),
        (
            lambda s: s.replace('category = "Colors"', 'category = "Colours"'),
            r"\[prompts\] unknown category 'Colours'",
        ),
        (lambda s: s + '[metrics]\nnames = ["fid"]\n', r"FID/KID need"),
        (
            lambda s: s + '[metrics]\nnames = ["clip"]\nreference = "/no/such.npz"\n',
            r"reference '/no/such.npz' not found",
        ),
        (
            lambda s: s + '[metrics]\nnames = ["clip"]\noptions = { clip_modle = "x" }\n',
            r"unknown key 'clip_modle'",
        ),
        (
            lambda s: s + '[study]\nname = "s"\nimages_per_set = 2\nprotocol = "nope"\n',
            r"\[study\] unknown protocol 'nope'",
        ),
    ],
)
def test_bad_config_fails_before_anything_runs(tmp_path, edit, match):
    path = tmp_path / "bench.toml"
    path.write_text(edit(CONFIG.format(out=tmp_path / "exp")))
    with pytest.raises(ConfigError, match=match):
        plan_benchmark(load_run_config(path))
    assert not (tmp_path / "exp").exists()


def test_clip_weights_missing_offline_names_the_flag(tmp_path):
    path = _write(tmp_path, '[metrics]\nnames = ["clip"]\noptions = { offline = true }\n')
    with pytest.raises(FileNotFoundError, match="--clip-weights"):
        plan_benchmark(load_run_config(path))


def test_incompatible_existing_run_is_refused(tmp_path):
    cfg = load_run_config(_write(tmp_path))
    run_benchmark(cfg, progress=False)
    changed = RunConfig.from_dict({**_raw(cfg), "seed": 2}, source="changed.toml")
    with pytest.raises(ConfigError, match="different seed"):
        plan_benchmark(changed)


def _raw(cfg):
    return {
        "out": cfg.out,
        "generators": [
            dict(name=g.name, generator=g.generator, options=g.options) for g in cfg.generators
        ],
        "prompts": {"set": "drawbench", "category": "Colors", "limit": 3, "images_per_prompt": 2},
    }


def test_shipped_examples_parse():
    names = list_examples()
    assert {"drawbench-two-diffusers", "coco30k-fid-guidance"} <= set(names)
    for name in names:
        cfg = load_run_config(example_path(name))
        assert cfg.generators and cfg.metrics is not None
    with pytest.raises(ValueError, match="unknown example 'x'; available: "):
        example_path("x")


@pytest.mark.slow
def test_run_with_metrics_and_study_database(tmp_path):
    extra = (
        '[metrics]\nnames = ["clip", "fid"]\nreference = "{ref}"\nworkers = 0\n'
        'options = {{ allow_random_weights = true, offline = true, clip_model = "ViT-B-32" }}\n'
        '[study]\nname = "s1"\nimages_per_set = 2\nratings_per_item = 1\ndb = "{db}"\n'
    ).format(ref=tmp_path / "exp" / "noise-a" / "images", db=tmp_path / "studies.db")
    cfg = load_run_config(_write(tmp_path))
    run_benchmark(cfg, progress=False)  # make the images used as a reference folder
    report = run_benchmark(load_run_config(_write(tmp_path, extra)), progress=False)
    metrics = json.loads((tmp_path / "exp" / "noise-b" / "metrics.json").read_text())["metrics"]
    assert {"clip_score", "fid"} <= set(metrics) and metrics["fid"]["provenance"]["random_weights"]
    assert (tmp_path / "studies.db").is_file()
    assert "RANDOM WEIGHTS" in (report.parent / "report.md").read_text()
