"""Study creation, tokens, assignment through the database, idempotent votes, refusals, export,
and the ``drawbench study`` CLI: plain Python on SQLite, no server, no browser."""

from __future__ import annotations

import csv
import json
from collections import Counter

import pytest
from sqlalchemy import func, select

from drawbench.cli import main
from rater_app.export import EXPORT_COLUMNS, iter_vote_rows, write_votes_csv
from rater_app.manage import StudyError, create_study, invite_rater, study_status
from rater_app.service import Finished, Presentation, RatingService, Refused
from rater_app.storage import Assignment, Rater, Vote, hash_token
from rater_app.testing import RUN_NAMES, make_coco_images, make_run


def _study(db, runs, **kw):
    options = dict(images_per_set=2, ratings_per_item=2, gold_share=0.1)
    options.update(kw)
    return create_study(db, "s", runs, "drawbench", **options)


def test_create_checks_runs(db, runs, tmp_path):
    with pytest.raises(StudyError, match="needs at least 2 runs"):
        create_study(db, "s", runs[:1], "drawbench")
    with pytest.raises(StudyError, match=r"fewer than 3 images.*drawbench generate"):
        _study(db, runs, images_per_set=3)
    other = make_run(tmp_path / "other", "delta", n_prompts=2)
    info = json.loads((other / "run.json").read_text())
    info["prompt_set"]["sha256"] = "0" * 64
    (other / "run.json").write_text(json.dumps(info))
    with pytest.raises(StudyError, match="do not share one prompt set"):
        _study(db, [runs[0], other])
    with pytest.raises(StudyError, match="is not a run directory"):
        _study(db, [runs[0], tmp_path])
    made = _study(db, runs)
    assert (made.n_items, made.n_gold) == (6 * 3 + 2, 2)
    with pytest.raises(StudyError, match="already exists"):
        _study(db, runs)


def test_study_uses_prompts_common_to_all_runs(db, runs, tmp_path):
    small = make_run(tmp_path / "small", "small-run", n_prompts=3)
    made = _study(db, [runs[0], small], gold_share=0)
    assert made.n_items == 3


def test_tokens_are_stored_only_as_hashes(db, runs):
    _study(db, runs)
    token = invite_rater(db, "s", "alice@example.org")
    assert len(token) >= 40
    with db.session() as s:
        rater = s.scalar(select(Rater))
        assert rater.token_hash == hash_token(token) and token not in rater.token_hash
    new = invite_rater(db, "s", "alice@example.org")  # re-invite revokes the old link
    service = RatingService(db, "s", auth_ttl=0)
    assert service.rater_id(new) is not None and service.rater_id(token) is None
    with pytest.raises(Refused, match="not valid"):
        service.next_presentation(token)
    with pytest.raises(StudyError, match="no study named 'nope'"):
        invite_rater(db, "nope", "bob")


def test_every_item_reaches_k_through_the_service(db, runs):
    made = _study(db, runs, ratings_per_item=3)
    tokens = [invite_rater(db, "s", f"rater{i}", items=100) for i in range(4)]
    service = RatingService(db, "s")
    busy = list(tokens)
    while busy:
        for token in list(busy):
            p = service.next_presentation(token)
            if isinstance(p, Finished):
                busy.remove(token)
                continue
            service.submit(token, p.assignment, {"quality": "left", "caption": "tie"})
    with db.session() as s:
        rows = s.execute(select(Assignment.rater_id, Assignment.item_id)).all()
    per_item = Counter(item for _, item in rows)
    assert len(per_item) == made.n_items and set(per_item.values()) == {3}
    assert len(rows) == len(set(rows))  # no rater got an item twice
    assert study_status(db, "s")["items_at_k"] == made.n_items


