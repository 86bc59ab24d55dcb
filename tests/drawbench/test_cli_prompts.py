import json
import subprocess
import sys

import pytest

from drawbench.cli import VERBS, main


def test_help_lists_every_verb(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for verb in ("prompts", "generate", "evaluate", "study", "report", "run", "demo"):
        assert verb in out and verb in VERBS


@pytest.mark.parametrize("verb", list(VERBS))
def test_each_verb_has_help_with_examples(verb, capsys):
    with pytest.raises(SystemExit) as exc:
        main([verb, "--help"])
    assert exc.value.code == 0
    assert "examples:" in capsys.readouterr().out


def test_list_json_drawbench(capsys):
    assert main(["prompts", "list", "--set", "drawbench", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 200
    assert all(list(r) == ["id", "text", "category", "source"] for r in rows)
    assert [r["id"] for r in rows] == [f"drawbench-{i:03d}" for i in range(200)]


def test_categories_json(capsys):
    assert main(["prompts", "categories", "--format", "json"]) == 0
    cats = {c["category"]: c["count"] for c in json.loads(capsys.readouterr().out)}
    assert cats["Reddit"] == 38 and sum(cats.values()) == 200


def test_custom_file_and_bad_file_errors(tmp_path, capsys):
    good = tmp_path / "mine.txt"
    good.write_text("a cat\na dog\n")
    assert main(["prompts", "list", "--set", str(good), "--format", "csv"]) == 0
    assert "mine-001,a dog,,mine" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text('prompt\n""\n')
    assert main(["prompts", "list", "--set", str(bad)]) == 2
    assert "bad.csv line 2: empty prompt" in capsys.readouterr().err


def test_base_cli_does_not_import_torch():
    code = "import sys; from drawbench.cli import main; main(['prompts','categories']); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
