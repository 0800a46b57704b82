"""Per-rule fidelity: the red-action logs of both backends, the rule tests, the cached
CybORG reference and the numba simulator against it on the decoy-heavy pairs.

The CybORG side of the slow tests is the reference cached under
``tests/data/fidelity_rules`` (``wrl fidelity --rules`` fills it); one test replays the
start of it on the live CybORG to show that the cache is still what CybORG produces.
"""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from wrl.env import sim_state
from wrl.eval.fidelity_rules import ALPHA, LOG_COLUMNS, compare_rules, play_logged
from wrl.eval.fidelity_rules_report import (
    CYBORG_ENVS, REFERENCE_DIR, RULE_PAIRS, cache_name, episode_returns, reference_log, tost,
)
from wrl.env.vec import make_vec

#: numba episodes per pair in CI; the CybORG side is the whole cached reference
CI_EPISODES = 5000
#: CI's return tests: |diff| <= 3 combined SE, and TOST equivalence (5% level) within
#: this fraction of CybORG's return sd, a small standardised effect. A margin of 2% of
#: the mean needs 1,750-9,400 CybORG episodes per pair (docs/fidelity.md); 800 are cached.
RETURN_Z, TOST_MARGIN_SD = 3.0, 0.15


@pytest.mark.parametrize("backend", ["numba", "cyborg"])
def test_red_action_log_has_the_same_meaning_in_both_backends(backend):
    with make_vec(backend, 2, "b_line", seed=0, workers=1, log_red=True) as env:
        env.reset()
        rows = []
        for _ in range(15):
            _, _, _, _, info = env.step(np.zeros(2, np.int64))
            assert info["red_action"].shape == (2, sim_state.RL_N)
            kind = info["red_action"][:, sim_state.RL_KIND]
            assert np.array_equal(info["impact"], kind == sim_state.R_IMPACT)
            rows.append(info["red_action"].copy())
    first = rows[0][0]  # B_line's ping sweep of the User subnet (index 0) succeeds
    assert tuple(first) == (sim_state.R_DISCOVER_SYSTEMS, 0, -1, 1, 0, 0)
    exploits = [r for step in rows for r in step if r[sim_state.RL_KIND] == sim_state.R_EXPLOIT]
    assert exploits and all(r[sim_state.RL_EXPLOIT] >= 0 and r[sim_state.RL_PORTS] > 0 for r in exploits)


def test_numba_logs_red_actions_only_when_asked():
    with make_vec("numba", 2, "b_line", seed=0) as env:
        env.reset()
        assert "red_action" not in env.step(np.zeros(2, np.int64))[4]


def fake_log(p_success, episodes=300, per_episode=5, seed=0):
    """A log with ``per_episode`` exploits of User1 (FTP) per episode, success w.p. p."""
    rng = np.random.default_rng(seed)
    n = episodes * per_episode
    log = pd.DataFrame({c: np.zeros(n, np.int64) for c in LOG_COLUMNS})
    log["kind"], log["target"], log["exploit"], log["ports"] = sim_state.R_EXPLOIT, 9, 7, 3
    log["success"] = (rng.random(n) < p_success).astype(np.int64)
    log["episode"] = np.repeat(np.arange(episodes), per_episode)
    log["t"] = np.tile(np.arange(per_episode), episodes)
    log["action"], log["comp_before"], log["comp_after"], log["reward"] = 0, 0, 0, 0.0
    return log


def test_compare_rules_passes_equal_rules_and_flags_a_changed_one():
    same = compare_rules(fake_log(0.8, seed=1), fake_log(0.8, seed=2))
    assert same["ok"].all() and set(same["rule"]) >= {"exploit_choice", "exploit_success"}
    changed = compare_rules(fake_log(0.7, seed=1), fake_log(0.8, seed=2))
    row = changed.set_index("rule").loc["exploit_success"]
    assert not row["ok"] and row["p_holm"] < ALPHA


def test_clustered_events_count_as_fewer_independent_ones():
    """Whole episodes that succeed or fail together carry one event's information each."""
    b = fake_log(0.5, seed=1)
    b["success"] = b.groupby("episode")["success"].transform("first")
    a = b.copy()
    a.loc[a["episode"] < 40, "success"] = 1  # about 20 of 300 episodes flipped
    p = compare_rules(a, b).set_index("rule").loc["exploit_success", "p"]
    table = [[(g["success"] == k).sum() for k in (0, 1)] for g in (a, b)]
    naive = stats.chi2_contingency(table, correction=False).pvalue
    assert naive < ALPHA < p  # 1500 'independent' events per side would reject


def test_tost_shows_equivalence_only_within_the_margin():
    rng = np.random.default_rng(0)
    ref = rng.normal(-100, 10, 4000)
    assert tost(rng.normal(-100, 10, 4000), ref, 2.0)["p"] < 0.05
    far = tost(rng.normal(-104, 10, 4000), ref, 2.0)
    assert far["p"] > 0.5 and far["margin_resolvable"] > 0.03


def test_a_killed_fill_leaves_no_cache_and_its_temporary_is_cleaned(tmp_path):
    import shutil
    shutil.copy(REFERENCE_DIR / "decoy_remove_b_line.parquet", tmp_path)
    stale = tmp_path / ".decoy_remove_b_line.tmp4242.parquet"  # what a fill killed mid-write leaves
    stale.write_bytes(b"half a parquet")
    log = reference_log("decoy_remove", "b_line", 5, tmp_path)
    assert not stale.exists() and log["episode"].nunique() == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decoy_remove_b_line.parquet"]

@pytest.mark.slow
def test_cached_reference_is_what_cyborg_plays():
    policy, red = RULE_PAIRS[0]
    cached = reference_log(policy, red, CYBORG_ENVS)
    live = play_logged(policy, "cyborg", red, CYBORG_ENVS, seed=int(cached["seed"].iloc[0]),
                       workers=1, num_envs=CYBORG_ENVS)
    pd.testing.assert_frame_equal(cached.drop(columns="seed"), live, check_dtype=False)


#: the defender's own play and that of its seed-0 source (docs/training.md): they place
#: decoys where the baselines never do
POLICIES = Path(__file__).resolve().parents[1] / "docs" / "policies"
DEFENDERS = [str(POLICIES / name) for name in ("cage2_composed.pt", "cage2.pt")]


@pytest.mark.slow
@pytest.mark.parametrize("policy,red", [*RULE_PAIRS, *((p, red) for p in DEFENDERS for red in ("b_line", "meander"))])
def test_numba_matches_cached_cyborg_rule_by_rule(policy, red):
    path = REFERENCE_DIR / f"{cache_name(policy)}_{red}.parquet"
    ref = pd.read_parquet(path)
    sim_log = play_logged(policy, "numba", red, CI_EPISODES, seed=0, num_envs=1000)
    rules = compare_rules(sim_log, ref)
    worst = rules.nsmallest(3, "p")[["rule", "group", "freq_numba", "freq_cyborg", "p_holm"]]
    assert len(rules) >= 20 and rules["ok"].all(), worst.to_string()
    ra, rb = episode_returns(sim_log), episode_returns(ref)
    eq = tost(ra, rb, TOST_MARGIN_SD * rb.std(ddof=1))
    assert abs(eq["diff"]) <= RETURN_Z * eq["se"], eq
    assert eq["p"] < 0.05, eq
