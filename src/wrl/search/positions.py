"""The position model: a Bayesian model of a workflow's score that knows where each unit type sits.

A workflow's true score (the mean of its training score over seeds) is modelled as

    f(w) = m + sum over unit types t of b[t, pos_w(t)] + e[last two types of w] + r(w),

with 25 position effects b ~ N(0, s_p^2), 20 end-pair effects e ~ N(0, s_e^2) (one per
ordered pair of unit types in the last two places: the types a busy defender fixes last),
a residual per workflow r ~ N(0, s_r^2) and a broad mean m ~ N(mean of the scores,
PRIOR_MEAN_SD^2). As a Gaussian process over the 120 workflows its prior covariance is
``PRIOR_MEAN_SD^2 + s_p^2 * (shared (type, position) pairs) + s_e^2 * [same last two
types] + s_r^2 * [same workflow]``. The end pairs are the one interaction ever measured
here: the previous learner's six orders ending ``user,defender`` scored 2.6 above the rest
(docs/pipeline.md), an effect additive positions cannot carry to the orders that share it.
An observation is f(w) plus noise of *given* variance ``max(noise_sd, score_se)^2``
(``wrl.search.gp.noise_variances``) plus the effect of the seed it was trained at: the
j-th run of every workflow is at the same seed (``train.seed + j``), and a seed moves every
workflow together, by an offset of *given* sd ``seed_effect_sd`` (measured on the
exhaustive table, ``wrl.search.ranking.crossed_components``). So two workflows' first
runs compare without it, while a replicated workflow's mean is read net of its seeds'
offsets. Neither sd is ever fitted.

The hyperparameters (s_p, s_e, s_r) are not point-estimated (a maximum-likelihood fit on a
dozen noisy scores collapses to zero and then claims certainty): they are integrated over
a log-spaced grid, each grid point weighted by its marginal likelihood (uniform prior on
the grid). The posterior of the 120 scores is that mixture of Gaussians; ``posterior``
draws from it to give each workflow's probability of being the best, the credible top
set and how much the best is expected to beat an average workflow (``gain``), which says
whether the field is flat.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.linalg import cho_factor, cho_solve
from scipy.special import logsumexp

from wrl.search.gp import noise_variances
from wrl.workflow import ALL_WORKFLOWS, NUM_WORKFLOWS, UNIT_TYPES, onehot_all


def end_pairs_all() -> np.ndarray:
    """float64[120, 20]: one-hot of each workflow's ordered pair of types in the last two places."""
    pairs = [(a, b) for a in UNIT_TYPES for b in UNIT_TYPES if a != b]
    out = np.zeros((NUM_WORKFLOWS, len(pairs)))
    for i, w in enumerate(ALL_WORKFLOWS):
        out[i, pairs.index(tuple(w[-2:]))] = 1.0
    return out


#: float64[120, 25]: (position, type) one-hot of every workflow
POSITIONS = onehot_all().astype(np.float64)
#: the model's effect groups (float64[120, k] one-hots): positions, then end pairs
COMPONENTS = (POSITIONS, end_pairs_all())
#: float64[120, 120] per group: how many effects two workflows share
_SHARED = tuple(f @ f.T for f in COMPONENTS)
#: prior sd of the mean score around the observed mean (score units): broad, so the data set it
PRIOR_MEAN_SD = 10.0
#: grid of each scale (s_p, s_e, s_r), as multiples of the noise sd (log-spaced; 0.01 is "no effect")
SCALE_GRID = np.geomspace(0.01, 3.0, 7)
#: grid points below this posterior weight are dropped (their draws would be < 1 in 10^6)
MIN_WEIGHT = 1e-6
#: draws from the posterior behind P(best), the credible set and the gain
POSTERIOR_DRAWS = 4000


@dataclass
class Posterior:
    """The position model's posterior over the 120 workflows' true scores (score units).

    mean, sd: float[120]; p_best: float[120], the probability that each workflow is the
    best (sums to 1); gain: float[draws], max over workflows minus their mean, per draw;
    weights: float[grid] the hyperparameter grid's posterior weights, with ``scales``
    float[grid, 3] its (s_p, s_e, s_r) in score units; n_obs: int[120] observations per workflow;
    draws: float[draws, 120] the posterior draws behind p_best and gain.
    """

    mean: np.ndarray
    sd: np.ndarray
    p_best: np.ndarray
    gain: np.ndarray
    weights: np.ndarray
    scales: np.ndarray
    n_obs: np.ndarray
    draws: np.ndarray

    def credible_set(self, level: float = 0.9) -> np.ndarray:
        """int[k]: the fewest workflows whose P(best) sums to at least ``level``, most probable first."""
        order = np.argsort(-self.p_best, kind="stable")
        k = int(np.searchsorted(np.cumsum(self.p_best[order]), level - 1e-12)) + 1
        return order[:min(k, NUM_WORKFLOWS)]

    def answer(self) -> int:
        """The evaluated workflow with the highest posterior mean (ties: the lower index)."""
        mean = np.where(self.n_obs > 0, self.mean, -np.inf)
        return int(np.argmax(mean))

    def p_flat(self, margin: float) -> float:
        """P(the best workflow beats the average one by less than ``margin`` score points)."""
        return float(np.mean(self.gain < margin))


