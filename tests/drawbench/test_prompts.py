import json

import pytest

from drawbench.prompts import Prompt, PromptFileError, PromptSet, load_prompt_file, load_prompt_set

DRAWBENCH_COUNTS = {
    "Colors": 25,
    "Conflicting": 10,
    "Counting": 19,
    "DALL-E": 20,
    "Descriptions": 20,
    "Gary Marcus et al.": 10,
    "Misspellings": 10,
    "Positional": 20,
    "Rare Words": 7,
    "Reddit": 38,
    "Text": 21,
}


def test_drawbench_counts_ids_and_order():
    ps = load_prompt_set("drawbench")
    assert len(ps) == 200
    assert ps.categories == DRAWBENCH_COUNTS
    assert [p.id for p in ps] == [f"drawbench-{i:03d}" for i in range(200)]
    assert ps[0].text == "A red colored car." and ps[0].category == "Colors"
    assert all(p.source == "drawbench" for p in ps)


def test_drawbench_keeps_misspellings_and_unicode():
    ps = load_prompt_set("drawbench")
    texts = [p.text for p in ps]
    assert any("Schönhausen" in t for t in texts)
    misspelled = [p.text for p in ps if p.category == "Misspellings"]
    assert len(misspelled) == 10
    assert misspelled == [p.text for p in ps.filter(category="misspellings")]  # case-insensitive


def test_coco30k_unique_ids_and_whitespace_note():
    ps = load_prompt_set("coco30k")
    assert len(ps) == 30_000
    assert len({p.meta["image_id"] for p in ps}) == 30_000
    assert len({p.id for p in ps}) == 30_000
    assert all(p.text == p.text.strip() and "\n" not in p.text for p in ps)
    assert any("3405" in n for n in ps.notes)
    assert ps[0].meta["file_name"].startswith("COCO_val2014_")


def test_sha256_is_content_based_and_stable(tmp_path):
    a = PromptSet("x", (Prompt("x-000", "a cat", "", "x"),))
    b = PromptSet("x", (Prompt("x-000", "a cat", "", "x"),))
    c = PromptSet("x", (Prompt("x-000", "a dog", "", "x"),))
    assert a.sha256 == b.sha256 != c.sha256
    (tmp_path / "p.txt").write_text("a cat\n")
    (tmp_path / "p.csv").write_text("prompt\na cat\n")
    assert (
        load_prompt_file(tmp_path / "p.txt").sha256 == load_prompt_file(tmp_path / "p.csv").sha256
    )


def test_custom_formats(tmp_path):
    (tmp_path / "a.csv").write_text(
        'id,prompt,category\nq1,"A dog, running",Animals\nq2,A cat,Animals\n'
    )
    (tmp_path / "b.jsonl").write_text(
        '{"prompt": "A dog"}\n\n{"text": "A cat", "category": "C", "id": 7}\n'
    )
    (tmp_path / "c.txt").write_text("A dog\n  A cat  \n\n")
    a = load_prompt_file(tmp_path / "a.csv")
    assert [(p.id, p.text, p.category) for p in a] == [
        ("q1", "A dog, running", "Animals"),
        ("q2", "A cat", "Animals"),
    ]
    b = load_prompt_file(tmp_path / "b.jsonl")
    assert [(p.id, p.text, p.category) for p in b] == [("b-000", "A dog", ""), ("7", "A cat", "C")]
    c = load_prompt_set(str(tmp_path / "c.txt"))
    assert [(p.id, p.text, p.source) for p in c] == [
        ("c-000", "A dog", "c"),
        ("c-001", "A cat", "c"),
    ]


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        (
            "m.csv",
            "text_x,category\nhello,A\n",
            r"m\.csv line 1: missing column 'prompt' \(or 'text'\)",
        ),
        ("e.csv", "prompt\nhello\n   \n", r"e\.csv line 3: empty prompt"),
        (
            "d.csv",
            "id,prompt\na,x\nb,y\na,z\n",
            r"d\.csv line 4: duplicate id 'a' \(first on line 2\)",
        ),
        ("x.csv", "prompt\nhello,extra\n", r"x\.csv line 2: more fields than the header"),
        ("e.jsonl", '{"prompt": "ok"}\n{"prompt": ""}\n', r"e\.jsonl line 2: empty prompt"),
        ("j.jsonl", '{"prompt": "ok"}\n{"prompt": "x"\n', r"j\.jsonl line 2: invalid JSON"),
        ("k.jsonl", '{"caption": "x"}\n', r"k\.jsonl line 1: missing key 'prompt' \(or 'text'\)"),
        ("l.jsonl", '["x"]\n', r"l\.jsonl line 1: expected a JSON object"),
        (
            "dup.jsonl",
            '{"id": 1, "prompt": "a"}\n{"id": 1, "prompt": "b"}\n',
            r"dup\.jsonl line 2: duplicate id '1'",
        ),
        ("e.txt", "one\n\nthree\n", r"e\.txt line 2: empty prompt"),
        ("p.yaml", "- a\n", r"unsupported prompt file type '\.yaml'"),
        ("z.txt", "", r"z\.txt: no prompts found"),
    ],
)
def test_bad_files_name_file_line_and_problem(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PromptFileError, match=match):
        load_prompt_file(path)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".txt"])
def test_wrong_encoding(tmp_path, suffix):
    body = {".csv": "prompt\nok\n", ".jsonl": '{"prompt": "ok"}\n', ".txt": "ok\n"}[suffix]
    path = tmp_path / f"latin1{suffix}"
    path.write_bytes(body.encode() + "caf\u00e9\n".encode("latin-1"))
    line = body.count("\n") + 1
    with pytest.raises(PromptFileError, match=rf"line {line}: wrong encoding, not UTF-8"):
        load_prompt_file(path)


def test_unknown_set_and_category():
    with pytest.raises(ValueError, match=r"unknown prompt set 'nope'.*drawbench"):
        load_prompt_set("nope")
    with pytest.raises(ValueError, match=r"unknown category 'Nope'.*Colors"):
        load_prompt_set("drawbench").filter(category="Nope")


def test_describe_is_json_serialisable():
    d = load_prompt_set("drawbench").describe()
    assert json.loads(json.dumps(d))["n_prompts"] == 200


def test_selection_roundtrip_and_sha_check(tmp_path):
    from drawbench.prompts import load_selection, select_prompts

    sub = select_prompts("drawbench", category="Counting", limit=3)
    assert [p.id for p in sub] == ["drawbench-035", "drawbench-036", "drawbench-037"]
    record = {
        **sub.describe(),
        "selection": {"spec": "drawbench", "category": "Counting", "limit": 3},
    }
    assert load_selection(record).sha256 == sub.sha256
    ids = select_prompts("drawbench", ids=["drawbench-199", "drawbench-000"])
    assert [p.id for p in ids] == ["drawbench-000", "drawbench-199"]  # set order kept
    with pytest.raises(ValueError, match=r"has sha256 .* but the run was made with"):
        load_selection({**record, "selection": {"spec": "drawbench", "limit": 3}})
    with pytest.raises(ValueError, match=r"cannot rebuild the run's prompts from 'gone.csv'"):
        load_selection({"name": "gone", "sha256": "x", "selection": {"spec": "gone.csv"}})
