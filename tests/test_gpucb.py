"""GP-UCB over the 120 workflows on a synthetic objective with a known optimum."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from wrl import gpucb
from wrl.workflow import ALL_WORKFLOWS, NUM_WORKFLOWS, format_workflow, kendall_distance

BATCH = 4
SEEDS = range(8)


def _objective(seed: int):
    """score = -Kendall distance to a hidden order + N(0, 0.5); returns (hidden, f)."""
    rng = np.random.default_rng(10_000 + seed)
    hidden = int(rng.integers(NUM_WORKFLOWS))

    def f(idx) -> np.ndarray:
        idx = np.asarray(idx)
        return -gpucb.KENDALL[hidden, idx] + rng.normal(0.0, 0.5, len(idx))

    return hidden, f


def _evals_to_optimum_gpucb(seed: int) -> int:
    hidden, f = _objective(seed)
    idx = np.array(gpucb.space_filling(BATCH, seed))
    y = f(idx)
    r = 0
    while hidden not in idx:
        r += 1
        picks, _ = gpucb.propose_batch(idx, y, BATCH, seed=seed * 1000 + r)
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
        assert gpucb.KENDALL[a, b] == kendall_distance(ALL_WORKFLOWS[a], ALL_WORKFLOWS[b])


def test_gpucb_finds_optimum_faster_than_random_search():
    gp = [_evals_to_optimum_gpucb(s) for s in SEEDS]
    rnd = [_evals_to_optimum_random(s) for s in SEEDS]
    # random search needs ~60 evaluations on average; GP-UCB must need under half
    assert np.mean(gp) < 0.5 * np.mean(rnd), (gp, rnd)


def test_batch_has_no_duplicates_and_skips_evaluated():
    _, f = _objective(0)
    idx = np.array(gpucb.space_filling(8, 0))
    picks, post = gpucb.propose_batch(idx, f(idx), 20, seed=0)
    assert len(set(picks)) == 20
    assert not set(picks) & set(idx.tolist())
    assert sorted(post.loc[post["pick"] >= 0, "index"]) == sorted(picks)
    assert list(post.sort_values("pick").query("pick >= 0")["index"]) == picks


def test_allow_repeats_may_pick_evaluated_but_never_twice_in_batch():
    idx = np.arange(NUM_WORKFLOWS - 2)
    scores = -gpucb.KENDALL[0, idx].astype(float)
    with pytest.raises(ValueError, match="allow_repeats"):
        gpucb.propose_batch(idx, scores, 4)
    picks, _ = gpucb.propose_batch(idx, scores, 4, allow_repeats=True)
    assert len(set(picks)) == 4


def test_batch_spreads_out_pending_points_shrink_sd():
    _, f = _objective(1)
    idx = np.array(gpucb.space_filling(6, 1))
    gp = gpucb.fit_gp(idx, f(idx), 0)
    scale = 1.0
    before = gpucb.latent_sd(gp, idx, scale)
    pick = 5 if 5 not in idx else 6
    after = gpucb.latent_sd(gp, np.append(idx, pick), scale)
    assert after[pick] < before[pick]
    assert np.all(after <= before + 1e-12)


def test_latent_sd_is_total_sd_without_noise():
    _, f = _objective(2)
    idx = np.array(gpucb.space_filling(10, 2))
    y = f(idx)
    gp = gpucb.fit_gp(idx, y, 0)
    _, total = gp.predict(gpucb.EMBEDDING, return_std=True)
    noise_var = gp.kernel_.k2.noise_level * np.std(y) ** 2
    expected = np.sqrt(np.maximum(total**2 - noise_var, 0))
    np.testing.assert_allclose(gpucb.latent_sd(gp, idx, float(np.std(y))), expected, atol=1e-6)


def test_deterministic_under_seed():
    _, f = _objective(3)
    idx = np.array(gpucb.space_filling(6, 3))
    y = f(idx)
    a = gpucb.propose_batch(idx, y, 4, seed=7)
    b = gpucb.propose_batch(idx, y, 4, seed=7)
    assert a[0] == b[0]
    pd.testing.assert_frame_equal(a[1], b[1])
    assert gpucb.space_filling(5, 11) == gpucb.space_filling(5, 11)
    assert gpucb.space_filling(5, 11) != gpucb.space_filling(5, 12)


def test_round0_design_is_space_filling():
    """Greedy max-min: the design's minimum pairwise distance beats random batches'."""
    for seed in range(5):
        design = gpucb.space_filling(6, seed)
        assert len(set(design)) == 6
        d = gpucb.KENDALL[np.ix_(design, design)]
        design_min = d[~np.eye(6, dtype=bool)].min()
        rng = np.random.default_rng(seed)
        rand_mins = []
        for _ in range(200):
            r = rng.choice(NUM_WORKFLOWS, 6, replace=False)
            dr = gpucb.KENDALL[np.ix_(r, r)]
            rand_mins.append(dr[~np.eye(6, dtype=bool)].min())
        assert design_min >= max(rand_mins)
        assert design_min >= 4


def test_beta_schedule():
    assert gpucb.beta_t(1, 0.1, 1.0) == pytest.approx(2 * np.log(120 * np.pi**2 / 0.6))
    assert gpucb.beta_t(5, 0.1, 0.2) == pytest.approx(0.2 * gpucb.beta_t(5, 0.1, 1.0))
    assert gpucb.beta_t(2) < gpucb.beta_t(3)
    with pytest.raises(ValueError, match="delta"):
        gpucb.beta_t(1, delta=1.5)


def _write_score(root, r, i, workflow, score, compliance=0.5):
    d = root / f"round_{r}" / f"cand_{i}"
    d.mkdir(parents=True)
    (d / "score.json").write_text(json.dumps({"workflow": workflow, "score": score, "compliance": compliance}))
    return d / "score.json"


def test_propose_round_writes_proposals_and_search_state(tmp_path):
    cfg = {"batch": 3, "seed": 0, "beta": {"delta": 0.1, "scale": 0.2}, "allow_repeats": False}
    w0 = gpucb.propose_round(0, [], cfg, tmp_path / "round_0" / "proposals.json", tmp_path / "search")
    assert len(set(w0)) == 3
    paths = [_write_score(tmp_path, 0, i, w, -float(i)) for i, w in enumerate(w0)]
    w1 = gpucb.propose_round(1, paths, cfg, tmp_path / "round_1" / "proposals.json", tmp_path / "search")
    assert not set(w0) & set(w1)
    prop = json.loads((tmp_path / "round_1" / "proposals.json").read_text())
    assert prop["workflows"] == w1 and prop["method"] == "gp_bucb"
    assert gpucb.load_proposal(tmp_path / "round_1" / "proposals.json", 2) == w1[2]
    post = pd.read_parquet(tmp_path / "search" / "posterior_round_1.parquet")
    assert len(post) == 120 and post[["mean", "sd", "ucb"]].notna().all().all()
    obs = pd.read_parquet(tmp_path / "search" / "observations_round_1.parquet")
    assert list(obs["workflow"]) == w0 and list(obs["score"]) == [0.0, -1.0, -2.0]


def test_warm_start_picks_nearest_trained(tmp_path):
    a, b = format_workflow(ALL_WORKFLOWS[0]), format_workflow(ALL_WORKFLOWS[119])
    paths = [_write_score(tmp_path, 0, 0, a, 1.0), _write_score(tmp_path, 0, 1, b, 2.0)]
    target = format_workflow(ALL_WORKFLOWS[1])  # one swap from index 0
    assert gpucb.warm_start_policy(target, paths) == str(tmp_path / "round_0" / "cand_0" / "policy.pt")
    assert gpucb.warm_start_policy(target, []) is None
