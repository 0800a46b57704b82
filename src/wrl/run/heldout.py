"""Greedy returns on held-out numba seeds: the check that keeps the best policy, not the
last (``train.select``), and a candidate's held-out score (``train.score``).

The two use disjoint seeds, so the score of the kept policy is not the check that kept it.
"""
from __future__ import annotations

import math

from wrl.env.red import RED_AGENTS, parse_red
from wrl.rl.agent import PolicyAgent
from wrl.rl.model import ActorCritic
from wrl.rl.play import play
from wrl.run.episodes import standard_error

BEST_NAME = "best.pt"  #: the best policy by held-out return so far, in a run's directory
HELDOUT_SEED = 10_000  #: + train.seed: the numba seed of the check that keeps the best policy
SCORE_SEED = 20_000  #: + train.seed: the numba seed of the held-out score


def _greedy_by_red(model: ActorCritic, cfg: dict, episodes: int, seed: int) -> dict[str, tuple[float, float]]:
    """Per red of ``cfg``'s mixture: (mean, standard error) of ``episodes`` greedy returns of
    ``model`` on numba at ``seed``, ``max_steps`` long. Leaves the model in train mode."""
    per_red = {}
    for red in parse_red(cfg["red"]).support:
        returns = play(PolicyAgent(model), "numba", red, episodes, cfg["max_steps"], seed=seed)["returns"]
        per_red[red] = (float(returns.mean()), standard_error(returns))
    model.train()
    return per_red


def _mixed(cfg: dict, values: dict[str, float]) -> float:
    """The mean of per-red ``values`` weighted by ``cfg``'s red mixture."""
    mix = parse_red(cfg["red"])
    return float(sum(mix.probs[RED_AGENTS.index(red)] * v for red, v in values.items()))


def heldout_returns(model: ActorCritic, cfg: dict, episodes: int) -> dict:
    """Greedy returns of ``model`` on the selection's held-out seed (``HELDOUT_SEED + seed``).

    Per red of the ``train`` section ``cfg``'s mixture, the mean return of ``episodes``
    episodes of ``max_steps`` (``heldout_<red>``), and ``heldout``: their mean weighted by
    the mixture (the greedy mixed-red return per episode). Leaves the model in train mode.
    """
    per_red = _greedy_by_red(model, cfg, episodes, HELDOUT_SEED + cfg["seed"])
    means = {red: mean for red, (mean, _) in per_red.items()}
    return {"heldout": _mixed(cfg, means), **{f"heldout_{red}": v for red, v in means.items()}}


def heldout_score(model: ActorCritic, cfg: dict, episodes: int) -> dict:
    """A candidate's held-out score: greedy returns of ``model`` on ``SCORE_SEED + seed``.

    ``episodes`` episodes of ``max_steps`` per red of ``cfg``'s mixture. Returns the keys
    of a run's score: ``score`` (the per-red means weighted by the mixture, return per
    episode), ``score_se`` (its standard error, the strata combined), ``scores_by_red``
    and ``score_se_by_red``. Leaves the model in train mode.
    """
    per_red = _greedy_by_red(model, cfg, episodes, SCORE_SEED + cfg["seed"])
    mix = parse_red(cfg["red"])
    var = sum((mix.probs[RED_AGENTS.index(red)] * se) ** 2 for red, (_, se) in per_red.items())
    return {"score": _mixed(cfg, {red: mean for red, (mean, _) in per_red.items()}),
            "score_se": math.sqrt(var),
            "scores_by_red": {red: mean for red, (mean, _) in per_red.items()},
            "score_se_by_red": {red: se for red, (_, se) in per_red.items()}}
