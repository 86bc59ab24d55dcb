"""`drawbench generate` as a command: dry run, errors, and real processes (kill -9 and resume,
two shards into one run directory)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drawbench.cli import main

SLOWGEN = """
import time
from generators.trivial import SolidColorGenerator

_solid = SolidColorGenerator(16, 16)


def generate(prompts, seeds, delay=0.0):
    time.sleep(delay * len(prompts))
    return _solid.generate(prompts, seeds)
"""
N_PROMPTS, PER_PROMPT = 10, 4
TOTAL = N_PROMPTS * PER_PROMPT


@pytest.fixture
def slowgen_env(tmp_path):
    """Environment in which ``slowgen:generate`` (solid colours after a sleep) is importable."""
    folder = tmp_path / "mods"
    folder.mkdir()
    (folder / "slowgen.py").write_text(SLOWGEN)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(folder), env.get("PYTHONPATH", "")])
    return env


def command(out, delay=0.0, *extra) -> list[str]:
    return [
        sys.executable, "-m", "drawbench.cli", "generate",
        "--generator", "python",
        "--option", "callable=slowgen:generate",
        "--option", json.dumps({"delay": delay}).join(["kwargs=", ""]),
        "--prompts", "drawbench", "--limit", str(N_PROMPTS),
        "--images-per-prompt", str(PER_PROMPT), "--seed", "3",
        "--out", str(out), "--batch-size", "2", "--no-progress", *extra,
    ]  # fmt: skip


def manifest_lines(run_dir: Path) -> list[str]:
    path = run_dir / "manifest.jsonl"
    return path.read_text().splitlines() if path.exists() else []


def final_state(run_dir: Path) -> dict[str, str]:
    """path -> sha256 from the manifest, after checking one line per image and every file."""
    records = [json.loads(line) for line in manifest_lines(run_dir)]
    assert len(records) == TOTAL
    assert len({(r["prompt_id"], r["sample"]) for r in records}) == TOTAL, (
        "duplicate manifest lines"
    )
    pngs = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.glob("images/*/*.png"))
    assert pngs == sorted(r["path"] for r in records)
    import hashlib

    state = {r["path"]: r["sha256"] for r in records}
    assert state == {p: hashlib.sha256((run_dir / p).read_bytes()).hexdigest() for p in pngs}
    return state


def test_kill_9_during_generation_then_rerun_equals_an_uninterrupted_run(tmp_path, slowgen_env):
    subprocess.run(command(tmp_path / "ref"), env=slowgen_env, check=True, capture_output=True)
    out = tmp_path / "killed"
    proc = subprocess.Popen(command(out, 0.03), env=slowgen_env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(manifest_lines(out)) < 8 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert 8 <= len(manifest_lines(out)) < TOTAL, "the run was not interrupted mid-way"
    rerun = subprocess.run(command(out, 0.03), env=slowgen_env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert "already there" in rerun.stdout
    assert final_state(out) == final_state(tmp_path / "ref")


def test_two_shard_processes_into_one_directory_equal_one_run(tmp_path, slowgen_env):
    subprocess.run(command(tmp_path / "ref"), env=slowgen_env, check=True, capture_output=True)
    out = tmp_path / "sharded"
    torchrun_env = dict(slowgen_env, RANK="1", WORLD_SIZE="2")  # shard 1/2 the torchrun way
    procs = [
        subprocess.Popen(
            command(out, 0.01, "--shard", "0/2"), env=slowgen_env, stdout=subprocess.PIPE
        ),
        subprocess.Popen(command(out, 0.01), env=torchrun_env, stdout=subprocess.PIPE),
    ]
    outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert "shard 0/2" in outputs[0] and "shard 1/2" in outputs[1]
    assert "generated 20 image(s)" in outputs[0] and "generated 20 image(s)" in outputs[1]
    assert final_state(out) == final_state(tmp_path / "ref")


# --------------------------------------------------------------------------- in-process CLI


def cli(tmp_path, *args) -> list[str]:
    return [
        "generate", "--generator", "solid", "--option", "width=8", "--option", "height=8",
        "--prompts", "drawbench", "--images-per-prompt", "2", "--seed", "0",
        "--out", str(tmp_path / "run"), "--no-progress", *args,
    ]  # fmt: skip


def test_dry_run_prints_prompts_images_seeds_and_writes_nothing(tmp_path, capsys):
    assert main(cli(tmp_path, "--category", "colors", "--limit", "2", "--dry-run")) == 0
    out = capsys.readouterr().out.splitlines()
    assert "4 image(s) to generate" in out[2] and "nothing written" in out[2]
    rows = [line.split("\t") for line in out[4:]]
    assert [(r[0], r[1]) for r in rows] == [
        ("drawbench-000", "0"),
        ("drawbench-000", "1"),
        ("drawbench-001", "0"),
        ("drawbench-001", "1"),
    ]
    from drawbench.seeding import derive_seed

    assert rows[1][2] == str(derive_seed(0, "drawbench-000", 1))
    assert rows[0][3:] == ["images/drawbench-000/0.png", "A red colored car."]
    assert not (tmp_path / "run").exists()


def test_dry_run_after_a_partial_run_lists_only_missing_images(tmp_path, capsys):
    assert main(cli(tmp_path, "--limit", "2")) == 0
    assert main(cli(tmp_path, "--limit", "2", "--images-per-prompt", "3", "--dry-run")) == 0
    rows = capsys.readouterr().out.splitlines()
    assert [r.split("\t")[:2] for r in rows[-2:]] == [
        ["drawbench-000", "2"],
        ["drawbench-001", "2"],
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--generator", "nope"], r"unknown generator 'nope'; available: diffusers, folder, "),
        (["--option", "colour=red"], r"unknown option\(s\) colour"),
        (["--option", "width"], "--option must look like key=value"),
        (["--shard", "2/2"], "invalid shard 2/2"),
        (["--category", "nonsense"], "unknown category 'nonsense'"),
        (["--prompts", "missing.csv"], "unknown prompt set 'missing.csv'"),
        (
            ["--generator", "python"],
            r"python: unknown option\(s\) height, width; accepted: callable",
        ),
    ],
)
def test_bad_input_is_one_clean_error(tmp_path, capsys, args, message):
    import re

    assert main([*cli(tmp_path, "--limit", "1"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("drawbench generate: error: ")
    assert re.search(message, err), err
    assert not (tmp_path / "run").exists()


def test_incompatible_out_is_refused_and_run_json_untouched(tmp_path, capsys):
    assert main(cli(tmp_path, "--limit", "1")) == 0
    before = (tmp_path / "run" / "run.json").read_bytes()
    assert main([*cli(tmp_path, "--limit", "1"), "--seed", "1"]) == 2
    assert "made with a different seed" in capsys.readouterr().err
    assert (tmp_path / "run" / "run.json").read_bytes() == before


def test_summary_line_and_json_option_values(tmp_path, capsys):
    assert main([*cli(tmp_path, "--limit", "3"), "--batch-size", "4"]) == 0
    assert "generated 6 image(s)" in capsys.readouterr().out
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["generator"]["options"] == {"height": 8, "width": 8}  # ints, not "8"
    assert info["command_line"] == [
        "drawbench", "generate", "--generator", "solid", "--option", "width=8",
        "--option", "height=8", "--prompts", "drawbench", "--limit", "3",
        "--images-per-prompt", "2", "--seed", "0", "--out", str(tmp_path / "run"),
        "--batch-size", "4",
    ]  # fmt: skip


def test_command_modules_import_no_heavy_library():
    code = (
        "import sys, drawbench.cli, drawbench.commands.generate, drawbench.pipeline.generate, "
        "generators.folder, generators.diffusers_adapter, generators.python_callable, "
        "generators.trivial; drawbench.cli.build_parser(); "
        "print([m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
