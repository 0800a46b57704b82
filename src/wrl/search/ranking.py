"""Exhaustive ranking of workflows: every workflow trained at several seeds, and whether
workflows differ beyond the seed-to-seed noise.

``rank_workflows`` turns one score per (workflow, seed) into the ranking (mean score per
workflow, best first) and ``variance_components`` into the one-way random-effects
analysis: between- and within-workflow variance and the intraclass correlation
ICC(1) = (MSB - MSW) / (MSB + (k - 1) MSW), k seeds per workflow. ICC near 0 says the
workflows do not differ beyond noise; near 1, that the seed hardly matters.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from wrl.workflow import UNIT_TYPES, parse_workflow


def rank_workflows(scores: pd.DataFrame) -> pd.DataFrame:
    """Columns workflow, seed, score (one row per run) -> per workflow: mean, sd, runs, rank (1 = best)."""
    table = scores.groupby("workflow")["score"].agg(mean="mean", sd="std", runs="count").reset_index()
    table = table.sort_values(["mean", "workflow"], ascending=[False, True], ignore_index=True)
    table["rank"] = np.arange(1, len(table) + 1)
    return table


def variance_components(scores: pd.DataFrame) -> dict:
    """One-way random effects over workflows for columns workflow, score (k runs each, k >= 2).

    Returns workflows, k, ms_between, ms_within, f_stat (MSB / MSW) and p_value (the
    F-test of "no workflow differs"), var_between (>= 0), var_within (= MSW),
    icc (ICC(1), may be negative when the workflows differ less than chance) and
    seed_sd (sqrt of MSW: the seed-to-seed sd of one run's score).
    """
    groups = scores.groupby("workflow")["score"]
    k_all = groups.count()
    if k_all.nunique() != 1 or k_all.iloc[0] < 2:
        raise ValueError(f"variance_components: every workflow needs the same number (>= 2) of runs; "
                         f"got {sorted(k_all.unique())}")
    k, n = int(k_all.iloc[0]), len(k_all)
    grand = scores["score"].mean()
    ms_between = k * ((groups.mean() - grand) ** 2).sum() / (n - 1)
    ms_within = ((scores["score"] - groups.transform("mean")) ** 2).sum() / (n * (k - 1))
    f_stat = ms_between / ms_within
    return {"workflows": n, "k": k, "ms_between": float(ms_between), "ms_within": float(ms_within),
            "f_stat": float(f_stat), "p_value": float(stats.f.sf(f_stat, n - 1, n * (k - 1))),
            "var_between": float(max((ms_between - ms_within) / k, 0.0)), "var_within": float(ms_within),
            "icc": float((ms_between - ms_within) / (ms_between + (k - 1) * ms_within)),
            "seed_sd": float(np.sqrt(ms_within))}


def position_effects(scores: pd.DataFrame) -> pd.DataFrame:
    """Columns workflow, score (one row per run) -> mean score by each unit type's position.

    Returns one row per unit type: the mean score of the runs that put it at position
    1..5 (columns ``pos1`` .. ``pos5``, 1 = highest priority) and ``spread`` (best minus
    worst position mean): a type whose place matters has a large spread.
    """
    positions = pd.DataFrame([parse_workflow(w) for w in scores["workflow"]], index=scores.index)
    rows = []
    for unit in UNIT_TYPES:
        pos = (positions == unit).to_numpy().argmax(axis=1) + 1
        means = scores["score"].groupby(pos).mean()
        rows.append({"unit_type": unit, **{f"pos{p}": means.get(p, np.nan) for p in range(1, 6)},
                     "spread": means.max() - means.min()})
    return pd.DataFrame(rows).sort_values("spread", ascending=False, ignore_index=True)
