import csv
import json
import subprocess
import sys

import pytest

from drawbench.coco import COCO30K_COLUMNS, draw_coco30k, load_coco_annotations, write_coco30k_csv


def _annotations(n_images=60, caps_per_image=5):
    images = [
        {
            "id": 1000 + i,
            "file_name": f"COCO_val2014_{1000 + i:012d}.jpg",
            "width": 640,
            "height": 480,
        }
        for i in range(n_images)
    ]
    anns, k = [], 0
    for c in range(caps_per_image):
        for i in range(n_images):
            anns.append(
                {"id": 50_000 + k, "image_id": 1000 + i, "caption": f"caption {c} of image {i} \n"}
            )
            k += 1
    images.append({"id": 9, "file_name": "nocaption.jpg", "width": 1, "height": 1})
    return {"images": images, "annotations": anns}


def test_draw_is_distinct_seeded_and_deterministic():
    ann = _annotations()
    rows = draw_coco30k(ann, seed=0, n=20)
    assert len(rows) == 20 and len({r["image_id"] for r in rows}) == 20
    assert rows == draw_coco30k(ann, seed=0, n=20)
    assert {r["image_id"] for r in rows} != {r["image_id"] for r in draw_coco30k(ann, seed=1, n=20)}
    assert 9 not in {r["image_id"] for r in rows}  # images without captions are never drawn
    assert all(r["caption"].endswith(" \n") for r in rows)  # COCO bytes kept
    # rows follow annotation order
    order = {a["id"]: i for i, a in enumerate(ann["annotations"])}
    by_caption = {(a["image_id"], a["caption"]): a["id"] for a in ann["annotations"]}
    ids = [order[by_caption[(r["image_id"], r["caption"])]] for r in rows]
    assert ids == sorted(ids)


def test_draw_pinned_to_hash_rule():
    """The rule is part of the interface: pin the first drawn image for seed 0."""
    import hashlib

    ann = _annotations()
    key = lambda i: int.from_bytes(hashlib.sha256(f"coco30k|0|{i}".encode()).digest(), "big")  # noqa: E731
    expected = sorted(range(1000, 1060), key=key)[:5]
    assert sorted(r["image_id"] for r in draw_coco30k(ann, seed=0, n=5)) == sorted(expected)


def test_too_few_images():
    with pytest.raises(ValueError, match="only 60 images have captions; cannot draw 100"):
        draw_coco30k(_annotations(), n=100)


def test_bad_annotation_files(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        load_coco_annotations(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="not a valid JSON file"):
        load_coco_annotations(tmp_path / "bad.json")
    (tmp_path / "x.json").write_text('{"images": []}')
    with pytest.raises(ValueError, match="missing top-level key 'annotations'"):
        load_coco_annotations(tmp_path / "x.json")


def test_cli_writes_bundled_format(tmp_path):
    (tmp_path / "captions_val2014.json").write_text(json.dumps(_annotations()))
    out = tmp_path / "c.csv"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "drawbench.cli",
            "prompts",
            "build-coco30k",
            "--annotations",
            str(tmp_path / "captions_val2014.json"),
            "--seed",
            "3",
            "--n",
            "25",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "wrote 25 captions (seed 3)" in res.stdout
    with open(out, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == COCO30K_COLUMNS
        assert len(list(reader)) == 25
    with open("data/coco30k.csv", newline="", encoding="utf-8") as f:
        assert tuple(csv.DictReader(f).fieldnames) == COCO30K_COLUMNS


def test_write_roundtrip(tmp_path):
    rows = draw_coco30k(_annotations(), n=10)
    write_coco30k_csv(rows, tmp_path / "x.csv")
    with open(tmp_path / "x.csv", newline="", encoding="utf-8") as f:
        back = list(csv.DictReader(f))
    assert [r["caption"] for r in back] == [r["caption"] for r in rows]
