"""Replaying a search strategy against an oracle, and judging its answer (``wrl bench search``).

A strategy spends ``rounds * batch`` training runs, round by round, and then answers: one
workflow, the probability it claims that this workflow is the best, a 90% credible top set
and whether it calls the field flat. ``replay`` plays one search; ``judge`` scores many
replays against each oracle's truth (``wrl.search.benchmark`` runs them).

Strategies (``STRATEGIES``):
- ``random``: distinct workflows uniformly at random; the answer is the best single score
  (its claims come from the position model fitted to its runs);
- ``gp_ucb``: the GP-UCB search of ``wrl.search.proposals`` (space-filling round 0,
  GP-BUCB); the answer is the best single score, and the claimed P(best) is what its answer
  page printed: P(best is better than the runner-up);
- ``position``: ``wrl.search.design`` (covering rounds, Thompson sampling, replicated
  leaders); the answer is ``wrl.search.verdict``'s: the best posterior mean of the position
  model, with its P(best), credible set and flatness.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from wrl.search.design import MAX_REPEATS
from wrl.search.gp import prob_better
from wrl.search.proposals import choose_batch
from wrl.search.verdict import verdict
from wrl.workflow import NUM_WORKFLOWS

STRATEGIES = ("random", "gp_ucb", "position")
#: draws behind the final posterior's claims
ANSWER_DRAWS = 2000


@dataclass
class Outcome:
    """One replayed search's answer: the workflow index, its claimed P(best), the 90%
    credible set (int[k]; empty when the strategy claims none) and whether it called the
    field flat."""

    answer: int
    p_best: float
    credible: np.ndarray
    flat: bool
    picks: list[int]


def _best_single(indices: list[int], scores: list[float]) -> int:
    """The workflow of the highest single score (ties: the earlier run)."""
    return int(indices[int(np.argmax(scores))])


def replay(strategy: str, oracle, rounds: int, batch: int, noise_sd: float, seed: int,
           flat_margin: float, options: dict | None = None, seed_effect_sd: float = 0.0) -> Outcome:
    """Play ``strategy`` for ``rounds`` rounds of ``batch`` runs against ``oracle``.

    oracle: ``draw(w) -> (score, score_se)`` and ``seeds`` (the most runs of one
    workflow); noise_sd: the seed-to-seed sd the models are given; seed: the strategy's
    seed; flat_margin: the gain (score points) below which the position model calls the
    field flat; seed_effect_sd: the shared seed offset's sd the position model is given;
    options: the position design's design_runs, replicate_rounds and max_repeats
    (``position_batch``; max_repeats is capped at the oracle's ``seeds``).
    gp_ucb and position pick through ``wrl.search.proposals.choose_batch``, as the pipeline does.
    """
    cfg = {"rounds": rounds, "batch": batch, "seed": seed, "noise_sd": noise_sd, "allow_repeats": False,
           "seed_effect_sd": seed_effect_sd, "beta": {"delta": 0.1, "scale": 0.2}, "method": strategy,
           "design_runs": 20, "replicate_rounds": 1, "flat_margin": flat_margin, **(options or {})}
    cfg["max_repeats"] = min(int(cfg.get("max_repeats", MAX_REPEATS)), int(oracle.seeds))
    rng = np.random.default_rng(seed)
    idx: list[int] = []
    ys: list[float] = []
    ses: list[float] = []
    order = rng.permutation(NUM_WORKFLOWS)
    for round_ in range(rounds):
        if strategy == "random":
            picks = [int(i) for i in order[round_ * batch:(round_ + 1) * batch]]
        elif strategy in ("gp_ucb", "position"):
            picks, _, _ = choose_batch(round_, np.array(idx, np.int64), np.array(ys), np.array(ses), cfg, set(idx))
        else:
            raise ValueError(f"replay: unknown strategy {strategy!r}; one of {', '.join(STRATEGIES)}")
        for w in picks:
            score, se = oracle.draw(w)
            idx.append(int(w))
            ys.append(score)
            ses.append(se)
    obs = pd.DataFrame({"index": idx, "score": ys, "score_se": ses})
    found = verdict(obs, {"noise_sd": noise_sd, "seed_effect_sd": seed_effect_sd, "flat_margin": flat_margin,
                          "seed": seed}, draws=ANSWER_DRAWS)
    if strategy == "position":
        return Outcome(found.answer, found.p_best, found.credible, found.flat, idx)
    answer = _best_single(idx, ys)
    if strategy == "random":
        return Outcome(answer, float(found.post.p_best[answer]), found.credible, found.flat, idx)
    others = [(y, i) for i, y in zip(idx, ys) if i != answer]
    runner = max(others)[1] if others else answer
    claim = prob_better(np.array(idx), np.array(ys), np.array(ses), noise_sd, answer, runner, seed=seed)
    return Outcome(answer, claim, np.array([], np.int64), False, idx)


def judge(outcomes: list[Outcome], truths: list[np.ndarray], bins: int = 5) -> dict:
    """Score replays against their truths (float[120] each, same order as ``outcomes``).

    Returns p_top5 (answer among the 5 truly best), regret (mean of best truth minus the
    answer's truth, score points), gain (mean of the answer's truth minus the mean truth of
    all 120: how much better than an average workflow the answer is; a noisy truth inflates
    the regret of every strategy alike, never this), p_best_claimed (mean claimed P(best)), p_best_hit (how
    often the answer was truly the best), calibration (the largest |claimed - hit| over
    ``bins`` equal-width bins of the claim holding >= 10% of the replays), coverage (how
    often the true best lay in the credible set; NaN if none claimed), set_size (its mean
    size) and said_flat (how often the field was called flat).
    """
    truth = np.array(truths)
    answers = np.array([o.answer for o in outcomes])
    claimed = np.array([o.p_best for o in outcomes])
    best = truth.argmax(axis=1)
    rows = np.arange(len(outcomes))
    rank = (truth > truth[rows, answers][:, None]).sum(axis=1)
    hit = answers == best
    which = np.minimum((claimed * bins).astype(int), bins - 1)
    gaps = [abs(claimed[which == b].mean() - hit[which == b].mean()) for b in range(bins)
            if (which == b).mean() >= 0.1]
    sets = [o.credible for o in outcomes]
    claims_set = all(len(s) for s in sets)
    return {"replays": len(outcomes), "p_top5": float(np.mean(rank < 5)),
            "regret": float(np.mean(truth[rows, best] - truth[rows, answers])),
            "gain": float(np.mean(truth[rows, answers] - truth.mean(axis=1))),
            "p_best_claimed": float(claimed.mean()), "p_best_hit": float(hit.mean()),
            "calibration": float(max(gaps)) if gaps else float("nan"),
            "coverage": float(np.mean([b in s for b, s in zip(best, sets)])) if claims_set else float("nan"),
            "set_size": float(np.mean([len(s) for s in sets])) if claims_set else float("nan"),
            "said_flat": float(np.mean([o.flat for o in outcomes]))}
