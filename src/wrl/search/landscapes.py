"""Where a replayed search gets its scores: a table of real runs, or synthetic landscapes fitted to it.

An *oracle* answers "train workflow w once" with (score, score_se) and knows the truth
(``truth``: float[120], each workflow's true mean score) that a search's answer is judged
against.

- ``TableOracle``: the runs of ``dev/exhaustive.py`` (every workflow at k seeds). Each
  evaluation of a workflow draws one of its seeds not yet used in this replay; the truth is
  the mean over all k seeds.
- ``SyntheticOracle``: a truth vector plus Gaussian seed noise of a given sd. ``fit_landscape``
  fits one to a table (position effects + residual + seed noise at the measured sds);
  ``synthetic_landscapes`` gives the fitted one, a flat one and the needle of issue 20.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from wrl.search.positions import POSITIONS
from wrl.search.ranking import variance_components
from wrl.workflow import NUM_WORKFLOWS, parse_workflow, workflow_from_index

#: the needle of issue 20: orders ending user,defender score this much more (old learner)
NEEDLE = {"gain": 2.5, "residual_sd": 0.3, "seed_sd": 0.8}


class TableOracle:
    """Scores drawn from a table of runs: each evaluation of a workflow uses one of its unused seeds.

    table: one row per run with columns index (0..119), seed, score, score_se, and every
    workflow at the same number of seeds. rng: orders each workflow's seeds for this replay.
    """

    def __init__(self, table: pd.DataFrame, rng: np.random.Generator):
        runs = table.sort_values(["index", "seed"])
        counts = runs.groupby("index").size()
        if len(counts) != NUM_WORKFLOWS or counts.nunique() != 1:
            raise ValueError(f"TableOracle: the table needs all {NUM_WORKFLOWS} workflows at the same number of "
                             f"seeds; it has {len(counts)} workflows at {sorted(counts.unique())} seeds")
        self.seeds = int(counts.iloc[0])
        self.scores = runs["score"].to_numpy().reshape(NUM_WORKFLOWS, self.seeds)
        self.score_se = runs["score_se"].to_numpy().reshape(NUM_WORKFLOWS, self.seeds)
        self.truth = self.scores.mean(axis=1)
        self.order = np.argsort(rng.random((NUM_WORKFLOWS, self.seeds)), axis=1)
        self.used = np.zeros(NUM_WORKFLOWS, np.int64)

    def draw(self, w: int) -> tuple[float, float]:
        """(score, score_se) of workflow ``w``'s next unused seed."""
        if self.used[w] >= self.seeds:
            raise ValueError(f"TableOracle: workflow {w} asked for a run beyond its {self.seeds} seeds")
        j = self.order[w, self.used[w]]
        self.used[w] += 1
        return float(self.scores[w, j]), float(self.score_se[w, j])


@dataclass
class SyntheticOracle:
    """A landscape ``truth`` float[120] observed with Gaussian noise of sd ``seed_sd`` (score units)."""

    truth: np.ndarray
    seed_sd: float
    rng: np.random.Generator
    seeds: int = 1_000_000  # no cap on replicates

    def draw(self, w: int) -> tuple[float, float]:
        """(score, NaN): one noisy run of workflow ``w``."""
        return float(self.truth[w] + self.seed_sd * self.rng.standard_normal()), float("nan")


def fit_landscape(table: pd.DataFrame) -> dict:
    """Fit position effects + residual + seed noise to a table of runs (columns index, workflow, score).

    The workflow means are regressed on the (position, type) one-hot by least squares;
    the residual variance is the residual mean square less the seed noise's share
    (seed variance / k), floored at 0. Returns grand (mean score), fitted float[120] (the
    position part, grand included), residual_sd, seed_sd (sqrt of the within-workflow
    mean square) and k (seeds per workflow).
    """
    v = variance_components(table)
    means = table.groupby("index")["score"].mean().reindex(range(NUM_WORKFLOWS)).to_numpy()
    grand = float(means.mean())
    coef, *_ = np.linalg.lstsq(POSITIONS, means - grand, rcond=None)
    fitted = grand + POSITIONS @ coef
    rank = np.linalg.matrix_rank(POSITIONS)
    resid_ms = float(((means - fitted) ** 2).sum() / (NUM_WORKFLOWS - rank))
    return {"grand": grand, "fitted": fitted, "seed_sd": v["seed_sd"], "k": v["k"],
            "residual_sd": float(np.sqrt(max(resid_ms - v["var_within"] / v["k"], 0.0)))}


def needle_truth(base: float = 0.0) -> np.ndarray:
    """float[120]: ``base``, plus ``NEEDLE['gain']`` for the six orders ending user,defender."""
    ends = np.array([parse_workflow(workflow_from_index(i))[-2:] == ("user", "defender")
                     for i in range(NUM_WORKFLOWS)])
    return base + NEEDLE["gain"] * ends


def synthetic_landscapes(fit: dict) -> dict:
    """name -> function(rng) -> SyntheticOracle, a fresh landscape per replay.

    ``fitted``: the table's position effects + a fresh residual at its sd, noise at its seed
    sd; ``flat``: every workflow at the grand mean, the same noise; ``needle``: issue 20's
    rough simulation (six orders ending user,defender at +2.5, residual sd 0.3, noise 0.8).
    """
    return {
        "fitted": lambda rng: SyntheticOracle(fit["fitted"] + fit["residual_sd"] * rng.standard_normal(NUM_WORKFLOWS),
                                              fit["seed_sd"], rng),
        "flat": lambda rng: SyntheticOracle(np.full(NUM_WORKFLOWS, fit["grand"]), fit["seed_sd"], rng),
        "needle": lambda rng: SyntheticOracle(needle_truth(fit["grand"]) + NEEDLE["residual_sd"]
                                              * rng.standard_normal(NUM_WORKFLOWS), NEEDLE["seed_sd"], rng),
    }
