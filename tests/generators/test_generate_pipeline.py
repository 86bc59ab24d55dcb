"""The generation orchestrator in-process: determinism, batch/subset invariance, resume, shards,
output checks, CUDA-OOM halving, validation before loading, run.json content."""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import types

import pytest
from PIL import Image

from drawbench.pipeline.generate import (
    GenerateConfigError,
    GenerateRequest,
    Shard,
    parse_options,
    plan_generation,
    run_generation,
    select_prompts,
    work_list,
)
from drawbench.runs import RunDirectory, RunDirectoryError
from drawbench.seeding import derive_seed
from generators.base import GeneratorError
from generators.trivial import NoiseGenerator, SolidColorGenerator

FAKES = "drawbench_test_fakes"


def request(out, generator="noise", n=3, seed=7, limit=5, category=None, **kw) -> GenerateRequest:
    prompts, selection = select_prompts("drawbench", category=category, limit=limit)
    kw.setdefault("options", {"width": 8, "height": 8} if generator in ("noise", "solid") else {})
    return GenerateRequest(generator, prompts, n, seed, out, selection=selection, **kw)


def hashes(run_dir) -> dict[tuple[str, int], str]:
    """(prompt_id, sample) -> sha256 of the PNG bytes on disk, checking one manifest line per image."""
    lines = (run_dir / "manifest.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    keys = [(r["prompt_id"], r["sample"]) for r in records]
    assert len(keys) == len(set(keys)), "duplicate manifest lines"
    out = {}
    for r in records:
        digest = hashlib.sha256((run_dir / r["path"]).read_bytes()).hexdigest()
        assert digest == r["sha256"]
        out[(r["prompt_id"], r["sample"])] = digest
    pngs = {p.relative_to(run_dir).as_posix() for p in (run_dir / "images").rglob("*.png")}
    assert pngs == {r["path"] for r in records}, (
        "image files without a manifest line (or vice versa)"
    )
    return out


@pytest.fixture
def fakes(monkeypatch):
    """Register attributes as module ``drawbench_test_fakes`` so 'drawbench_test_fakes:X' resolves."""
    module = types.ModuleType(FAKES)
    monkeypatch.setitem(sys.modules, FAKES, module)
    return module


# --------------------------------------------------------------------------- determinism


def test_same_request_twice_gives_byte_identical_pngs(tmp_path):
    first = run_generation(request(tmp_path / "a"), progress=False)
    run_generation(request(tmp_path / "b"), progress=False)
    assert first.generated == 15
    assert hashes(tmp_path / "a") == hashes(tmp_path / "b")
    assert len(hashes(tmp_path / "a")) == 15


def test_batch_size_and_prompt_subset_do_not_change_images(tmp_path):
    run_generation(request(tmp_path / "b1", batch_size=1), progress=False)
    run_generation(request(tmp_path / "b7", batch_size=7), progress=False)
    subset = request(tmp_path / "sub", limit=None, category="Colors", batch_size=4)
    subset.prompts = type(subset.prompts)(subset.prompts.name, subset.prompts.prompts[1:3])
    run_generation(subset, progress=False)
    full = hashes(tmp_path / "b1")
    assert hashes(tmp_path / "b7") == full
    part = hashes(tmp_path / "sub")
    assert set(part) == {(f"drawbench-00{i}", j) for i in (1, 2) for j in range(3)}
    assert all(part[key] == full[key] for key in part)


def test_images_follow_the_per_image_seed(tmp_path):
    run_generation(request(tmp_path / "r", generator="solid"), progress=False)
    view = RunDirectory.open(tmp_path / "r").read_manifest()
    gen = SolidColorGenerator(width=8, height=8)
    for rec in view.records:
        assert rec.seed == derive_seed(7, rec.prompt_id, rec.sample)
        image = Image.open(tmp_path / "r" / rec.path)
        text = next(p.text for p in request(tmp_path).prompts if p.id == rec.prompt_id)
        assert image.getpixel((0, 0)) == gen.color(text, rec.seed)


# --------------------------------------------------------------------------- resume and shards


def test_rerun_generates_only_missing_images(tmp_path):
    run_generation(request(tmp_path / "ref"), progress=False)
    out = tmp_path / "r"
    run_generation(request(out), progress=False)
    manifest = out / "manifest.jsonl"
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(lines[:9]) + lines[9][:20])  # lose 6 lines, leave a torn one
    (out / json.loads(lines[2])["path"]).unlink()  # and a file whose line survived
    result = run_generation(request(out), progress=False)
    assert (result.generated, result.already_done) == (7, 8)
    assert hashes(out) == hashes(tmp_path / "ref")
    assert run_generation(request(out), progress=False).generated == 0


