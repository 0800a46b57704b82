"""The search's verdict from its runs: the answer, how sure it is, and whether the field is flat.

Whatever design proposed the runs, the verdict comes from the position model
(``wrl.search.positions``) fitted to every finite score: the answer is the evaluated
workflow with the best posterior mean (never the best single score), with its probability
of being the best of all 120, the 90% credible top set and P(flat): the probability that
the best workflow beats an average one by less than ``search.flat_margin`` score points.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from wrl.search.positions import POSTERIOR_DRAWS, Posterior, posterior
from wrl.workflow import NUM_WORKFLOWS, format_workflow, workflow_from_index

#: the credible top set holds the best with at least this posterior probability
CREDIBLE_LEVEL = 0.9


@dataclass
class Verdict:
    """answer: workflow index; p_best: its P(best); credible: int[k] the credible top set;
    p_flat: P(gain < flat_margin); flat: p_flat >= 0.5; flat_margin: score points;
    table: ``posterior_table``; post: the ``Posterior``."""

    answer: int
    p_best: float
    credible: np.ndarray
    p_flat: float
    flat: bool
    flat_margin: float
    table: pd.DataFrame
    post: Posterior


def posterior_table(post: Posterior) -> pd.DataFrame:
    """Per workflow (index order): index, workflow, mean, sd, n_obs, p_best."""
    return pd.DataFrame({"index": np.arange(NUM_WORKFLOWS),
                         "workflow": [format_workflow(workflow_from_index(i)) for i in range(NUM_WORKFLOWS)],
                         "mean": post.mean, "sd": post.sd, "n_obs": post.n_obs, "p_best": post.p_best})


def verdict(obs: pd.DataFrame, search_cfg: dict, draws: int = POSTERIOR_DRAWS) -> Verdict:
    """The verdict on observations with columns index, score, score_se (finite scores only).

    search_cfg: the config's search section (noise_sd, seed_effect_sd, flat_margin, seed);
    draws: posterior draws behind P(best), the credible set and P(flat). The rows must be in
    the order run (a workflow's j-th row is its run at seed ``train.seed + j``).
    """
    if obs.empty:
        raise ValueError("verdict: no candidate has a finite score; check the train logs")
    post = posterior(obs["index"].to_numpy(), obs["score"].to_numpy(), obs["score_se"].to_numpy(),
                     float(search_cfg["noise_sd"]), seed=int(search_cfg["seed"]), draws=draws,
                     seed_effect_sd=float(search_cfg.get("seed_effect_sd", 0.0)))
    answer, margin = post.answer(), float(search_cfg["flat_margin"])
    p_flat = post.p_flat(margin)
    return Verdict(answer=answer, p_best=float(post.p_best[answer]), credible=post.credible_set(CREDIBLE_LEVEL),
                   p_flat=p_flat, flat=p_flat >= 0.5, flat_margin=margin, table=posterior_table(post), post=post)
