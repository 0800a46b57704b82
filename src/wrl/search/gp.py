"""GP-UCB batch proposals over the 120 workflows (permutations of the 5 unit types).

Model: a Gaussian process on the pairwise-order embedding of the permutations
(``wrl.workflow.pairwise_embedding_all()``, 120 x 10, entries in {-1, +1}). The
squared distance between two embeddings is 4 x their Kendall distance, so an RBF on it
is the Mallows kernel ``exp(-2 d_K / l^2)``. Kernel: ``C * RBF(l)``, ``normalize_y=True``;
C and l are refit by maximum likelihood once per round on every observation so far.

Noise is *given*, never fitted: a candidate's score is a noisy training outcome (another
seed gives another score), so observation i has noise variance
``max(noise_sd, score_se_i)^2``, where ``noise_sd`` (config ``search.noise_sd``) is the
seed-to-seed sd of a candidate's score measured at the train budget and ``score_se_i``
its own standard error from ``score.json``. The posterior at an observed workflow
therefore keeps that noise (it never interpolates), and re-proposing an evaluated
workflow (``allow_repeats``) can still shrink its uncertainty.

Acquisition: UCB(x) = mu(x) + sqrt(beta_t) * sigma(x), where sigma is the sd of the
latent score (the White noise excluded) and beta_t follows Srinivas et al. (2010),
Theorem 1 (finite domain D):

    beta_t = scale * 2 * log(|D| * t^2 * pi^2 / (6 * delta)),

|D| = 120, t = 1-based index of the evaluation being chosen (observations so far plus
picks already made in this batch, plus one), ``delta`` the failure probability and
``scale`` a constant factor (the theoretical beta is known to over-explore; 0.2 is
a common practical choice).

Batches (GP-BUCB, Desautels et al. 2014): the B picks of a round are chosen one at a
time; each pick is added as a *pending* point at its posterior mean with the
hyperparameters frozen, so the mean is unchanged while sigma shrinks around it and the
batch spreads out. A batch never holds a workflow twice; workflows evaluated in earlier
rounds are excluded unless ``allow_repeats``.

Round 0 has no data: its B picks come from a seeded space-filling design (greedy
max-min Kendall distance).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy.linalg import cho_factor, cho_solve
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel

from wrl.workflow import ALL_WORKFLOWS, NUM_WORKFLOWS, format_workflow, pairwise_embedding_all

EMBEDDING = pairwise_embedding_all()
#: the GP noise floor: the seed-to-seed sd of a score measured at the default budget (0.79, docs/pipeline.md)
DEFAULT_NOISE_SD = 0.8
#: int[120, 120]: Kendall distance between every pair of workflows (0..10).
KENDALL = (EMBEDDING[:, None, :] != EMBEDDING[None, :, :]).sum(axis=2)


def noise_variances(score_se: np.ndarray | None, n: int, noise_sd: float) -> np.ndarray:
    """float[n]: noise variance of each observation, ``max(noise_sd, score_se_i)^2`` (score units).

    score_se: float[n] standard errors from ``score.json`` (NaN or None: unknown, the
    floor ``noise_sd`` alone); noise_sd > 0: the measured seed-to-seed sd.
    """
    if not noise_sd > 0:
        raise ValueError(f"search.noise_sd={noise_sd}: must be positive (the measured seed-to-seed sd)")
    se = np.zeros(n) if score_se is None else np.nan_to_num(np.asarray(score_se, float), nan=0.0)
    return np.maximum(se, noise_sd) ** 2


def _y_scale(scores: np.ndarray) -> float:
    """The sd normalize_y divides the scores by (1 for a constant score)."""
    return float(np.std(scores)) or 1.0


def fit_gp(indices: np.ndarray, scores: np.ndarray, noise_var: np.ndarray, seed: int) -> GaussianProcessRegressor:
    """Fit ``C * RBF`` (normalize_y) to scores observed at workflow ``indices`` with given noise.

    indices: int[n] in 0..119 (repeats allowed); scores: float[n]; noise_var: float[n]
    in score units squared (``noise_variances``), added to the kernel's diagonal. C and
    l by maximum likelihood with 3 seeded optimizer restarts. The length scale l is kept
    in [1, 30]: the correlation of neighbours (Kendall distance 1) is exp(-2 / l^2),
    from 0.14 (nearly independent workflows) to ~1 (a flat score).
    """
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(3.0, (1.0, 30.0))
    gp = GaussianProcessRegressor(kernel=kernel, alpha=np.asarray(noise_var) / _y_scale(scores) ** 2,
                                  normalize_y=True, n_restarts_optimizer=3, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(EMBEDDING[indices], scores)
    return gp


def latent_cov(gp: GaussianProcessRegressor, train_idx: np.ndarray, noise_var: np.ndarray,
               y_scale: float, points: np.ndarray | None = None) -> np.ndarray:
    """float[k, k]: posterior covariance of the latent scores of workflows ``points``.

    Conditioned on inputs ``train_idx`` int[m] (observations plus pending points) with
    noise variances ``noise_var`` float[m] (score units squared) and the fitted kernel
    of ``gp`` frozen; the covariance needs no targets. ``y_scale`` is the sd that
    normalize_y divided the scores by; points: int[k] workflow indices (None: all 120).
    Score units squared.
    """
    signal = gp.kernel_
    xt = EMBEDDING[train_idx]
    xp = EMBEDDING if points is None else EMBEDDING[np.asarray(points)]
    chol = cho_factor(signal(xt) + np.diag(np.asarray(noise_var) / y_scale**2), lower=True)
    cross = signal(xp, xt)
    return y_scale**2 * (signal(xp) - cross @ cho_solve(chol, cross.T))


def latent_sd(gp: GaussianProcessRegressor, train_idx: np.ndarray, noise_var: np.ndarray,
              y_scale: float) -> np.ndarray:
    """float[120]: posterior sd of the latent score of every workflow (``latent_cov``'s diagonal)."""
    return np.sqrt(np.maximum(np.diag(latent_cov(gp, train_idx, noise_var, y_scale)), 0.0))


def prob_better(indices: np.ndarray, scores: np.ndarray, score_se: np.ndarray | None, noise_sd: float,
                a: int, b: int, seed: int = 0) -> float:
    """P(latent score of workflow a > that of workflow b) under the GP posterior.

    indices: int[n], scores: float[n], score_se: float[n] or None, noise_sd: as in
    ``noise_variances``; a, b: workflow indices. Uses the joint (correlated)
    posterior of the two: Phi((mu_a - mu_b) / sd(a - b)).
    """
    from scipy.stats import norm

    indices = np.asarray(indices, dtype=np.int64)
    noise = noise_variances(score_se, len(indices), noise_sd)
    gp, mean, y_scale = fit_with_mean(indices, np.asarray(scores, dtype=np.float64), noise, seed)
    cov = latent_cov(gp, indices, noise, y_scale, np.array([a, b]))
    var = max(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], 1e-12)
    return float(norm.cdf((mean[a] - mean[b]) / math.sqrt(var)))


def workflow_frame(mean: np.ndarray, sd: np.ndarray, indices: np.ndarray) -> pd.DataFrame:
    """Per-workflow table: index, workflow, mean, sd, n_obs (index order)."""
    return pd.DataFrame(
        {
            "index": np.arange(NUM_WORKFLOWS),
            "workflow": [format_workflow(w) for w in ALL_WORKFLOWS],
            "mean": mean,
            "sd": sd,
            "n_obs": np.bincount(np.asarray(indices, dtype=np.int64), minlength=NUM_WORKFLOWS),
        }
    )


def fit_with_mean(indices: np.ndarray, scores: np.ndarray, noise_var: np.ndarray, seed: int):
    """(gp, mean float[120], y_scale) for scores observed at workflow ``indices``."""
    gp = fit_gp(indices, scores, noise_var, seed)
    return gp, gp.predict(EMBEDDING), _y_scale(scores)
