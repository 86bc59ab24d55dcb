"""The distribution installs from a wheel (non-editable) with its bundled data."""

import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]


def test_every_source_package_is_listed_in_pyproject():
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for top in ("drawbench", "evaluators", "generators", "rater_app")
        for p in (ROOT / top).rglob("__init__.py")
    }
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert "drawbench.data" in listed


def test_wheel_installs_into_fresh_venv_and_lists_categories(tmp_path):
    src, wheels = tmp_path / "src", tmp_path / "wheels"
    # build from a copy so the build leaves nothing (build/, *.egg-info) in the working tree
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".git",
            "build",
            "dist",
            "*.egg-info",
            "__pycache__",
            ".pytest_cache",
            "runs",
            "benchmarks",
            "tests",
        ),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(src),
        ],
        check=True,
    )
    (wheel,) = wheels.glob("drawbench-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True)
    out = subprocess.run(
        [str(env_dir / "bin" / "drawbench"), "prompts", "categories", "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout
    cats = {c["category"]: c["count"] for c in json.loads(out)}
    assert sum(cats.values()) == 200 and len(cats) == 11
    n = subprocess.run(
        [
            str(py),
            "-c",
            "from drawbench.prompts import load_prompt_set; print(len(load_prompt_set('coco30k')))",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout
    assert n.strip() == "30000"
