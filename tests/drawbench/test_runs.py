import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from PIL import Image

from drawbench.prompts import Prompt
from drawbench.runs import ManifestRecord, RunDirectory, RunDirectoryError, image_relpath

INFO = {
    "generator": {"name": "solid", "options": {}},
    "prompt_set": {"name": "t", "sha256": "abc"},
    "seed": 0,
    "images_per_prompt": 2,
}
PROMPTS = [Prompt(f"t-{i:03d}", f"prompt {i}", "C", "t") for i in range(3)]


def _img(v):
    return Image.new("RGB", (8, 8), (v, v, v))


def test_create_write_read_missing(tmp_path):
    run = RunDirectory.create(tmp_path / "r", INFO)
    assert len(run.missing(PROMPTS)) == 6
    rec = run.write_image("t-000", "C", 0, 123, _img(1), 0.5)
    assert (run.path / rec.path).is_file() and rec.path == "images/t-000/0.png"
    view = RunDirectory.open(tmp_path / "r").read_manifest()
    assert view.records == [rec] and view.torn_line is None
    todo = run.missing(PROMPTS)
    assert [(p.id, j) for p, j in todo][:2] == [("t-000", 1), ("t-001", 0)] and len(todo) == 5
    (run.path / rec.path).unlink()  # a recorded image whose file is gone counts as missing
    assert len(run.missing(PROMPTS)) == 6
    assert not list(run.path.rglob(".*tmp*"))


def test_incompatible_run_is_refused_and_untouched(tmp_path):
    RunDirectory.create(tmp_path / "r", INFO)
    before = (tmp_path / "r" / "run.json").read_bytes()
    for key, value in [
        ("seed", 1),
        ("generator", {"name": "other", "options": {}}),
        ("prompt_set", {"name": "t", "sha256": "def"}),
    ]:
        with pytest.raises(RunDirectoryError, match=f"different {key}"):
            RunDirectory.create(tmp_path / "r", {**INFO, key: value})
    assert (tmp_path / "r" / "run.json").read_bytes() == before
    RunDirectory.create(tmp_path / "r", {**INFO, "command": "again"})  # same identity: reopens


def test_more_images_per_prompt_extends_run(tmp_path):
    RunDirectory.create(tmp_path / "r", INFO)
    run = RunDirectory.create(tmp_path / "r", {**INFO, "images_per_prompt": 4})
    assert RunDirectory.open(run.path).info["images_per_prompt"] == 4


def test_refuses_foreign_folder(tmp_path):
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "notes.txt").write_text("mine")
    with pytest.raises(RunDirectoryError, match=r"non-empty folder without run\.json"):
        RunDirectory.create(tmp_path / "f", INFO)
    with pytest.raises(RunDirectoryError, match="not a run directory"):
        RunDirectory.open(tmp_path / "f")


def test_torn_last_line_is_reported_and_repaired(tmp_path):
    run = RunDirectory.create(tmp_path / "r", INFO)
    run.write_image("t-000", "C", 0, 1, _img(1), 0.1)
    with open(run.path / "manifest.jsonl", "ab") as f:
        f.write(b'{"prompt_id": "t-000", "categ')  # writer killed mid-line
    view = run.read_manifest()
    assert len(view.records) == 1 and view.torn_line.startswith('{"prompt_id"')
    assert "torn last line" in view.notes[0]
    run.write_image("t-000", "C", 1, 2, _img(2), 0.1)
    lines = (run.path / "manifest.jsonl").read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line) for line in lines)


def test_duplicate_lines_ignored_and_counted(tmp_path):
    run = RunDirectory.create(tmp_path / "r", INFO)
    rec = run.write_image("t-000", "C", 0, 1, _img(1), 0.1)
    run.append_records([rec])
    view = run.read_manifest()
    assert view.records == [rec] and view.duplicates == 1


def test_corrupt_middle_line_is_an_error(tmp_path):
    run = RunDirectory.create(tmp_path / "r", INFO)
    (run.path / "manifest.jsonl").write_text("garbage\n")
    with pytest.raises(RunDirectoryError, match="line 1: corrupt manifest line"):
        run.read_manifest()


def test_unsafe_prompt_ids_get_safe_unique_paths():
    a, b = image_relpath("a/b", 0), image_relpath("a_b", 0)
    assert a != b and "/" not in a.split("/", 1)[1].rsplit("/", 1)[0]
    assert image_relpath("..", 3).startswith("images/prompt-")


WRITER = textwrap.dedent(
    """
    import sys, time
    from PIL import Image
    from drawbench.prompts import Prompt
    from drawbench.runs import RunDirectory
    info = {"generator": {"name": "solid", "options": {}}, "prompt_set": {"name": "t", "sha256": "abc"},
            "seed": 0, "images_per_prompt": 5}
    run = RunDirectory.create(sys.argv[1], info)
    prompts = [Prompt(f"t-{i:03d}", "x", "C", "t") for i in range(8)]
    delay = float(sys.argv[2])
    for p, j in run.missing(prompts):
        v = (int(p.id[-3:]) * 5 + j) * 5
        img = Image.new("RGB", (256, 256), (v, 255 - v, (v * 7) % 256))
        run.write_image(p.id, "C", j, v, img, 0.0)
        print("wrote", p.id, j, flush=True)
        time.sleep(delay)
    """
)


def _hashes(path):
    return {
        (r.prompt_id, r.sample): r.sha256 for r in RunDirectory.open(path).read_manifest().records
    }


def test_sigkill_mid_run_then_resume_equals_uninterrupted(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    subprocess.run(
        [sys.executable, str(script), str(tmp_path / "ref"), "0"], check=True, capture_output=True
    )
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "k"), "0.05"],
        stdout=subprocess.PIPE,
        text=True,
    )
    for _ in range(10):
        proc.stdout.readline()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = RunDirectory.open(tmp_path / "k").read_manifest()
    assert 10 <= len(partial.records) < 40
    subprocess.run(
        [sys.executable, str(script), str(tmp_path / "k"), "0"], check=True, capture_output=True
    )
    ref, resumed = _hashes(tmp_path / "ref"), _hashes(tmp_path / "k")
    assert resumed == ref and len(ref) == 40
    lines = (tmp_path / "k" / "manifest.jsonl").read_text().splitlines()
    assert len(lines) == 40  # one line per image, no duplicates
    for rec in map(json.loads, lines):
        assert ManifestRecord.from_dict(rec)
    assert not [p for p in (tmp_path / "k").rglob("*") if ".tmp-" in p.name]


def test_sigkill_at_random_instants_never_corrupts(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    out = tmp_path / "k"
    for delay in (0.013, 0.021, 0.034):
        proc = subprocess.Popen(
            [sys.executable, str(script), str(out), "0"], stdout=subprocess.DEVNULL
        )
        time.sleep(0.4 + delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        RunDirectory.open(out).read_manifest() if (out / "run.json").exists() else None
    subprocess.run([sys.executable, str(script), str(out), "0"], check=True, capture_output=True)
    subprocess.run(
        [sys.executable, str(script), str(tmp_path / "ref"), "0"], check=True, capture_output=True
    )
    assert _hashes(out) == _hashes(tmp_path / "ref")
    assert len((out / "manifest.jsonl").read_text().splitlines()) == 40