def test_votes_are_idempotent_and_resume_works(db, runs):
    _study(db, runs)
    token = invite_rater(db, "s", "alice", items=4)
    service = RatingService(db, "s")
    p = service.next_presentation(token)
    assert (p.number, p.total) == (1, 4) and len(p.left_images) == len(p.right_images) == 2
    assert service.next_presentation(token).assignment == p.assignment  # resume: same item
    first = service.submit(token, p.assignment, {"quality": "left"})
    assert first.recorded == ("quality",) and not first.complete
    again = service.next_presentation(token)
    assert again.assignment == p.assignment and again.answered == {"quality": "left"}
    done = service.submit(token, p.assignment, {"quality": "right", "caption": "tie"})
    assert done.recorded == ("caption",) and done.already == ("quality",) and done.complete
    assert service.submit(token, p.assignment, {"quality": "left", "caption": "tie"}).recorded == ()
    with db.session() as s:
        votes = dict(s.execute(select(Vote.question, Vote.choice)).all())
        assert votes == {
            "quality": "left",
            "caption": "tie",
        }  # the first vote wins, never counted twice
    nxt = service.next_presentation(token)
    assert nxt.number == 2 and nxt.assignment != p.assignment


@pytest.mark.parametrize(
    ("assignment", "answers", "status"),
    [
        ("x" * 22, {"quality": "left"}, 404),  # unknown item
        (None, {"quality": "left"}, 400),
        ("ok", {"quality": "LEFT"}, 400),  # tampered value
        ("ok", {"quality": "left", "nonsense": "tie"}, 400),
        ("ok", {}, 400),
        ("ok", ["left"], 400),
        ("ok", {"quality": ["left"]}, 400),
        ("ok", {"quality": "x" * 10_000}, 400),
    ],
)
def test_bad_votes_are_refused(db, runs, assignment, answers, status):
    _study(db, runs)
    token = invite_rater(db, "s", "alice")
    service = RatingService(db, "s")
    p = service.next_presentation(token)
    with pytest.raises(Refused) as err:
        service.submit(token, p.assignment if assignment == "ok" else assignment, answers)
    assert err.value.status == status
    assert service.vote_count() == 0


def test_votes_for_someone_else_s_item_are_refused(db, runs):
    _study(db, runs)
    alice, bob = invite_rater(db, "s", "alice"), invite_rater(db, "s", "bob")
    service = RatingService(db, "s")
    p = service.next_presentation(alice)
    with pytest.raises(Refused) as err:
        service.submit(bob, p.assignment, {"quality": "left"})
    assert err.value.status == 404
    with pytest.raises(Refused) as err:
        service.image(bob, p.assignment, 0)
    assert err.value.status == 404
    with pytest.raises(Refused) as err:
        service.submit("forged-token", p.assignment, {"quality": "left"})
    assert err.value.status == 403
    assert service.image(alice, p.assignment, 0).startswith(b"\x89PNG")
    with pytest.raises(Refused):
        service.image(alice, p.assignment, 99)


def test_daily_cap_stops_for_the_day(db, runs):
    _study(db, runs)
    token = invite_rater(db, "s", "alice", daily_cap=2, items=10)
    service = RatingService(db, "s")
    for _ in range(2):
        p = service.next_presentation(token)
        service.submit(token, p.assignment, {"quality": "tie", "caption": "tie"})
    stop = service.next_presentation(token)
    assert isinstance(stop, Finished) and stop.reason == "daily_cap" and stop.done == 2


