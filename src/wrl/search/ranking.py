"""Exhaustive ranking of workflows: every workflow trained at several seeds, and whether
workflows differ beyond the seed-to-seed noise.

``rank_workflows`` turns one score per (workflow, seed) into the ranking (mean score per
workflow, best first) and ``variance_components`` into the one-way random-effects
analysis: between- and within-workflow variance and the intraclass correlation
ICC(1) = (MSB - MSW) / (MSB + (k - 1) MSW), k seeds per workflow. ICC near 0 says the
workflows do not differ beyond noise; near 1, that the seed hardly matters.

Every workflow of the exhaustive table is trained at the *same* seeds, and a seed moves
all workflows together (the same base policy, the same episodes), so ``crossed_components``
separates that shared seed effect from the workflow effect (two-way, workflow x seed):
the workflow test then compares workflows at the same seeds, as the pipeline does (every
candidate's first run is at ``train.seed``).
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


def crossed_components(scores: pd.DataFrame, level: float = 0.95) -> dict:
    """Two-way analysis (workflow x seed, one run per cell) for columns workflow, seed, score.

    Every workflow needs a run at every seed (>= 2 of each). Returns workflows, seeds,
    f_workflow and p_workflow (the F-test of "no workflow differs", against the residual),
    f_seed and p_seed (the same for seeds), sd_between (the workflows' true-mean sd, score
    points, floored at 0), sd_between_upper (its one-sided ``level`` upper confidence bound,
    from F / (1 + k theta) ~ F(n - 1, (n - 1)(k - 1)) with theta = var_between / var_residual),
    sd_seed (the shared seed effect's sd) and sd_residual (one run's sd once its seed's
    shared effect is taken out: the noise between two workflows run at the same seed).
    """
    cells = scores.pivot_table(index="workflow", columns="seed", values="score", aggfunc="count")
    if cells.isna().any().any() or (cells != 1).any().any() or cells.shape[0] < 2 or cells.shape[1] < 2:
        raise ValueError("crossed_components: every workflow needs exactly one run at every seed "
                         "(>= 2 workflows, >= 2 seeds); run dev/exhaustive.py with the same --seeds for all")
    y = scores.pivot(index="workflow", columns="seed", values="score").to_numpy()
    n, k = y.shape
    grand = y.mean()
    rows, cols = y.mean(axis=1) - grand, y.mean(axis=0) - grand
    resid = y - grand - rows[:, None] - cols[None, :]
    ms_w, ms_s = k * (rows**2).sum() / (n - 1), n * (cols**2).sum() / (k - 1)
    df_e = (n - 1) * (k - 1)
    ms_e = (resid**2).sum() / df_e
    f_w, f_s = ms_w / ms_e, ms_s / ms_e
    theta_upper = (f_w / stats.f.ppf(1 - level, n - 1, df_e) - 1) / k
    return {"workflows": n, "seeds": k, "f_workflow": float(f_w), "p_workflow": float(stats.f.sf(f_w, n - 1, df_e)),
            "f_seed": float(f_s), "p_seed": float(stats.f.sf(f_s, k - 1, df_e)),
            "sd_between": float(np.sqrt(max((ms_w - ms_e) / k, 0.0))),
            "sd_between_upper": float(np.sqrt(max(theta_upper, 0.0) * ms_e)),
            "sd_seed": float(np.sqrt(max((ms_s - ms_e) / n, 0.0))), "sd_residual": float(np.sqrt(ms_e))}


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
