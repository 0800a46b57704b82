"""How low can regret go on the fitted landscape? Learners that know its true model form.

Usage: .venv/bin/python dev/fitted_bound.py [--table docs/data/exhaustive_heldout.parquet] [--replays 2000]
       [--learners balanced,adaptive] [--budgets 40,80,160,240,480]

The fitted landscape of ``wrl bench search`` is the table's position effects (25 of them)
plus seed noise. Both learners here are handed that model form, and answer with the
argmax over the 120 workflows of their fit. Their runs carry the noise of one run at a
given seed only (``fit_landscape``'s seed_sd), never the seed's shared offset: a bound
that the bench's searches, whose replicates move to a new seed, cannot beat.

- ``balanced``: a non-adaptive design (the covering designs for n <= 120, every workflow
  n/120 times beyond), the 25 position effects fitted by least squares;
- ``adaptive``: a Bayesian linear model on the same 25 effects, given the *true* prior
  scale of the effects (their rms on the landscape) and the true seed sd. The first 20
  runs are the covering design; then each run goes, in batches of 4 as the default
  search's, to the workflow whose observation most reduces the posterior variance of
  (leader - challenger): the leader the best posterior mean, the challenger the workflow
  of the highest upper bound (mean + 2 sd) on its difference from the leader: an adaptive
  design given more than any real search knows.

Prints the mean regret per learner and budget n (score points), against which random
search's regret at the default 40 runs (``wrl bench search``) can be read. The numbers
behind docs/pipeline.md, "Against issue 20's goal".
"""
import argparse

import numpy as np
import pandas as pd

from wrl.search.design import design_sequence
from wrl.search.landscapes import POSITIONS, fit_landscape

#: the default search's batch and covering runs (config.yaml)
BATCH, COVERING = 4, 20
#: prior sd of the intercept (score points, around 0; the scores are centred first)
INTERCEPT_SD = 10.0


def balanced_regret(truth: np.ndarray, sd: float, n: int, rng: np.random.Generator) -> float:
    """Regret (score points) of least squares on the position effects after a balanced design of n runs."""
    x = np.hstack([np.ones((len(truth), 1)), POSITIONS])
    idx = (np.array(design_sequence(int(rng.integers(1 << 30)), n)) if n <= len(truth)
           else np.tile(np.arange(len(truth)), n // len(truth)))
    y = truth[idx] + sd * rng.standard_normal(len(idx))
    coef, *_ = np.linalg.lstsq(x[idx], y, rcond=None)
    return float(truth.max() - truth[np.argmax(x @ coef)])


class AdaptiveLearner:
    """Bayesian linear regression on the position effects with known prior scale and noise.

    sd: the seed sd (score points); effect_sd: the prior sd of each position effect.
    """

    def __init__(self, sd: float, effect_sd: float):
        self.x = np.hstack([np.ones((len(POSITIONS), 1)), POSITIONS])
        self.noise_var = sd ** 2
        self.precision = np.diag(np.r_[INTERCEPT_SD ** -2, np.full(POSITIONS.shape[1], effect_sd ** -2)])
        self.xty = np.zeros(self.x.shape[1])

    def observe(self, w: int, y: float) -> None:
        """Add one run of workflow w with score y (centred)."""
        self.precision += np.outer(self.x[w], self.x[w]) / self.noise_var
        self.xty += self.x[w] * y / self.noise_var

    def posterior(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean float[26], covariance float[26, 26]) of the intercept and effects."""
        cov = np.linalg.inv(self.precision)
        return cov @ self.xty, cov

    def picks(self, batch: int) -> list[int]:
        """``batch`` workflows, each the one that most reduces var(leader - challenger), updating
        the covariance as if each pick were already observed."""
        mean, cov = self.posterior()
        mu = self.x @ mean
        out = []
        for _ in range(batch):
            xs = self.x @ cov                                   # [120, 26]
            var = np.einsum("ij,ij->i", xs, self.x)
            lead = int(np.argmax(mu))
            diff_sd = np.sqrt(np.maximum(var + var[lead] - 2 * xs[lead] @ self.x.T, 0.0))
            upper = mu + 2 * diff_sd
            upper[lead] = -np.inf
            c = self.x[lead] - self.x[int(np.argmax(upper))]
            gain = (xs @ c) ** 2 / (self.noise_var + var)
            w = int(np.argmax(gain))
            out.append(w)
            u = cov @ self.x[w]
            cov = cov - np.outer(u, u) / (self.noise_var + self.x[w] @ u)
        return out

    def answer(self) -> int:
        """The workflow of the best posterior mean."""
        return int(np.argmax(self.x @ self.posterior()[0]))


def adaptive_regret(truth: np.ndarray, sd: float, effect_sd: float, n: int, rng: np.random.Generator) -> float:
    """Regret (score points) of ``AdaptiveLearner`` after n runs: the covering design, then batches."""
    learner = AdaptiveLearner(sd, effect_sd)
    centred = truth - truth.mean()
    picks = design_sequence(int(rng.integers(1 << 30)), COVERING)
    spent = 0
    while spent < n:
        for w in picks[:n - spent]:
            learner.observe(w, centred[w] + sd * rng.standard_normal())
            spent += 1
        picks = learner.picks(BATCH)
    return float(truth.max() - truth[learner.answer()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default="docs/data/exhaustive_heldout.parquet")
    parser.add_argument("--replays", type=int, default=2000)
    parser.add_argument("--learners", default="balanced,adaptive")
    parser.add_argument("--budgets", default="40,80,160,240,480")
    args = parser.parse_args()
    fit = fit_landscape(pd.read_parquet(args.table))
    truth, sd = fit["fitted"], fit["seed_sd"]
    coef, *_ = np.linalg.lstsq(POSITIONS, truth - truth.mean(), rcond=None)
    effect_sd = float(np.sqrt(np.mean(coef ** 2)))
    print(f"fitted truth: sd {truth.std():.3f}, best minus mean {truth.max() - truth.mean():.3f}; "
          f"seed sd {sd:.3f}; position effects' rms {effect_sd:.3f}")
    for learner in args.learners.split(","):
        for n in (int(b) for b in args.budgets.split(",")):
            rng = np.random.default_rng(0)
            if learner == "balanced":
                if n > len(truth) and n % len(truth):
                    continue
                regret = np.array([balanced_regret(truth, sd, n, rng) for _ in range(args.replays)])
            elif learner == "adaptive":
                regret = np.array([adaptive_regret(truth, sd, effect_sd, n, rng) for _ in range(args.replays)])
            else:
                raise SystemExit(f"--learners: {learner!r} is not a learner; use balanced and/or adaptive")
            print(f"{learner} {n} runs: mean regret {regret.mean():.3f} ± "
                  f"{regret.std(ddof=1) / np.sqrt(args.replays):.3f}", flush=True)


if __name__ == "__main__":
    main()