def test_shards_partition_the_work_and_together_equal_one_run(tmp_path):
    run_generation(request(tmp_path / "one", batch_size=4), progress=False)
    counts = [
        run_generation(
            request(tmp_path / "sh", shard=Shard(i, 3), batch_size=2), progress=False
        ).generated
        for i in range(3)
    ]
    assert counts == [5, 5, 5]
    assert hashes(tmp_path / "sh") == hashes(tmp_path / "one")


def test_work_list_order_and_shard_ownership():
    prompts, _ = select_prompts("drawbench", limit=2)
    items = work_list(prompts, 2, run_seed=3)
    assert [it.key for it in items] == [
        (p, j) for p in ("drawbench-000", "drawbench-001") for j in (0, 1)
    ]
    assert [it.index for it in items] == [0, 1, 2, 3]
    plan = plan_generation(request("unused-dir", n=2, limit=2, seed=3, shard=Shard(1, 2)))
    assert [it.key for it in plan.todo] == [("drawbench-000", 1), ("drawbench-001", 1)]


def test_shard_parsing_and_torchrun_environment():
    assert Shard.parse("1/4") == Shard(1, 4)
    assert Shard.from_env({"RANK": "2", "WORLD_SIZE": "3"}) == Shard(2, 3)
    assert Shard.from_env({}) is None
    for bad in ("4/4", "1-4", "-1/2", "a/b"):
        with pytest.raises(GenerateConfigError, match=r"i/N|0 <= i < N"):
            Shard.parse(bad)


# --------------------------------------------------------------------------- what generators return


class WrongCount(SolidColorGenerator):
    def generate(self, prompts, seeds):
        return super().generate(prompts, seeds)[:-1]


class WrongMode(SolidColorGenerator):
    def generate(self, prompts, seeds):
        return [im.convert("RGBA") for im in super().generate(prompts, seeds)]


class WrongSize(SolidColorGenerator):
    def generate(self, prompts, seeds):
        images = super().generate(prompts, seeds)
        return [*images[:-1], images[-1].resize((9, 8))] if "black" in prompts[-1] else images


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (
            WrongCount,
            r"generator 'drawbench_test_fakes:WrongCount' returned 1 images for 2 prompts",
        ),
        (
            WrongMode,
            r"prompt drawbench-000 \('A red colored car.'\), sample 0: image mode is 'RGBA', not 'RGB'",
        ),
        (
            WrongSize,
            r"prompt drawbench-001 \('A black colored car.'\), sample 0: image is 9x8 but .* 8x8",
        ),
    ],
)
def test_bad_generator_output_names_generator_and_prompt(tmp_path, fakes, cls, message):
    setattr(fakes, cls.__name__, cls)
    req = request(tmp_path / "r", generator=f"{FAKES}:{cls.__name__}", n=1, batch_size=2)
    req.options = {"width": 8, "height": 8}
    with pytest.raises(GeneratorError, match=message):
        run_generation(req, progress=False)


# --------------------------------------------------------------------------- CUDA out of memory


class OomAbove(NoiseGenerator):
    """Raises torch.cuda.OutOfMemoryError for batches larger than ``limit``."""

    def __init__(self, limit: int = 2, **kw):
        super().__init__(**kw)
        self.limit = limit

    @classmethod
    def check_options(cls, limit: int = 2, **kw):
        super().check_options(**kw)

    def generate(self, prompts, seeds):
        import torch

        if len(prompts) > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super().generate(prompts, seeds)


