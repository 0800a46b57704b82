"""Keep the best policy, not the last: greedy returns on held-out numba seeds (``train.select``)."""
from __future__ import annotations

from wrl.env.red import RED_AGENTS, parse_red
from wrl.rl.agent import PolicyAgent
from wrl.rl.model import ActorCritic
from wrl.rl.play import play

BEST_NAME = "best.pt"  #: the best policy by held-out return so far, in a run's directory
HELDOUT_SEED = 10_000  #: + train.seed: the numba seed of the held-out greedy evaluation


def heldout_returns(model: ActorCritic, cfg: dict, episodes: int) -> dict:
    """Greedy returns of ``model`` on held-out numba seeds (``HELDOUT_SEED + seed``).

    Per red of the ``train`` section ``cfg``'s mixture, the mean return of ``episodes``
    episodes of ``max_steps`` (``heldout_<red>``), and ``heldout``: their mean weighted by
    the mixture (the greedy mixed-red return per episode). Leaves the model in train mode.
    """
    mix = parse_red(cfg["red"])
    per_red = {red: float(play(PolicyAgent(model), "numba", red, episodes, cfg["max_steps"],
                               seed=HELDOUT_SEED + cfg["seed"])["returns"].mean()) for red in mix.support}
    model.train()
    mixed = sum(mix.probs[RED_AGENTS.index(red)] * v for red, v in per_red.items())
    return {"heldout": float(mixed), **{f"heldout_{red}": v for red, v in per_red.items()}}