def prior_cov(scales, rows=slice(None), cols=slice(None)) -> np.ndarray:
    """Prior covariance of the scores around the mean (score units^2), rows x cols of the 120 x 120.

    scales: float[3], (s_p, s_e, s_r) in score units."""
    same = (np.arange(NUM_WORKFLOWS)[rows][:, None] == np.arange(NUM_WORKFLOWS)[cols][None, :])
    cov = PRIOR_MEAN_SD**2 + scales[-1] ** 2 * same
    for s, g in zip(scales[:-1], _SHARED):
        cov = cov + s**2 * g[rows][:, cols]
    return cov


def repeat_numbers(indices: np.ndarray) -> np.ndarray:
    """int[n]: how many runs of the same workflow come before each run (its seed is ``train.seed`` + this)."""
    idx = np.asarray(indices, dtype=np.int64)
    return pd.Series(idx).groupby(idx).cumcount().to_numpy()


def _log_ml(scales, idx: np.ndarray, resid: np.ndarray, noise_cov: np.ndarray) -> float:
    """Log marginal likelihood of the centred scores ``resid`` float[n] at hyperparameters ``scales``;
    noise_cov: float[n, n], the runs' noise and seed effects."""
    chol = cho_factor(prior_cov(scales, idx, idx) + noise_cov, lower=True)
    return float(-0.5 * resid @ cho_solve(chol, resid) - np.log(np.diag(chol[0])).sum()
                 - 0.5 * len(idx) * np.log(2 * np.pi))


def _condition(scales, idx: np.ndarray, resid: np.ndarray, noise_sd: np.ndarray, seed_effect: np.ndarray,
               count: int, rng: np.random.Generator):
    """(mean float[120], variance float[120], draws float[count, 120]) of the centred scores given
    the data, at hyperparameters ``scales``; noise_sd: float[n] each run's own noise sd;
    seed_effect: float[n, seeds], each run's seed one-hot times the seed effect's sd. Draws by
    pathwise conditioning: a prior draw (built from the model's parts, no factorisation of
    the 120 x 120) plus a draw of the noise, corrected through the n x n system."""
    chol = cho_factor(prior_cov(scales, idx, idx) + np.diag(noise_sd**2) + seed_effect @ seed_effect.T, lower=True)
    cross = prior_cov(scales, slice(None), idx)  # [120, n]
    gain = cho_solve(chol, cross.T)  # [n, 120]
    mean = resid @ gain
    prior_var = PRIOR_MEAN_SD**2 + scales[-1] ** 2 + sum(s**2 * g.diagonal()
                                                         for s, g in zip(scales[:-1], _SHARED))
    var = prior_var - np.einsum("in,ni->i", cross, gain)
    prior = PRIOR_MEAN_SD * rng.standard_normal((count, 1)) + scales[-1] * rng.standard_normal((count, NUM_WORKFLOWS))
    for s, f in zip(scales[:-1], COMPONENTS):
        prior = prior + s * rng.standard_normal((count, f.shape[1])) @ f.T
    noise = noise_sd * rng.standard_normal((count, len(idx)))
    if seed_effect.any():
        noise = noise + rng.standard_normal((count, seed_effect.shape[1])) @ seed_effect.T
    return mean, var, prior + (resid - prior[:, idx] - noise) @ gain


def posterior(indices: np.ndarray, scores: np.ndarray, score_se: np.ndarray | None, noise_sd: float,
              seed: int = 0, draws: int = POSTERIOR_DRAWS, seed_effect_sd: float = 0.0) -> Posterior:
    """The position model's posterior given scores observed at workflow ``indices``.

    indices: int[n] in 0..119, in the order run (a repeat is a replicate at the next seed,
    ``repeat_numbers``; n >= 1); scores: float[n]; score_se: float[n] or None; noise_sd: the
    measured sd of one run's score at a given seed (the noise floor); seed_effect_sd: the
    measured sd of the offset a seed gives every workflow (score points); seed: seeds the
    draws. Returns a ``Posterior``.
    """
    idx = np.asarray(indices, dtype=np.int64)
    y = np.asarray(scores, dtype=np.float64)
    if len(idx) == 0:
        raise ValueError("positions.posterior: no observation; the first round needs a design")
    own_sd = np.sqrt(noise_variances(score_se, len(idx), noise_sd))
    repeats = repeat_numbers(idx)
    seed_effect = seed_effect_sd * (repeats[:, None] == np.arange(repeats.max() + 1)[None, :])
    noise_cov = np.diag(own_sd**2) + seed_effect @ seed_effect.T
    offset = float(y.mean())
    scales = np.array(list(itertools.product(SCALE_GRID, repeat=len(COMPONENTS) + 1))) * noise_sd
    log_ml = np.array([_log_ml(sc, idx, y - offset, noise_cov) for sc in scales])
    weights = np.exp(log_ml - logsumexp(log_ml))
    weights[weights < MIN_WEIGHT] = 0.0
    weights /= weights.sum()
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(draws, weights)
    kept = np.flatnonzero(weights)
    fits = [_condition(scales[g], idx, y - offset, own_sd, seed_effect, counts[g], rng) for g in kept]
    means = np.array([f[0] for f in fits])
    mean = weights[kept] @ means
    second = weights[kept] @ (np.array([f[1] for f in fits]) + (means - mean) ** 2)
    samples = np.concatenate([f[2] for f in fits]) + offset
    best = samples.argmax(axis=1)
    return Posterior(mean=mean + offset, sd=np.sqrt(np.maximum(second, 0.0)),
                     p_best=np.bincount(best, minlength=NUM_WORKFLOWS) / len(samples),
                     gain=samples.max(axis=1) - samples.mean(axis=1), weights=weights, scales=scales,
                     n_obs=np.bincount(idx, minlength=NUM_WORKFLOWS), draws=samples)
