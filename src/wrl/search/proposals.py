"""A round's proposals: GP-UCB (GP-BUCB, a space-filling first round; see ``wrl.search.gp``), or
the default position design (``wrl.search.design``), behind one entry point, ``choose_batch``."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from wrl.search.design import MAX_REPEATS, position_batch, posterior_frame
from wrl.search.gp import DEFAULT_NOISE_SD, KENDALL, fit_with_mean, latent_sd, noise_variances, workflow_frame
from wrl.workflow import NUM_WORKFLOWS


def beta_t(t: int, delta: float = 0.1, scale: float = 0.2, domain: int = NUM_WORKFLOWS) -> float:
    """Srinivas et al. (2010) finite-domain exploration weight, times ``scale``.

    ``scale * 2 * log(domain * t^2 * pi^2 / (6 * delta))`` for evaluation number
    ``t >= 1``; delta in (0, 1). Returns beta (UCB uses its square root).
    """
    if t < 1:
        raise ValueError(f"beta_t: t={t}; t counts evaluations from 1")
    if not 0.0 < delta < 1.0:
        raise ValueError(f"search.beta.delta={delta}: must lie in (0, 1)")
    return scale * 2.0 * math.log(domain * t * t * math.pi**2 / (6.0 * delta))


def space_filling(batch: int, seed: int, exclude: set[int] = frozenset()) -> list[int]:
    """``batch`` workflow indices spread out by greedy max-min Kendall distance.

    The first pick is uniform at random (seeded) among the allowed ones; each next pick
    maximises its minimum Kendall distance to the picks so far (ties broken at random).
    ``exclude`` lists indices that may not be picked.
    """
    rng = np.random.default_rng(seed)
    allowed = np.array([i for i in range(NUM_WORKFLOWS) if i not in exclude])
    if batch > len(allowed):
        raise ValueError(f"space_filling: {batch} picks asked but only {len(allowed)} workflows left")
    picks = [int(rng.choice(allowed))]
    while len(picks) < batch:
        free = np.setdiff1d(allowed, picks)
        mind = KENDALL[np.ix_(free, picks)].min(axis=1)
        best = free[mind == mind.max()]
        picks.append(int(rng.choice(best)))
    return picks


def propose_batch(
    indices: np.ndarray,
    scores: np.ndarray,
    batch: int,
    *,
    score_se: np.ndarray | None = None,
    noise_sd: float = DEFAULT_NOISE_SD,
    delta: float = 0.1,
    scale: float = 0.2,
    allow_repeats: bool = False,
    seed: int = 0,
) -> tuple[list[int], pd.DataFrame]:
    """Choose ``batch`` workflows by GP-BUCB given scores observed so far.

    indices: int[n] workflow indices observed (n >= 1); scores: float[n]; score_se,
    noise_sd: the observation noise (``noise_variances``; a pending pick gets noise_sd).
    Returns (picks, posterior) where posterior is ``workflow_frame``'s table (mean, sd) plus ucb (at
    the first pick), pick (0-based order in the batch, -1 if not picked) and beta (the
    beta_t used for that pick, NaN if not picked).
    """
    indices = np.asarray(indices, dtype=np.int64)
    noise = noise_variances(score_se, len(indices), noise_sd)
    gp, mean, y_scale = fit_with_mean(indices, np.asarray(scores, dtype=np.float64), noise, seed)
    rng = np.random.default_rng(seed)
    excluded = np.zeros(NUM_WORKFLOWS, bool)
    if not allow_repeats:
        excluded[indices] = True
    if batch > int((~excluded).sum()):
        raise ValueError(
            f"search: {batch} new workflows asked but only {int((~excluded).sum())} are "
            "unevaluated; lower search.batch/rounds or set search.allow_repeats: true"
        )
    train_idx = indices.copy()
    picks, betas = [], []
    sd0 = ucb0 = None
    for _ in range(batch):
        sd = latent_sd(gp, train_idx, noise, y_scale)
        beta = beta_t(len(train_idx) + 1, delta, scale)
        ucb = mean + math.sqrt(beta) * sd
        if sd0 is None:
            sd0, ucb0 = sd, ucb.copy()
        ucb[excluded] = -np.inf
        pick = int(rng.choice(np.flatnonzero(ucb == ucb.max())))  # ties at random
        picks.append(pick)
        betas.append(beta)
        excluded[pick] = True  # never twice in one batch
        train_idx = np.append(train_idx, pick)  # pending at its mean: only sd changes
        noise = np.append(noise, noise_sd**2)
    table = workflow_frame(mean, sd0, indices)
    table["ucb"] = ucb0
    table["pick"] = -1
    table.loc[picks, "pick"] = np.arange(batch)
    table["beta"] = np.nan
    table.loc[picks, "beta"] = betas
    return picks, table


def choose_batch(round_: int, indices: np.ndarray, scores: np.ndarray, score_se: np.ndarray,
                 search_cfg: dict, evaluated: set[int]) -> tuple[list[int], pd.DataFrame, str]:
    """Round ``round_``'s picks as the pipeline makes them, from the finite scores so far.

    indices, scores, score_se: float[n] observations with a finite score (n may be 0);
    search_cfg: the config's ``search`` section (``method``: "position", the default
    design of ``wrl.search.design``, or "gp_ucb"); evaluated: every workflow index tried so
    far (finite score or not; for gp_ucb excluded unless ``allow_repeats``). Seeded by
    ``1000 * search.seed + round_``. Returns (picks, posterior table, method): method
    "covering", "thompson", "replicate" or "confirm" (position), "space_filling" or "gp_bucb"
    (gp_ucb). A position pick may repeat a workflow (a replicate at the next seed).
    """
    batch, seed = int(search_cfg["batch"]), int(search_cfg["seed"]) * 1000 + round_
    noise_sd = search_cfg.get("noise_sd", DEFAULT_NOISE_SD)
    if search_cfg.get("method", "gp_ucb") == "position":
        picks, post, method = position_batch(round_, int(search_cfg["rounds"]), indices, scores, score_se, batch,
                                             noise_sd, seed, int(search_cfg["seed"]), int(search_cfg["design_runs"]),
                                             int(search_cfg["replicate_rounds"]), float(search_cfg["flat_margin"]),
                                             int(search_cfg.get("max_repeats", MAX_REPEATS)),
                                             seed_effect_sd=float(search_cfg.get("seed_effect_sd", 0.0)))
        return picks, posterior_frame(post, picks), method
    if len(indices) == 0:
        picks = space_filling(batch, seed, set() if search_cfg["allow_repeats"] else set(evaluated))
        posterior = workflow_frame(np.nan, np.nan, [])
        posterior["ucb"] = np.nan
        posterior["pick"] = -1
        posterior.loc[picks, "pick"] = np.arange(batch)
        posterior["beta"] = np.nan
        return picks, posterior, "space_filling"
    picks, posterior = propose_batch(
        indices, scores, batch, score_se=score_se, noise_sd=noise_sd,
        delta=search_cfg["beta"]["delta"], scale=search_cfg["beta"]["scale"],
        allow_repeats=search_cfg["allow_repeats"], seed=seed)
    return picks, posterior, "gp_bucb"
