"""Quick fidelity suite: the numba simulator against the real CybORG, pair by pair.

The CybORG episodes are the cost (about 250 env-steps/s on 2 cores), so CI plays 40
episodes per backend for eight pairs (one a red mixture); ``wrl fidelity --episodes 1000`` is the full run.
Seeds are fixed, so each test's outcome is deterministic.
"""
import numpy as np
import pandas as pd
import pytest

from wrl.eval.fidelity import MIXTURE, NO_IMPACT, TESTS, compare, markdown_report, run_pair, summary_line

QUICK_PAIRS = [
    ("sleep", "b_line", "sleep"), ("sleep", "meander", "sleep"), ("random", "b_line", "sleep"),
    ("react_restore", "meander", "sleep"), ("decoy_heavy", "b_line", "sleep"),
    ("restore_opserver", "b_line", "sleep"), ("sleep", "b_line", "random"),
    ("react_restore", MIXTURE, "sleep"),  # a red mixture, drawn per episode
]


@pytest.mark.slow
@pytest.mark.parametrize("policy,red,green", QUICK_PAIRS)
def test_numba_matches_cyborg(policy, red, green):
    row, frame = run_pair(policy, red, green, episodes=40, seed=0, workers=2)
    assert set(frame["backend"]) == {"numba", "cyborg"} and len(frame) == 80
    failed = [k for k in ("return_ok", "curve_ok", "bits_ok", "impact_ok") if not row[k]]
    assert not failed, {k: row[k] for k in ("numba_mean", "cyborg_mean", "se", "curve_max_z",
                                            "bits_max_z", "bits_worst", "impact_p")}


def fake(mean, n=50, impact=NO_IMPACT, seed=0):
    rng = np.random.default_rng(seed)
    rewards = (mean / 100 + rng.normal(0, 0.5, (n, 100))).astype(np.float32)
    return {"returns": rewards.astype(np.float64).sum(axis=1), "rewards": rewards,
            "bits": rng.uniform(0, 0.2, (n, 52)), "first_impact": np.full(n, impact)}


def test_compare_passes_equal_distributions_and_fails_shifted_ones():
    same = compare(fake(-500, seed=1), fake(-500, seed=2))
    assert same["ok"] and same["within_2pct"]
    shifted = compare(fake(-400, seed=1), fake(-500, seed=2))
    assert not shifted["return_ok"] and not shifted["curve_ok"] and not shifted["ok"]
    late = compare(fake(-500, seed=1, impact=20), fake(-500, seed=2, impact=15))
    assert not late["impact_ok"] and late["impact_p"] < TESTS["impact_p"]


def test_report_and_summary_name_the_pass_count():
    row = {"policy": "sleep", "red": "b_line", "green": "sleep",
           **compare(fake(-500, seed=1), fake(-500, seed=2))}
    table = pd.DataFrame([row, {**row, "red": "meander", "ok": False}])
    assert summary_line(table).startswith("summary: 1/2 pairs pass")
    assert "| sleep | meander |" in markdown_report(table, 1.0)
