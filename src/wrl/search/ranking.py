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

from wrl.search.proposals import choose_batch
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


def replay_search(oracle: pd.DataFrame, search_cfg: dict, train_seed: int = 0) -> pd.DataFrame:
    """The pipeline's search (``search.rounds`` rounds of ``search.batch``) scored from a table.

    oracle: one row per run with columns index (0..119), seed, score, score_se (the runs
    the pipeline's candidates would be, e.g. the exhaustive runs); search_cfg: the
    config's ``search`` section; train_seed: the config's ``train.seed``. A workflow's
    r-th re-evaluation (``allow_repeats``) trains at ``train_seed + r``, as in the
    pipeline. Returns one row per candidate: round, cand, index, seed, score, score_se,
    in pick order. The pipeline's best is the row with the highest score (ties: the
    earlier candidate), as in ``best_workflows.csv``.
    """
    table = oracle.set_index(["index", "seed"])
    rows: list[dict] = []
    for round_ in range(int(search_cfg["rounds"])):
        seen = pd.DataFrame(rows, columns=["round", "cand", "index", "seed", "score", "score_se"]).astype(
            {"index": np.int64, "score": np.float64, "score_se": np.float64})
        good = seen[np.isfinite(seen["score"])]
        picks, _, _ = choose_batch(round_, good["index"].to_numpy(), good["score"].to_numpy(),
                                   good["score_se"].to_numpy(), search_cfg, set(seen["index"]))
        keys = [(int(i), train_seed + int((seen["index"] == i).sum())) for i in picks]
        absent = [key for key in keys if key not in table.index]
        if absent:
            raise ValueError(f"replay_search: the search picked (workflow index, seed) {absent}, which the "
                             "oracle lacks; train every workflow at enough seeds (dev/exhaustive.py)")
        rows += [{"round": round_, "cand": c, "index": i, "seed": seed, "score": float(table.at[(i, seed), "score"]),
                  "score_se": float(table.at[(i, seed), "score_se"])} for c, (i, seed) in enumerate(keys)]
    return pd.DataFrame(rows)
