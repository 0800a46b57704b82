"""GP-UCB over the 120 workflows on a synthetic objective with a known optimum."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from wrl.search import gp, proposals, rounds
from wrl.workflow import ALL_WORKFLOWS, NUM_WORKFLOWS, format_workflow, kendall_distance

BATCH = 4
SEEDS = range(8)


def _objective(seed: int):
    """score = -Kendall distance to a hidden order + N(0, 0.5); returns (hidden, f)."""
    rng = np.random.default_rng(10_000 + seed)
    hidden = int(rng.integers(NUM_WORKFLOWS))

    def f(idx) -> np.ndarray:
        idx = np.asarray(idx)
        return -gp.KENDALL[hidden, idx] + rng.normal(0.0, 0.5, len(idx))

    return hidden, f


def _evals_to_optimum_gpucb(seed: int) -> int:
    hidden, f = _objective(seed)
    idx = np.array(proposals.space_filling(BATCH, seed))
    y = f(idx)
    r = 0
    while hidden not in idx:
        r += 1
        picks, _ = proposals.propose_batch(idx, y, BATCH, noise_sd=0.5, seed=seed * 1000 + r)
        idx = np.append(idx, picks)
        y = np.append(y, f(picks))
    return int(np.flatnonzero(idx == hidden)[0]) + 1


def _evals_to_optimum_random(seed: int) -> int:
    hidden, _ = _objective(seed)
    order = np.random.default_rng(20_000 + seed).permutation(NUM_WORKFLOWS)
    return int(np.flatnonzero(order == hidden)[0]) + 1


def test_kendall_table_matches_workflow_module():
    rng = np.random.default_rng(0)
    for a, b in rng.integers(NUM_WORKFLOWS, size=(50, 2)):
        assert gp.KENDALL[a, b] == kendall_distance(ALL_WORKFLOWS[a], ALL_WORKFLOWS[b])


def test_gpucb_finds_optimum_faster_than_random_search():
    ucb = [_evals_to_optimum_gpucb(s) for s in SEEDS]
    rnd = [_evals_to_optimum_random(s) for s in SEEDS]
    # random search needs ~60 evaluations on average; GP-UCB must need under half
    assert np.mean(ucb) < 0.5 * np.mean(rnd), (ucb, rnd)


def test_batch_has_no_duplicates_and_skips_evaluated():
    _, f = _objective(0)
    idx = np.array(proposals.space_filling(8, 0))
    picks, post = proposals.propose_batch(idx, f(idx), 20, seed=0)
    assert len(set(picks)) == 20
    assert not set(picks) & set(idx.tolist())
    assert sorted(post.loc[post["pick"] >= 0, "index"]) == sorted(picks)
    assert list(post.sort_values("pick").query("pick >= 0")["index"]) == picks


def test_allow_repeats_may_pick_evaluated_but_never_twice_in_batch():
    idx = np.arange(NUM_WORKFLOWS - 2)
    scores = -gp.KENDALL[0, idx].astype(float)
    with pytest.raises(ValueError, match="allow_repeats"):
        proposals.propose_batch(idx, scores, 4)
    picks, _ = proposals.propose_batch(idx, scores, 4, allow_repeats=True)
    assert len(set(picks)) == 4


def test_batch_spreads_out_pending_points_shrink_sd():
    _, f = _objective(1)
    idx = np.array(proposals.space_filling(6, 1))
    noise = gp.noise_variances(None, 6, 0.5)
    model = gp.fit_gp(idx, f(idx), noise, 0)
    scale = 1.0
    before = gp.latent_sd(model, idx, noise, scale)
    pick = 5 if 5 not in idx else 6
    after = gp.latent_sd(model, np.append(idx, pick), np.append(noise, 0.25), scale)
    assert after[pick] < before[pick]
    assert np.all(after <= before + 1e-12)


def test_latent_sd_matches_the_fitted_gp():
    _, f = _objective(2)
    idx = np.array(proposals.space_filling(10, 2))
    y = f(idx)
    noise = gp.noise_variances(np.linspace(0.1, 1.0, 10), 10, 0.5)
    model = gp.fit_gp(idx, y, noise, 0)
    _, sd = model.predict(gp.EMBEDDING, return_std=True)  # sklearn: the latent sd (alpha is not added)
    np.testing.assert_allclose(gp.latent_sd(model, idx, noise, float(np.std(y))), sd, atol=1e-6)


def test_noise_is_given_never_fitted_to_zero_and_kept_at_observed_points():
    # 6 workflows, each observed twice with seed noise of sd 3: the posterior at an observed
    # workflow must keep about 3 / sqrt(2) of uncertainty, not collapse to ~0 (the v1 bug)
    rng = np.random.default_rng(0)
    idx = np.repeat(proposals.space_filling(6, 0), 2)
    y = -5.0 * gp.KENDALL[0, idx] + rng.normal(0, 3.0, len(idx))
    _, post = proposals.propose_batch(idx, y, 1, score_se=np.full(len(idx), 1.0), noise_sd=3.0, allow_repeats=True)
    seen = post.loc[post["n_obs"] == 2, "sd"]
    assert (seen > 1.0).all() and (seen < 3.0).all()
    # a score's own standard error wins over the floor when larger
    np.testing.assert_allclose(gp.noise_variances(np.array([1.0, 4.0, np.nan]), 3, 2.0), [4.0, 16.0, 4.0])
    with pytest.raises(ValueError, match="noise_sd"):
        gp.noise_variances(None, 3, 0.0)


def test_repeats_allowed_can_re_propose_an_uncertain_best():
    # every workflow observed once except the best region; with repeats allowed and a large
    # noise, the top workflow's sd stays high enough to be proposed again
    idx = np.arange(NUM_WORKFLOWS)
    y = -gp.KENDALL[0, idx].astype(float)
    picks, post = proposals.propose_batch(idx, y, 1, noise_sd=3.0, allow_repeats=True)
    assert post.loc[post["index"] == picks[0], "n_obs"].item() == 1
    assert gp.KENDALL[0, picks[0]] <= 1


def test_deterministic_under_seed():
    _, f = _objective(3)
    idx = np.array(proposals.space_filling(6, 3))
    y = f(idx)
    a = proposals.propose_batch(idx, y, 4, noise_sd=0.5, seed=7)
    b = proposals.propose_batch(idx, y, 4, noise_sd=0.5, seed=7)
    assert a[0] == b[0]
    pd.testing.assert_frame_equal(a[1], b[1])
    assert proposals.space_filling(5, 11) == proposals.space_filling(5, 11)
    assert proposals.space_filling(5, 11) != proposals.space_filling(5, 12)


def test_round0_design_is_space_filling():
    """Greedy max-min: the design's minimum pairwise distance beats random batches'."""
    for seed in range(5):
        design = proposals.space_filling(6, seed)
        assert len(set(design)) == 6
        d = gp.KENDALL[np.ix_(design, design)]
        design_min = d[~np.eye(6, dtype=bool)].min()
        rng = np.random.default_rng(seed)
        rand_mins = []
        for _ in range(200):
            r = rng.choice(NUM_WORKFLOWS, 6, replace=False)
            dr = gp.KENDALL[np.ix_(r, r)]
            rand_mins.append(dr[~np.eye(6, dtype=bool)].min())
        assert design_min >= max(rand_mins)
        assert design_min >= 4


def test_beta_schedule():
    assert proposals.beta_t(1, 0.1, 1.0) == pytest.approx(2 * np.log(120 * np.pi**2 / 0.6))
    assert proposals.beta_t(5, 0.1, 0.2) == pytest.approx(0.2 * proposals.beta_t(5, 0.1, 1.0))
    assert proposals.beta_t(2) < proposals.beta_t(3)
    with pytest.raises(ValueError, match="delta"):
        proposals.beta_t(1, delta=1.5)


def _write_score(root, r, i, workflow, score, compliance=0.5):
    d = root / f"round_{r}" / f"cand_{i}"
    d.mkdir(parents=True)
    (d / "score.json").write_text(json.dumps({
        "workflow": workflow, "score": score, "score_se": 1.0, "compliance": compliance,
        "scores_by_red": {"b_line": score - 1, "meander": score + 1}}))
    return d / "score.json"


def test_propose_round_writes_proposals_and_search_state(tmp_path):
    cfg = {"batch": 3, "seed": 0, "beta": {"delta": 0.1, "scale": 0.2}, "allow_repeats": False, "noise_sd": 1.0}
    w0 = rounds.propose_round(0, [], cfg, tmp_path / "round_0" / "proposals.json", tmp_path / "search")
    assert len(set(w0)) == 3
    paths = [_write_score(tmp_path, 0, i, w, -float(i)) for i, w in enumerate(w0)]
    w1 = rounds.propose_round(1, paths, cfg, tmp_path / "round_1" / "proposals.json", tmp_path / "search")
    assert not set(w0) & set(w1)
    prop = json.loads((tmp_path / "round_1" / "proposals.json").read_text())
    assert prop["workflows"] == w1 and prop["method"] == "gp_bucb"
    assert rounds.load_proposal(tmp_path / "round_1" / "proposals.json", 2) == (w1[2], 0)
    again = rounds.propose_round(2, paths, cfg | {"allow_repeats": True, "batch": 120},
                                tmp_path / "round_2" / "proposals.json", tmp_path / "search")
    for cand, workflow in enumerate(again):  # an evaluated workflow proposed again is its repeat 1
        assert rounds.load_proposal(tmp_path / "round_2" / "proposals.json", cand) == (workflow, int(workflow in w0))
    post = pd.read_parquet(tmp_path / "search" / "posterior_round_1.parquet")
    assert len(post) == 120 and post[["mean", "sd", "ucb"]].notna().all().all()
    obs = pd.read_parquet(tmp_path / "search" / "observations_round_1.parquet")
    assert list(obs["workflow"]) == w0 and list(obs["score"]) == [0.0, -1.0, -2.0]
    assert list(obs["score_b_line"]) == [-1.0, -2.0, -3.0] and obs["score_sleep"].isna().all()
    assert (obs["score_se"] == 1.0).all()


def test_warm_start_picks_nearest_trained(tmp_path):
    a, b = format_workflow(ALL_WORKFLOWS[0]), format_workflow(ALL_WORKFLOWS[119])
    paths = [_write_score(tmp_path, 0, 0, a, 1.0), _write_score(tmp_path, 0, 1, b, 2.0)]
    target = format_workflow(ALL_WORKFLOWS[1])  # one swap from index 0
    assert rounds.warm_start_policy(target, paths) == str(tmp_path / "round_0" / "cand_0" / "policy.pt")
    assert rounds.warm_start_policy(target, []) is None
