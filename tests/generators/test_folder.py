"""The folder adapter: tree and CSV layouts, mapping by id or text, exact coverage reports,
PNG/JPEG/WebP, and importing through ``drawbench generate``."""

from __future__ import annotations

import json
import logging

import pytest
from PIL import Image

from drawbench.images import load_image_rgb
from drawbench.pipeline.generate import (
    GenerateConfigError,
    GenerateRequest,
    run_generation,
    select_prompts,
)
from drawbench.runs import RunDirectory
from generators.base import GeneratorError
from generators.folder import FolderGenerator
from generators.trivial import NoiseGenerator

PROMPTS, _ = select_prompts("drawbench", limit=3)
NOISE = NoiseGenerator(width=12, height=10, variant="api")


def make_tree(root, per_prompt=2, suffix=".png", key="id", skip=()):
    """Images from the noise generator under <root>/<prompt id or text>/<sample><suffix>."""
    for prompt in PROMPTS:
        for j in range(per_prompt):
            if (prompt.id, j) in skip:
                continue
            folder = root / (prompt.id if key == "id" else prompt.text)
            folder.mkdir(parents=True, exist_ok=True)
            NOISE.generate([f"{prompt.id}/{j}"], [0])[0].save(folder / f"{j}{suffix}")
    return root


def bound(root, per_prompt=2, seed=9, **options):
    gen = FolderGenerator(dir=str(root), **options)
    gen.bind_run(list(PROMPTS), per_prompt, seed)
    return gen


def test_tree_by_id_serves_each_sample_for_its_seed(tmp_path):
    from drawbench.seeding import derive_seed

    gen = bound(make_tree(tmp_path / "x"))
    p = PROMPTS[1]
    seeds = [derive_seed(9, p.id, 1), derive_seed(9, p.id, 0)]
    images = gen.generate([p.text, p.text], seeds)
    expected = [NOISE.generate([f"{p.id}/{j}"], [0])[0] for j in (1, 0)]
    assert [im.tobytes() for im in images] == [im.tobytes() for im in expected]
    assert gen.describe()["formats"] == {"png": 6}


def test_tree_by_text(tmp_path):
    gen = bound(make_tree(tmp_path / "x", key="text"), mapping="text")
    assert gen.coverage.complete and not gen.coverage.extra


def test_csv_mapping_by_prompt_text_with_implicit_samples(tmp_path):
    root = make_tree(tmp_path / "x")
    rows = ["prompt,file"] + [f'"{p.text}",{p.id}/{j}.png' for p in PROMPTS for j in range(2)]
    (root / "mapping.csv").write_text("\n".join(rows) + "\n")
    gen = bound(root)
    assert (gen.layout, gen.mapping) == ("csv", "text")
    assert gen.coverage.complete


def test_missing_and_extra_are_reported_exactly(tmp_path):
    root = make_tree(
        tmp_path / "x", per_prompt=3, skip={("drawbench-001", 1), ("drawbench-001", 2)}
    )
    for j in range(3):
        (root / "drawbench-002" / f"{j}.png").unlink()
    (root / "drawbench-999").mkdir()
    Image.new("RGB", (12, 10)).save(root / "drawbench-999" / "0.png")
    (root / "notes.txt").write_text("hello")
    with pytest.raises(GeneratorError) as info:
        bound(root, per_prompt=3)
    message = str(info.value)
    assert "1 prompt(s) without any image: drawbench-002" in message
    assert "2 missing sample(s) of other prompts: drawbench-001 [1, 2]" in message
    assert "2 extra file(s) not used by this run: drawbench-999/0.png, notes.txt" in message
    with pytest.raises(GeneratorError, match="drawbench-002") as info:
        bound(root, per_prompt=1)
    assert "missing sample" not in str(info.value)


def test_extra_files_warn_but_do_not_fail(tmp_path, caplog):
    root = make_tree(tmp_path / "x", per_prompt=3)
    with caplog.at_level(logging.WARNING):
        gen = bound(root, per_prompt=2)
    assert gen.coverage.complete
    assert gen.coverage.extra == [
        "drawbench-000/2.png",
        "drawbench-001/2.png",
        "drawbench-002/2.png",
    ]
    assert "files not used by this run" in caplog.text


def test_jpeg_warns_and_webp_loads(tmp_path, caplog):
    jpeg = make_tree(tmp_path / "j", suffix=".jpg")
    with caplog.at_level(logging.WARNING):
        gen = bound(jpeg)
    assert "6 of 6 images are JPEG; JPEG compression shifts FID" in caplog.text
    assert gen.coverage.lossy == 6
    caplog.clear()
    webp = make_tree(tmp_path / "w", suffix=".webp")
    with caplog.at_level(logging.WARNING):
        gen = bound(webp)
    assert "JPEG" not in caplog.text
    assert gen.describe()["formats"] == {"webp": 6}


def test_import_through_generate_keeps_pixels(tmp_path):
    root = make_tree(tmp_path / "x", suffix=".webp")
    prompts, selection = select_prompts("drawbench", limit=3)
    request = GenerateRequest(
        "folder", prompts, 2, 4, tmp_path / "run", options={"dir": str(root)}, selection=selection
    )
    assert run_generation(request, progress=False).generated == 6
    run = RunDirectory.open(tmp_path / "run")
    for rec in run.read_manifest().records:
        source = load_image_rgb(root / rec.prompt_id / f"{rec.sample}.webp")
        assert load_image_rgb(run.path / rec.path).tobytes() == source.tobytes()
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["generator_description"]["n_files"] == 6


def test_incomplete_folder_fails_before_the_run_directory_exists(tmp_path):
    root = make_tree(tmp_path / "x", skip={("drawbench-000", 0)})
    request = GenerateRequest("folder", PROMPTS, 2, 4, tmp_path / "run", options={"dir": str(root)})
    with pytest.raises(
        GeneratorError, match=r"missing sample\(s\) of other prompts: drawbench-000 \[0\]"
    ):
        run_generation(request, progress=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dir": "/no/such/dir"}, "is not a directory"),
        ({"mapping": "name"}, "mapping must be one of id, text"),
        ({"layout": "csv"}, "layout=csv but .*mapping.csv not found"),
        ({"pattern": "*"}, r"unknown option\(s\) pattern"),
    ],
)
def test_bad_options(tmp_path, options, message):
    options = {"dir": str(tmp_path), **options}
    with pytest.raises(GenerateConfigError, match=message):
        run_generation(GenerateRequest("folder", PROMPTS, 1, 0, tmp_path / "run", options=options))


def test_bad_csv_rows_name_the_line(tmp_path):
    root = make_tree(tmp_path / "x")
    (root / "mapping.csv").write_text(
        "prompt_id,sample,file\ndrawbench-000,0,drawbench-000/0.png\ndrawbench-000,0,nope.png\n"
    )
    with pytest.raises(GeneratorError, match=r"mapping.csv line 3: file 'nope.png' not found"):
        FolderGenerator(dir=str(root))
    (root / "mapping.csv").write_text("id,file\n")
    with pytest.raises(
        GeneratorError, match=r"line 1: need columns 'prompt_id' \(or 'prompt'\) and 'file'"
    ):
        FolderGenerator(dir=str(root))


def test_generate_without_bind_run_says_what_to_do(tmp_path):
    gen = FolderGenerator(dir=str(make_tree(tmp_path / "x")))
    with pytest.raises(GeneratorError, match="bind_run"):
        gen.generate(["A red colored car."], [1])
