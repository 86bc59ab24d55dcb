from drawbench.pipeline.simulate import VOTE_COLUMNS, simulate_votes
from drawbench.prompts import load_prompt_set


def test_simulated_votes_are_seeded_labelled_and_follow_strengths():
    prompts = load_prompt_set("drawbench").prompts[:40]
    strengths = {"quality": {"a": 1.0, "b": 0.0, "c": -1.0}, "alignment": {"a": 0.0, "b": 0.0, "c": 0.0}}
    rows = simulate_votes(prompts, strengths, raters=5, seed=1)
    assert rows == simulate_votes(prompts, strengths, raters=5, seed=1)
    assert len(rows) == 40 * 3 * 2 * 5 and all(set(r) == set(VOTE_COLUMNS) for r in rows)
    assert all(r["rater"].startswith("simulated-") for r in rows)
    q = [r for r in rows if r["question"] == "quality" and (r["model_a"], r["model_b"]) == ("a", "c")]
    wins = sum(r["winner"] == "a" for r in q) / len(q)
    assert wins > 0.6
    for r in rows:  # left/right resolve to the winner consistently
        if r["winner"] != "tie":
            assert r["winner"] == (r["run_left"] if r["choice"] == "left" else r["run_right"])
    lefts = sum(r["run_left"] == r["model_a"] for r in rows) / len(rows)
    assert 0.45 < lefts < 0.55
