import hashlib
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "data"


def test_bundled_files_match_recorded_provenance():
    readme = (DATA / "README.md").read_text()
    for name in ("drawbench.csv", "coco30k.csv"):
        digest = hashlib.sha256((DATA / name).read_bytes()).hexdigest()
        assert digest in readme, f"{name}: sha256 {digest} not recorded in data/README.md"