def test_cuda_oom_halves_the_batch_and_continues(tmp_path, fakes, caplog):
    pytest.importorskip("torch")
    fakes.OomAbove = OomAbove
    run_generation(request(tmp_path / "ref"), progress=False)
    req = request(tmp_path / "r", generator=f"{FAKES}:OomAbove", batch_size=8)
    req.options = {"width": 8, "height": 8, "limit": 2}
    with caplog.at_level(logging.WARNING):
        result = run_generation(req, progress=False)
    assert (result.generated, result.batch_size, result.oom_halvings) == (15, 2, 2)
    assert "CUDA out of memory at batch size 8; continuing with batch size 4" in caplog.text
    assert "continuing with batch size 2" in caplog.text
    assert hashes(tmp_path / "r") == hashes(tmp_path / "ref")


def test_cuda_oom_at_batch_size_one_fails_clearly(tmp_path, fakes):
    pytest.importorskip("torch")
    fakes.OomAbove = OomAbove
    req = request(tmp_path / "r", generator=f"{FAKES}:OomAbove", batch_size=4)
    req.options = {"width": 8, "height": 8, "limit": 0}
    with pytest.raises(
        GeneratorError, match=r"drawbench-000.*CUDA out of memory even with batch size 1"
    ):
        run_generation(req, progress=False)


# --------------------------------------------------------------------------- validation first


def test_unknown_generator_lists_the_available_ones(tmp_path):
    with pytest.raises(
        GenerateConfigError, match=r"unknown generator 'nope'; available: .*folder.*noise.*solid"
    ):
        plan_generation(request(tmp_path / "r", generator="nope"))
    assert not (tmp_path / "r").exists()


def test_bad_option_fails_before_anything_is_written(tmp_path):
    with pytest.raises(
        GenerateConfigError, match=r"unknown option\(s\) colour; accepted: width, height"
    ):
        run_generation(request(tmp_path / "r", options={"colour": "red"}), progress=False)
    with pytest.raises(GenerateConfigError, match="width must be a positive integer"):
        run_generation(request(tmp_path / "r", options={"width": 0}), progress=False)
    assert not (tmp_path / "r").exists()


def test_options_checked_against_signature_when_no_check_options(tmp_path, fakes):
    def make(size: int = 8):
        return SolidColorGenerator(size, size)

    fakes.make = make
    with pytest.raises(GenerateConfigError, match=r"bad options .*accepted: size"):
        plan_generation(request(tmp_path / "r", generator=f"{FAKES}:make", options={"colour": 1}))
    result = run_generation(
        request(tmp_path / "r", generator=f"{FAKES}:make", options={"size": 4}), progress=False
    )
    assert result.generated == 15


def test_validation_happens_before_the_model_loads(tmp_path, fakes):
    loads = []

    class Heavy(SolidColorGenerator):
        def __init__(self, **kw):
            loads.append(1)
            super().__init__(**kw)

    fakes.Heavy = Heavy
    run_generation(request(tmp_path / "r"), progress=False)
    before = (tmp_path / "r" / "run.json").read_bytes()
    with pytest.raises(RunDirectoryError, match="different generator"):
        run_generation(request(tmp_path / "r", generator=f"{FAKES}:Heavy"), progress=False)
    assert loads == []
    assert (tmp_path / "r" / "run.json").read_bytes() == before


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"options": {"width": 8, "height": 8, "variant": 1}}, "generator"),
        ({"seed": 8}, "seed"),
        ({"limit": 4}, "prompt_set"),
    ],
)
def test_incompatible_run_directory_is_refused_and_left_untouched(tmp_path, change, key):
    run_generation(request(tmp_path / "r"), progress=False)
    files = {p: p.read_bytes() for p in (tmp_path / "r").rglob("*") if p.is_file()}
    with pytest.raises(RunDirectoryError, match=f"made with a different {key}"):
        run_generation(request(tmp_path / "r", **change), progress=False)
    assert {p: p.read_bytes() for p in (tmp_path / "r").rglob("*") if p.is_file()} == files


