"""Where a replayed search gets its scores: a table of real runs, or synthetic landscapes fitted to it.

An *oracle* answers "train workflow w once more" with (score, score_se) and knows the
truth (``truth``: float[120], each workflow's true mean score) that a search's answer is
judged against. As in the pipeline, the j-th run of every workflow is at the same seed
(``train.seed + j``), and a seed moves every workflow together (``crossed_components``).

- ``TableOracle``: the runs of ``dev/exhaustive.py`` (every workflow at the same k seeds).
  Each replay orders the k seeds at random, the same order for every workflow: the j-th
  evaluation of a workflow is its run at the j-th seed. With ``truth="held-out"`` (the
  default) a search draws from the first half of that order and the truth is the mean of
  the other half, so a workflow the search replicated is not judged on the very runs it
  was chosen by; with ``truth="all"`` it draws from all k and the truth is their mean.
- ``SyntheticOracle``: a truth vector, a shared offset per seed (sd ``seed_effect_sd``) and
  Gaussian run noise of sd ``seed_sd``. ``fit_landscape`` fits one to a table (position
  effects + residual, the measured seed effect and noise); ``synthetic_landscapes`` gives
  the fitted one, a flat one and the needle of issue 20.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from wrl.search.positions import POSITIONS
from wrl.search.ranking import crossed_components
from wrl.workflow import NUM_WORKFLOWS, parse_workflow, workflow_from_index

#: the needle of issue 20: orders ending user,defender score this much more (old learner)
NEEDLE = {"gain": 2.5, "residual_sd": 0.3, "seed_sd": 0.8}
#: how a table oracle's truth is made: from the seeds a search may not draw, or from all
TRUTHS = ("held-out", "all")


class TableOracle:
    """Scores drawn from a table of runs: the j-th evaluation of a workflow is its run at the j-th seed.

    table: one row per run with columns index (0..119), seed, score, score_se, every
    workflow at the same seeds. rng: orders the seeds for this replay (one order for all
    workflows; None: the table's own order, lowest seed first, as the pipeline runs them).
    truth: ``"held-out"`` (draw from the first half of the order, judge by the mean of the
    second; needs >= 2 seeds) or ``"all"`` (draw from all, judge by their mean).
    ``seeds`` is the most runs of one workflow a search may draw.
    """

    def __init__(self, table: pd.DataFrame, rng: np.random.Generator | None, truth: str = "held-out"):
        if truth not in TRUTHS:
            raise ValueError(f"TableOracle: truth {truth!r}; one of {', '.join(TRUTHS)}")
        runs = table.sort_values(["index", "seed"])
        seeds = runs.groupby("index")["seed"].apply(tuple)
        if len(seeds) != NUM_WORKFLOWS or seeds.nunique() != 1:
            raise ValueError(f"TableOracle: the table needs all {NUM_WORKFLOWS} workflows at the same seeds; it has "
                             f"{len(seeds)} workflows at {sorted(seeds.map(len).unique())} seeds")
        k = len(seeds.iloc[0])
        if truth == "held-out" and k < 2:
            raise ValueError("TableOracle: a held-out truth needs at least 2 seeds per workflow; use truth 'all'")
        self.scores = runs["score"].to_numpy().reshape(NUM_WORKFLOWS, k)
        self.score_se = runs["score_se"].to_numpy().reshape(NUM_WORKFLOWS, k)
        self.order = np.arange(k) if rng is None else rng.permutation(k)
        self.seeds = k // 2 if truth == "held-out" else k
        judged = self.order[self.seeds:] if truth == "held-out" else self.order
        self.truth = self.scores[:, judged].mean(axis=1)
        self.used = np.zeros(NUM_WORKFLOWS, np.int64)

    def draw(self, w: int) -> tuple[float, float]:
        """(score, score_se) of workflow ``w`` at its next seed."""
        if self.used[w] >= self.seeds:
            raise ValueError(f"TableOracle: workflow {w} asked for a run beyond its {self.seeds} seeds; "
                             f"use a table with more seeds (dev/exhaustive.py --seeds) or fewer replicates")
        j = self.order[self.used[w]]
        self.used[w] += 1
        return float(self.scores[w, j]), float(self.score_se[w, j])


@dataclass
class SyntheticOracle:
    """A landscape ``truth`` float[120]; the j-th run of any workflow adds the j-th seed's
    offset (sd ``seed_effect_sd``, drawn once per oracle) and its own noise (sd ``seed_sd``)."""

    truth: np.ndarray
    seed_sd: float
    rng: np.random.Generator
    seed_effect_sd: float = 0.0
    seeds: int = 1_000_000  # no cap on replicates

    def __post_init__(self):
        self.offsets: list[float] = []
        self.used = np.zeros(NUM_WORKFLOWS, np.int64)

    def draw(self, w: int) -> tuple[float, float]:
        """(score, NaN): one noisy run of workflow ``w`` at its next seed."""
        j = int(self.used[w])
        self.used[w] += 1
        while len(self.offsets) <= j:
            self.offsets.append(self.seed_effect_sd * float(self.rng.standard_normal()))
        return float(self.truth[w] + self.offsets[j] + self.seed_sd * self.rng.standard_normal()), float("nan")


def fit_landscape(table: pd.DataFrame) -> dict:
    """Fit position effects + residual + seed effect + noise to a table of runs (columns index,
    workflow, seed, score; every workflow at the same seeds).

    The workflow means are regressed on the (position, type) one-hot by least squares; the
    residual variance is the residual mean square less the noise's share (residual
    variance of ``crossed_components`` / k), floored at 0. Returns grand (mean score),
    fitted float[120] (the position part, grand included), residual_sd, seed_sd (one run's
    noise at a given seed: ``sd_residual``), seed_effect_sd (``sd_seed``) and k (seeds).
    """
    v = crossed_components(table)
    means = table.groupby("index")["score"].mean().reindex(range(NUM_WORKFLOWS)).to_numpy()
    grand = float(means.mean())
    coef, *_ = np.linalg.lstsq(POSITIONS, means - grand, rcond=None)
    fitted = grand + POSITIONS @ coef
    rank = np.linalg.matrix_rank(POSITIONS)
    resid_ms = float(((means - fitted) ** 2).sum() / (NUM_WORKFLOWS - rank))
    return {"grand": grand, "fitted": fitted, "seed_sd": v["sd_residual"], "seed_effect_sd": v["sd_seed"],
            "k": v["seeds"], "residual_sd": float(np.sqrt(max(resid_ms - v["sd_residual"] ** 2 / v["seeds"], 0.0)))}


def needle_truth(base: float = 0.0) -> np.ndarray:
    """float[120]: ``base``, plus ``NEEDLE['gain']`` for the six orders ending user,defender."""
    ends = np.array([parse_workflow(workflow_from_index(i))[-2:] == ("user", "defender")
                     for i in range(NUM_WORKFLOWS)])
    return base + NEEDLE["gain"] * ends


def synthetic_landscapes(fit: dict) -> dict:
    """name -> function(rng) -> SyntheticOracle, a fresh landscape per replay.

    ``fitted``: the table's position effects + a fresh residual at its sd, its seed effect
    and noise; ``flat``: every workflow at the grand mean, the same seed effect and noise;
    ``needle``: issue 20's rough simulation (six orders ending user,defender at +2.5,
    residual sd 0.3, noise 0.8, no seed effect).
    """
    seeds = {"seed_sd": fit["seed_sd"], "seed_effect_sd": fit["seed_effect_sd"]}
    return {
        "fitted": lambda rng: SyntheticOracle(fit["fitted"] + fit["residual_sd"] * rng.standard_normal(NUM_WORKFLOWS),
                                              rng=rng, **seeds),
        "flat": lambda rng: SyntheticOracle(np.full(NUM_WORKFLOWS, fit["grand"]), rng=rng, **seeds),
        "needle": lambda rng: SyntheticOracle(needle_truth(fit["grand"]) + NEEDLE["residual_sd"]
                                              * rng.standard_normal(NUM_WORKFLOWS), NEEDLE["seed_sd"], rng),
    }