def test_export_resolves_left_right_to_runs(db, runs, tmp_path):
    _study(db, runs)
    token = invite_rater(db, "s", "alice", items=12)
    service = RatingService(db, "s")
    for _ in range(12):
        p = service.next_presentation(token)
        if not isinstance(p, Presentation):
            break
        service.submit(token, p.assignment, {"quality": "left", "caption": "right"})
    rows = list(iter_vote_rows(db, "s"))
    assert rows and len(rows) == 2 * 12
    for r in rows:
        assert {r["model_a"], r["model_b"]} == {r["run_left"], r["run_right"]}
        assert r["model_a"] in RUN_NAMES and r["run_left"] in RUN_NAMES
        winner = r["run_left"] if r["question"] == "quality" else r["run_right"]
        assert r["winner"] == winner
        assert r["score_a"] == (1.0 if winner == r["model_a"] else 0.0) or r["is_gold"]
        if r["is_gold"] and r["question"] == "caption":
            # the left set is the prompt's own set exactly when left_side == "a"
            assert r["gold_correct"] == int(r["left_side"] == "b")
    n = write_votes_csv(db, "s", tmp_path / "votes.csv")
    with open(tmp_path / "votes.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == EXPORT_COLUMNS
        assert len(list(reader)) == n == 24
    assert EXPORT_COLUMNS[:14] == (
        "study",
        "item_id",
        "prompt_id",
        "category",
        "question",
        "rater",
        "run_left",
        "run_right",
        "choice",
        "model_a",
        "model_b",
        "winner",
        "is_gold",
        "created_at",
    )


def test_cli_create_invite_status_export(runs, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db_file = tmp_path / "cli.db"
    assert (
        main(
            [
                "study",
                "create",
                "cli",
                "--runs",
                *map(str, runs),
                "--protocol",
                "drawbench",
                "--images-per-set",
                "2",
                "--ratings-per-item",
                "2",
                "--db",
                str(db_file),
            ]
        )
        == 0
    )
    assert "admin token" in capsys.readouterr().out
    assert (
        main(
            [
                "study",
                "invite",
                "cli",
                "--rater",
                "bob",
                "--db",
                str(db_file),
                "--public-url",
                "https://rate.example.org/",
            ]
        )
        == 0
    )
    link = capsys.readouterr().out.strip()
    assert link.startswith("https://rate.example.org/rate/?t=") and len(link.split("t=")[1]) >= 40
    assert main(["study", "status", "cli", "--db", str(db_file), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["items"] == 6 * 3 + 1 and status["votes"] == 0  # gold: round(0.05 * 18) = 1
    monkeypatch.setenv("DRAWBENCH_STUDY_DB", str(db_file))
    assert main(["study", "export", "cli", "--out", str(tmp_path / "v.csv")]) == 0
    assert "wrote 0 votes" in capsys.readouterr().out
    assert main(["study", "status", "missing"]) == 2
    assert "no study named 'missing'; existing: cli" in capsys.readouterr().err
    assert main(["study", "create", "x", "--runs", str(runs[0]), "--protocol", "drawbench"]) == 2
    assert "needs at least 2 runs" in capsys.readouterr().err


def test_coco_alignment_and_photorealism(db, tmp_path, runs):
    made = create_study(db, "align", runs[:1], "coco-alignment", gold_share=0.2)
    assert made.n_items == 6 + 1
    token = invite_rater(db, "align", "a")
    service = RatingService(db, "align")
    p = service.next_presentation(token)
    assert len(p.left_images) == 1 and p.right_images == ()
    service.submit(token, p.assignment, {"alignment": "somewhat"})
    row = next(iter_vote_rows(db, "align"))
    assert row["score_a"] == 50.0 and row["model_b"] == "" and row["choice"] == "somewhat"
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Vote)) == 1


@pytest.mark.slow  # loads the 30k-prompt COCO set several times (~7 s)
def test_coco_photorealism_serves_real_images_without_exif(db, tmp_path):
    coco_runs = [
        make_run(tmp_path / "coco", "coco-a", n_prompts=3, prompt_set="coco30k"),
        make_run(tmp_path / "coco", "coco-b", n_prompts=3, prompt_set="coco30k"),
    ]
    with pytest.raises(StudyError, match="--coco-images"):
        create_study(db, "photo", coco_runs, "coco-photorealism")
    with pytest.raises(StudyError, match="3 real COCO images not found"):
        create_study(db, "photo", coco_runs, "coco-photorealism", coco_images=tmp_path)
    real = make_coco_images(tmp_path / "real", 3)
    made = create_study(db, "photo", coco_runs, "coco-photorealism", coco_images=real)
    assert made.n_items == 6 and made.n_gold == 0
    service = RatingService(db, "photo")
    token = invite_rater(db, "photo", "p")
    p = service.next_presentation(token)
    images = [service.image(token, p.assignment, slot) for slot in (0, 1)]
    assert all(b"RealCameraModel" not in im and im.startswith(b"\x89PNG") for im in images)
    service.submit(token, p.assignment, {"photorealism": "left"})
    row = next(iter_vote_rows(db, "photo"))
    assert row["model_b"] == "coco-real" and row["winner"] == row["run_left"]