def test_non_run_folder_is_refused(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "notes.txt").write_text("mine")
    with pytest.raises(RunDirectoryError, match=r"non-empty folder without run\.json"):
        plan_generation(request(tmp_path / "r"))


def test_bad_numbers_and_options(tmp_path):
    for change, message in [
        ({"n": 0}, "--images-per-prompt must be a positive integer"),
        ({"batch_size": 0}, "--batch-size must be a positive integer"),
        ({"options": {"width": object()}}, "options must be JSON values"),
    ]:
        with pytest.raises(GenerateConfigError, match=message):
            plan_generation(request(tmp_path / "r", **change))
    assert parse_options(
        ["steps=50", "scale=7.5", "half=true", "dtype=float16", "x=null", "s=a=b"]
    ) == {
        "steps": 50,
        "scale": 7.5,
        "half": True,
        "dtype": "float16",
        "x": None,
        "s": "a=b",
    }
    with pytest.raises(GenerateConfigError, match="key=value"):
        parse_options(["steps"])
    with pytest.raises(GenerateConfigError, match="given twice"):
        parse_options(["a=1", "a=2"])


# --------------------------------------------------------------------------- run.json


def test_run_json_records_identity_and_provenance(tmp_path):
    req = request(tmp_path / "r", device="cpu", command_line=["drawbench", "generate", "..."])
    run_generation(req, progress=False)
    info = json.loads((tmp_path / "r" / "run.json").read_text())
    assert info["generator"] == {"name": "noise", "options": {"height": 8, "width": 8}}
    assert info["generator_description"] == {"name": "noise", "width": 8, "height": 8, "variant": 0}
    assert info["prompt_set"]["name"] == "drawbench"
    assert info["prompt_set"]["sha256"] == req.prompts.sha256
    assert info["prompt_set"]["selection"] == {"spec": "drawbench", "category": None, "limit": 5}
    assert (info["images_per_prompt"], info["seed"]) == (3, 7)
    assert {"python", "drawbench", "pillow", "numpy"} <= set(info["versions"])
    assert info["command_line"] == ["drawbench", "generate", "..."]
    assert info["started_at"].endswith("+00:00")


def test_device_is_not_part_of_the_identity(tmp_path, fakes, caplog):
    def make(device: str = "cpu"):
        return SolidColorGenerator(8, 8)

    fakes.make = make
    name = f"{FAKES}:make"
    run_generation(
        request(tmp_path / "r", generator=name, device="cpu", shard=Shard(0, 2)), progress=False
    )
    run_generation(
        request(tmp_path / "r", generator=name, device="meta", shard=Shard(1, 2)), progress=False
    )
    assert len(hashes(tmp_path / "r")) == 15
    with caplog.at_level(logging.WARNING):
        plan = plan_generation(request(tmp_path / "x", device="cuda"))  # noise takes no device
    assert "takes no device option; --device cuda ignored" in caplog.text
    assert "device" not in plan.factory_options


def test_a_failed_save_stops_the_run_and_a_rerun_completes_it(tmp_path, monkeypatch):
    import drawbench.pipeline.generate as pipeline

    run_generation(request(tmp_path / "ref"), progress=False)
    real, calls = pipeline.save_png_atomic, []

    def flaky(image, path):
        calls.append(path)
        if len(calls) == 6:
            raise OSError(28, "No space left on device")
        return real(image, path)

    monkeypatch.setattr(pipeline, "save_png_atomic", flaky)
    with pytest.raises(OSError, match="No space left"):
        run_generation(request(tmp_path / "r", batch_size=4), progress=False)
    monkeypatch.setattr(pipeline, "save_png_atomic", real)
    done = len((tmp_path / "r" / "manifest.jsonl").read_text().splitlines())
    assert 0 < done < 15
    assert run_generation(request(tmp_path / "r"), progress=False).generated == 15 - done
    assert hashes(tmp_path / "r") == hashes(tmp_path / "ref")
