"""A seeded, documented COCO-30K draw from COCO's own ``captions_val2014.json``.

The draw uses only hashlib, so it is identical on every machine and every library version:

* every image with at least one caption gets the key ``sha256(f"coco30k|{seed}|{image_id}")``;
  the ``n`` images with the smallest keys are drawn (ties impossible in practice; broken by id);
* for each drawn image, its captions sorted by annotation id, the caption at index
  ``int(sha256(f"coco30k-caption|{seed}|{image_id}")) % n_captions`` is taken;
* ``evaluation_seed`` is ``int(sha256(f"coco30k-eval|{seed}|{image_id}")) % 100000``;
* rows are written in the order of the chosen captions in the annotation file, like the bundled
  list, with COCO's caption bytes kept exactly.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

COCO30K_SIZE = 30_000
COCO30K_COLUMNS = ("image_id", "file_name", "caption", "width", "height", "evaluation_seed")


def _h(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")


def load_coco_annotations(path: str | Path) -> dict:
    """Read a COCO captions file; errors name the file and what is wrong."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise ValueError(
            f"{path}: no such file (pass COCO's captions_val2014.json with --annotations)"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a valid JSON file ({err})") from None
    for key in ("images", "annotations"):
        if not isinstance(data, dict) or key not in data:
            raise ValueError(
                f"{path}: missing top-level key {key!r}; expected a COCO captions file"
            )
    return data


def draw_coco30k(annotations: dict, seed: int = 0, n: int = COCO30K_SIZE) -> list[dict]:
    """Draw ``n`` distinct images and one caption each (see the module docstring for the rule).

    Returns:
        Rows with the keys of ``COCO30K_COLUMNS``.
    """
    images = {int(im["id"]): im for im in annotations["images"]}
    captions: dict[int, list[dict]] = {}
    for ann in annotations["annotations"]:
        captions.setdefault(int(ann["image_id"]), []).append(ann)
    candidates = [i for i in images if captions.get(i)]
    if len(candidates) < n:
        raise ValueError(f"only {len(candidates)} images have captions; cannot draw {n}")
    drawn = sorted(candidates, key=lambda i: (_h(f"coco30k|{seed}|{i}"), i))[:n]
    chosen_ann_ids = {}
    for image_id in drawn:
        anns = sorted(captions[image_id], key=lambda a: int(a["id"]))
        chosen_ann_ids[int(anns[_h(f"coco30k-caption|{seed}|{image_id}") % len(anns)]["id"])] = (
            image_id
        )
    rows = []
    for ann in annotations["annotations"]:
        image_id = chosen_ann_ids.get(int(ann["id"]))
        if image_id is None:
            continue
        im = images[image_id]
        rows.append(
            {
                "image_id": image_id,
                "file_name": im.get("file_name", f"COCO_val2014_{image_id:012d}.jpg"),
                "caption": ann["caption"],
                "width": im.get("width", ""),
                "height": im.get("height", ""),
                "evaluation_seed": _h(f"coco30k-eval|{seed}|{image_id}") % 100_000,
            }
        )
    return rows


def write_coco30k_csv(rows: list[dict], out: str | Path) -> Path:
    """Write rows in the bundled ``coco30k.csv`` format (UTF-8, COCO's caption bytes kept)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COCO30K_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(out)
    return out
