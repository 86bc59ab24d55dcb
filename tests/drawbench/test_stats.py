"""drawbench.stats: preference intervals, Bradley-Terry, agreement, planner."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit

from drawbench import stats

# --------------------------------------------------------------------------- preference


def test_preference_shares_and_formula():
    scores = [1, 1, 0.5, 0, 1, 0.5, 0, 1]
    res = stats.compute_preference(scores, list("aabbccdd"), method="wilson")
    assert res.preference == pytest.approx((4 + 0.5 * 2) / 8)
    assert (res.win, res.tie, res.loss) == (0.5, 0.25, 0.25)
    assert res.n == 8 and res.n_prompts == 4 and res.method == "wilson"
    assert res.ci_low < res.preference < res.ci_high
    assert set(res.to_dict()) >= {
        "preference",
        "win",
        "tie",
        "loss",
        "n",
        "n_prompts",
        "ci_low",
        "ci_high",
        "method",
        "confidence",
    }


def test_wilson_and_normal_match_hand_computation():
    scores = np.array([1.0] * 30 + [0.0] * 20)
    z = 1.959963984540054
    p, n = 0.6, 50
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    w = stats.compute_preference(scores, np.arange(50), method="wilson")
    assert (w.ci_low, w.ci_high) == pytest.approx((centre - half, centre + half), abs=1e-12)
    nrm = stats.compute_preference(scores, np.arange(50), method="normal")
    se = scores.std(ddof=1) / np.sqrt(n)
    assert (nrm.ci_low, nrm.ci_high) == pytest.approx((p - z * se, p + z * se), abs=1e-12)


def test_bootstrap_is_seeded_and_clusters_by_prompt():
    rng = np.random.default_rng(3)
    s, p, r = stats.simulate_preference_study(
        rng, n_prompts=40, raters_per_prompt=5, preference=0.6, prompt_sd=0.2
    )
    a = stats.compute_preference(s, p, r, n_boot=500, seed=7)
    b = stats.compute_preference(s, p, r, n_boot=500, seed=7)
    c = stats.compute_preference(s, p, r, n_boot=500, seed=8)
    assert a == b and a != c and a.n_boot == 500 and a.n_raters == 5
    # Clustering: treating every rating as its own prompt gives a narrower interval here.
    flat = stats.compute_preference(s, np.arange(s.size), n_boot=500, seed=7)
    assert flat.ci_high - flat.ci_low < a.ci_high - a.ci_low
    two = stats.compute_preference(s, p, r, method="two-stage-bootstrap", n_boot=500, seed=7)
    assert two.ci_high - two.ci_low > a.ci_high - a.ci_low  # conservative, as documented


def test_cluster_bootstrap_statistic_is_pooled_mean_of_drawn_prompts():
    # One prompt per round reduces to a single draw: statistics are prompt means only.
    scores = np.array([1.0, 1.0, 0.0, 0.5])
    prompts = np.array([0, 0, 1, 1])
    out = stats.bootstrap_prompt_means(scores, prompts, 200, np.random.default_rng(0))
    assert set(np.round(out, 6)) <= {1.0, 0.25, round(2.5 / 4, 6)}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scores": [1, 2], "prompt_ids": [0, 1]}, r"score #1 is 2\.0"),
        ({"scores": [], "prompt_ids": []}, "no ratings"),
        ({"scores": [1, 0], "prompt_ids": [0]}, "2 scores but 1 prompt ids"),
        ({"scores": [1], "prompt_ids": [0], "method": "exact"}, "unknown method 'exact'"),
    ],
)
def test_preference_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        stats.compute_preference(**kwargs)


def test_coverage_reduced():
    """Reduced version of benchmarks/bench_stats_coverage.py (300 studies, 400 rounds)."""
    hits = dict.fromkeys(("bootstrap", "normal"), 0)
    for child in np.random.SeedSequence(11).spawn(300):
        sim, boot = (np.random.default_rng(s) for s in child.spawn(2))
        s, p, r = stats.simulate_preference_study(
            sim, n_prompts=50, raters_per_prompt=5, preference=0.6, prompt_sd=0.15
        )
        for m in hits:
            res = stats.compute_preference(s, p, r, method=m, n_boot=400, seed=boot)
            hits[m] += res.ci_low <= 0.6 <= res.ci_high
    boot_cov, normal_cov = hits["bootstrap"] / 300, hits["normal"] / 300
    assert 0.92 <= boot_cov <= 0.98
    assert (
        normal_cov < boot_cov - 0.02
    )  # the pooled interval under-covers with heterogeneous prompts


def test_simulation_mean_and_prompt_sd():
    rng = np.random.default_rng(0)
    s, _, _ = stats.simulate_preference_study(
        rng, n_prompts=4000, raters_per_prompt=50, preference=0.6, prompt_sd=0.15, tie_share=0.2
    )
    assert s.mean() == pytest.approx(0.6, abs=0.005)
    per_prompt = s.reshape(4000, 50).mean(1)
    # var(prompt means) = sd_b^2 + sd_w^2 / 50
    within = 0.6 * 0.4 - 0.2 / 4 - 0.15**2
    assert per_prompt.var() == pytest.approx(0.15**2 + within / 50, rel=0.08)


# --------------------------------------------------------------------------- Bradley-Terry


def _tournament(rng, theta, n_votes):
    k = theta.size
    a = rng.integers(0, k, n_votes)
    b = (a + rng.integers(1, k, n_votes)) % k
    s = (rng.random(n_votes) < expit(theta[a] - theta[b])).astype(float)
    return a, b, s


def test_bradley_terry_matches_scipy_maximum_likelihood():
    rng = np.random.default_rng(1)
    a, b, s = _tournament(rng, np.array([0.0, 0.4, -0.3, 1.1, 0.2]), 800)
    s[rng.random(s.size) < 0.15] = 0.5  # ties as half wins
    _, wins = stats.pairwise_wins([f"m{i}" for i in a], [f"m{i}" for i in b], s)

    def nll(th):
        return (wins * np.logaddexp(0, -(th[:, None] - th[None, :]))).sum()

    def grad(th):
        p = expit(th[:, None] - th[None, :])
        return -(wins.sum(1) - ((wins + wins.T) * p).sum(1))

    res = minimize(
        nll, np.zeros(5), jac=grad, method="BFGS", options={"gtol": 1e-12, "maxiter": 10_000}
    )
    reference = 1000 + 400 * np.log10(np.exp(res.x - res.x.mean()))
    ours = stats.fit_bradley_terry(wins)
    np.testing.assert_allclose(ours, reference, atol=1e-6)
    assert ours.mean() == pytest.approx(1000.0)
    anchored = stats.fit_bradley_terry(wins, anchor=2)
    assert anchored[2] == pytest.approx(1000.0)
    np.testing.assert_allclose(anchored - anchored[0], ours - ours[0], atol=1e-9)


def test_bradley_terry_recovers_known_strengths_within_interval():
    theta = np.array([-0.8, -0.2, 0.0, 0.5, 1.0, 1.6])
    true = stats.elo_from_log_strength(theta)
    rng = np.random.default_rng(5)
    a, b, s = _tournament(rng, theta, 6000)
    names = [f"m{i}" for i in range(6)]
    # Six intervals at once: Bonferroni level 1 - 0.05/6 so that all should cover jointly.
    rows = stats.compute_leaderboard(
        [names[i] for i in a], [names[i] for i in b], s, n_boot=400, seed=2, confidence=1 - 0.05 / 6
    )
    by_name = {r.model: r for r in rows}
    for i, name in enumerate(names):
        assert by_name[name].ci_low <= true[i] <= by_name[name].ci_high, (
            name,
            by_name[name],
            true[i],
        )
    assert [r.model for r in rows] == names[::-1]  # best first
    assert max(abs(by_name[n].rating - true[i]) for i, n in enumerate(names)) < 25
    ranks = [r.rank for r in rows]
    assert ranks == sorted(ranks) and ranks[0] == 1 and ranks[-1] == 6
    assert sum(r.n for r in rows) == 2 * 6000


def test_rank_accounts_for_overlap_and_anchor():
    # A and B are indistinguishable; C is much weaker.
    votes = [("A", "B", 1.0), ("A", "B", 0.0)] * 20 + [("A", "C", 1.0)] * 18 + [("A", "C", 0.0)] * 2
    votes += [("B", "C", 1.0)] * 18 + [("B", "C", 0.0)] * 2
    a, b, s = zip(*votes, strict=True)
    rows = stats.compute_leaderboard(a, b, s, n_boot=200, seed=0, anchor="C")
    ranks = {r.model: r.rank for r in rows}
    assert ranks == {"A": 1, "B": 1, "C": 3}
    assert {r.model: r.rating for r in rows}["C"] == pytest.approx(1000.0)


def test_bradley_terry_degenerate_data_errors_without_prior():
    _, wins = stats.pairwise_wins(["A", "A"], ["B", "B"], [1.0, 1.0])
    with pytest.raises(ValueError, match="no finite Bradley-Terry maximum"):
        stats.fit_bradley_terry(wins)
    finite = stats.fit_bradley_terry(wins, prior_games=0.01)
    assert np.all(np.isfinite(finite)) and finite[0] > finite[1]


def test_leaderboard_prompt_resampling_and_ties_drop():
    rng = np.random.default_rng(9)
    a, b, s = _tournament(rng, np.array([0.0, 0.5, 1.0]), 900)
    s[:100] = 0.5
    prompts = rng.integers(0, 60, s.size)
    by_votes = stats.compute_leaderboard(a.astype(str), b.astype(str), s, n_boot=200, seed=1)
    by_prompts = stats.compute_leaderboard(
        a.astype(str), b.astype(str), s, prompts, n_boot=200, seed=1
    )
    assert [r.rating for r in by_votes] == pytest.approx([r.rating for r in by_prompts])
    dropped = stats.compute_leaderboard(a.astype(str), b.astype(str), s, ties="drop", n_boot=50)
    assert sum(r.n for r in dropped) == 2 * 800


# --------------------------------------------------------------------------- agreement


def test_krippendorff_alpha_hand_computed():
    # Two units rated by two raters: unit 1 (0, 0), unit 2 (0, 1).
    # o = [[2, 1], [1, 0]], n_0 = 3, n_1 = 1, n = 4; nominal D_o = 2/4, D_e = 2*3*1/(4*3) = 1/2
    # -> alpha = 0. Add unit 3 (1, 1): o = [[2,1],[1,2]], n_c = (3, 3), n = 6,
    # D_o = 2/6, D_e = 2*9/30 = 0.6 -> alpha = 1 - (1/3)/0.6 = 4/9.
    assert stats.compute_krippendorff_alpha(
        [1, 1, 2, 2], [0, 0, 0, 1], level="nominal"
    ) == pytest.approx(0.0)
    u, v = [1, 1, 2, 2, 3, 3], [0, 0, 0, 1, 1, 1]
    assert stats.compute_krippendorff_alpha(u, v, level="nominal") == pytest.approx(4 / 9)
    # Three-level answers 0 / 0.5 / 1: units (0, 0.5), (1, 1), (0, 1).
    # o: (0,0.5)=1,(0.5,0)=1,(1,1)=2,(0,1)=1,(1,0)=1 -> n_0 = 2, n_.5 = 1, n_1 = 3, n = 6.
    # interval: D_o = (2*0.25 + 2*1)/6 = 2.5/6; D_e = 2*(2*1*.25 + 2*3*1 + 1*3*.25)/30 = 14.5/30
    # ordinal: d(0,.5) = (2+1 - 1.5)^2 = 2.25, d(.5,1) = (1+3 - 2)^2 = 4, d(0,1) = (6 - 2.5)^2 = 12.25
    #   D_o = (2*2.25 + 2*12.25)/6 = 29/6; D_e = 2*(2*1*2.25 + 1*3*4 + 2*3*12.25)/30 = 180/30
    u, v = [1, 1, 2, 2, 3, 3], [0, 0.5, 1, 1, 0, 1]
    assert stats.compute_krippendorff_alpha(u, v, level="interval") == pytest.approx(
        1 - (2.5 / 6) / (14.5 / 30)
    )
    assert stats.compute_krippendorff_alpha(u, v, level="ordinal") == pytest.approx(
        1 - (29 / 6) / 6
    )


def test_krippendorff_alpha_wikipedia_example():
    # https://en.wikipedia.org/wiki/Krippendorff%27s_alpha (3 coders, 15 units, missing values):
    # nominal alpha = 0.691; interval = 0.811 (the `krippendorff` package's sample output).
    data = [
        "*  *  *  *  *  3  4  1  2  1  1  3  3  *  3",
        "1  *  2  1  3  3  4  3  *  *  *  *  *  *  *",
        "*  *  2  1  3  4  4  *  2  1  1  3  3  *  4",
    ]
    units, values = [], []
    for row in data:
        for j, x in enumerate(row.split()):
            if x != "*":
                units.append(j)
                values.append(float(x))
    assert stats.compute_krippendorff_alpha(units, values, level="nominal") == pytest.approx(
        0.691, abs=5e-4
    )
    assert stats.compute_krippendorff_alpha(units, values, level="interval") == pytest.approx(
        0.811, abs=5e-4
    )


def test_fleiss_kappa_wikipedia_example():
    counts = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    assert stats.compute_fleiss_kappa(np.array(counts)) == pytest.approx(0.210, abs=5e-4)
    with pytest.raises(ValueError, match="same number"):
        stats.compute_fleiss_kappa(np.array([[1, 1], [2, 1]]))


def test_position_bias_and_gold():
    pb = stats.compute_position_bias(["left"] * 30 + ["right"] * 10 + ["tie"] * 5)
    assert (pb.share_left, pb.n_left, pb.n_right, pb.n_ties) == (0.75, 30, 10, 5)
    assert pb.ci_low > 0.5 and pb.p_value < 0.01
    with pytest.raises(ValueError, match="use left, right or tie"):
        stats.compute_position_bias(["up"])
    acc = stats.compute_gold_accuracy(
        ["r1", "r1", "r2", "r2", "r2"], [True, True, False, True, False]
    )
    assert acc == {"r1": (1.0, 2), "r2": (pytest.approx(1 / 3), 3)}
    assert stats.raters_below_gold(acc, 0.5) == ["r2"]
    assert stats.raters_below_gold(acc, 0.5, min_items=4) == []


# --------------------------------------------------------------------------- planner


def test_plan_study_formula_and_monotonicity():
    plan = stats.plan_study(0.6, 0.15, 0.1, 5)
    z = 1.959963984540054
    within = 0.24 - 0.15**2
    assert plan.n_prompts == int(np.ceil(4 * z * z * (0.15**2 + within / 5) / 0.01))
    assert plan.expected_width <= 0.1
    assert stats.expected_interval_width(0.6, 0.15, plan.n_prompts - 1, 5) > 0.1
    table = stats.plan_table(0.6, 0.15, 0.1, (1, 2, 5, 10))
    prompts = [p.n_prompts for p in table]
    assert prompts == sorted(prompts, reverse=True)
    # The floor: with infinitely many raters the prompts needed tend to 4 z^2 sd_b^2 / W^2.
    assert stats.plan_study(0.6, 0.15, 0.1, 10_000).n_prompts == pytest.approx(
        4 * z * z * 0.15**2 / 0.01, abs=1
    )
    with pytest.raises(ValueError, match=r"prompt_sd=0\.6 is too large"):
        stats.plan_study(0.6, 0.6, 0.1)


def test_planner_width_matches_bootstrap_width():
    plan = stats.plan_study(0.6, 0.15, 0.12, 3, tie_share=0.2)
    widths = []
    for child in np.random.SeedSequence(4).spawn(40):
        sim, boot = (np.random.default_rng(s) for s in child.spawn(2))
        s, p, r = stats.simulate_preference_study(
            sim,
            n_prompts=plan.n_prompts,
            raters_per_prompt=3,
            preference=0.6,
            prompt_sd=0.15,
            tie_share=0.2,
        )
        res = stats.compute_preference(s, p, r, n_boot=300, seed=boot)
        widths.append(res.ci_high - res.ci_low)
    assert np.mean(widths) == pytest.approx(plan.expected_width, rel=0.1)
