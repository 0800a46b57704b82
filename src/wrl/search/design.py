"""The default search design: cover the positions, then Thompson sampling, then replicate the leaders.

Round by round (``position_batch``):

1. **The first ``design_runs`` runs, a covering design** (``covering_design``): the rows of
   four Latin squares over (position, unit type) that between them put every ordered pair
   (next-to-last, last) once. Each block of five sees every type once at every position,
   so the position effects, and the pairs at the end of the order, get a look before any
   exploitation.
2. **Middle rounds, batch Thompson sampling** on the position model
   (``wrl.search.positions``): each pick is the best workflow of one posterior draw. A
   pick may be an evaluated workflow (a replicate, trained at the next seed), at most
   ``max_repeats`` times per workflow in all.
3. **The last ``replicate_rounds`` rounds run the leaders:** the batch goes to the workflows
   with the highest posterior mean, one run each in turn, so the answer rests on
   replicated scores, not on one lucky seed, and a workflow the model ranks among the
   leaders without a run of its own (one sharing a strong end pair) gets one.
4. **A flat field is confirmed, not explored:** from the first round after the covering
   design, whenever the model calls the field flat (P(the best beats an average workflow
   by less than ``flat_margin``) >= 0.5), the round replicates the *evaluated* leaders
   (method "confirm"; unrun workflows only once those have all had ``max_repeats`` runs):
   with nothing to find, the runs go to pinning down the answer's score.

The answer is ``Posterior.answer``: the evaluated workflow with the best posterior mean.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from wrl.search.positions import Posterior, posterior
from wrl.workflow import (NUM_UNIT_TYPES, NUM_WORKFLOWS, UNIT_TYPES, format_workflow, workflow_from_index,
                          workflow_index)

#: the most runs of one workflow (its seeds train.seed .. train.seed + MAX_REPEATS - 1)
MAX_REPEATS = 4
#: Thompson draws behind one round's picks
THOMPSON_DRAWS = 400


def covering_design(seed: int) -> list[int]:
    """The 20 workflow indices of the covering design, in the order a search spends them.

    Four 5 x 5 Latin squares over (workflow, position): square k puts type
    ``pi[(r + a_k[c]) % 5]`` at position c of its row r, where a_k is a random permutation
    of 0..4 with ``a_k[4] - a_k[3] = k (mod 5)`` and pi a random relabelling of the types.
    Each square puts every type once at every position; between them the four squares put
    each of the 20 ordered pairs (next-to-last, last) exactly once. Rows come square by
    square, each square's rows in a random order (seeded).
    """
    rng = np.random.default_rng(seed)
    pi = rng.permutation(NUM_UNIT_TYPES)
    picks: list[int] = []
    for k in rng.permutation(np.arange(1, NUM_UNIT_TYPES)):
        while True:
            a = rng.permutation(NUM_UNIT_TYPES)
            if (a[4] - a[3]) % NUM_UNIT_TYPES == k:
                break
        for r in rng.permutation(NUM_UNIT_TYPES):
            picks.append(workflow_index(tuple(UNIT_TYPES[pi[(r + a[c]) % NUM_UNIT_TYPES]]
                                              for c in range(NUM_UNIT_TYPES))))
    return picks


def design_sequence(seed: int, count: int) -> list[int]:
    """The first ``count`` (<= 120) distinct workflows of covering designs seeded seed, seed + 1, ..."""
    if count > NUM_WORKFLOWS:
        raise ValueError(f"design_sequence: {count} distinct workflows asked; there are {NUM_WORKFLOWS}")
    picks: list[int] = []
    while len(picks) < count:
        picks += [i for i in covering_design(seed) if i not in picks]
        seed += 1
    return picks[:count]


def thompson_batch(post: Posterior, batch: int, rng: np.random.Generator, draws: np.ndarray,
                   max_repeats: int = MAX_REPEATS) -> list[int]:
    """``batch`` picks, each the argmax of one posterior draw among workflows with runs to spare.

    draws: float[d, 120] posterior draws (d >= batch), used in a random order. A workflow
    leaves the pool once its runs so far plus its picks reach ``max_repeats``.
    """
    runs = post.n_obs.copy()
    picks: list[int] = []
    for d in rng.permutation(len(draws)):
        if len(picks) == batch:
            break
        sample = np.where(runs < max_repeats, draws[d], -np.inf)
        pick = int(np.argmax(sample))
        picks.append(pick)
        runs[pick] += 1
    return picks


def replicate_leaders(post: Posterior, batch: int, max_repeats: int = MAX_REPEATS,
                      evaluated_first: bool = False) -> list[int]:
    """``batch`` picks by posterior mean, one per leader in turn.

    Passes over all 120 workflows (best posterior mean first) until the batch is full; a
    workflow at ``max_repeats`` runs is skipped. A leader is mostly an evaluated workflow
    (its next run a replicate); one never run gets its first run when the model places it
    among them, e.g. because it shares the end pair of a strong one. ``evaluated_first``:
    every evaluated workflow comes before any unrun one (which gets a run only once the
    evaluated ones are all at ``max_repeats``).
    """
    runs = post.n_obs.copy()
    order = np.argsort(-post.mean, kind="stable")
    if evaluated_first:
        order = np.concatenate([order[post.n_obs[order] > 0], order[post.n_obs[order] == 0]])
    picks: list[int] = []
    while len(picks) < batch:
        free = [int(i) for i in order if runs[i] < max_repeats]
        if not free:
            raise ValueError(f"replicate_leaders: every workflow has {max_repeats} runs")
        for i in free[:batch - len(picks)]:
            picks.append(i)
            runs[i] += 1
    return picks


def position_batch(round_: int, rounds: int, indices: np.ndarray, scores: np.ndarray,
                   score_se: np.ndarray | None, batch: int, noise_sd: float, seed: int, design_seed: int,
                   design_runs: int, replicate_rounds: int = 1, flat_margin: float = 0.5,
                   max_repeats: int = MAX_REPEATS, seed_effect_sd: float = 0.0
                   ) -> tuple[list[int], Posterior | None, str]:
    """Round ``round_`` (of ``rounds``)'s picks from the finite scores observed so far.

    indices: int[n] workflow indices, scores, score_se: float[n] (n = 0 in round 0);
    seed: this round's seed (Thompson draws); design_seed: the search's (the same covering
    design every round); design_runs: runs of the covering design, spent first in whole
    rounds (``design_sequence``; the first round always is one); replicate_rounds: the last
    this many rounds (never the first) replicate the leaders, design or not; flat_margin:
    score points (a later round whose posterior calls the field flat confirms the evaluated
    leaders); seed_effect_sd: the shared seed offset's sd (``wrl.search.positions.posterior``).
    Returns (picks, the posterior they were chosen from or None, method): "covering",
    "thompson", "replicate" or "confirm".
    """
    rng = np.random.default_rng(seed)
    replicate = round_ >= rounds - replicate_rounds and round_ > 0
    if round_ == 0 or (round_ * batch < design_runs and not replicate):
        return design_sequence(design_seed, (round_ + 1) * batch)[round_ * batch:], None, "covering"
    post = posterior(indices, scores, score_se, noise_sd, seed=seed, draws=max(THOMPSON_DRAWS, batch),
                     seed_effect_sd=seed_effect_sd)
    if post.p_flat(flat_margin) >= 0.5:
        return replicate_leaders(post, batch, max_repeats, evaluated_first=True), post, "confirm"
    if replicate:
        return replicate_leaders(post, batch, max_repeats), post, "replicate"
    return thompson_batch(post, batch, rng, post.draws, max_repeats), post, "thompson"


def posterior_frame(post: Posterior | None, picks: list[int]) -> pd.DataFrame:
    """Per workflow: index, workflow, mean, sd, n_obs, p_best (NaN before any score), pick
    (the 0-based order of its first pick in the batch, -1 if not picked), picks (times picked)."""
    nan = np.full(NUM_WORKFLOWS, np.nan)
    frame = pd.DataFrame({"index": np.arange(NUM_WORKFLOWS),
                          "workflow": [format_workflow(workflow_from_index(i)) for i in range(NUM_WORKFLOWS)],
                          "mean": nan if post is None else post.mean, "sd": nan if post is None else post.sd,
                          "n_obs": 0 if post is None else post.n_obs, "p_best": nan if post is None else post.p_best})
    frame["pick"] = -1
    for order, i in reversed(list(enumerate(picks))):
        frame.loc[i, "pick"] = order
    frame["picks"] = np.bincount(np.asarray(picks, dtype=np.int64), minlength=NUM_WORKFLOWS)
    return frame
