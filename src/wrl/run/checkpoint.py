"""A candidate run's checkpoint: what ``checkpoint.pt`` holds, how it is written and read back.

``checkpoint.pt`` (written atomically, ``wrl.atomic``) holds the policy and optimiser
state, torch/CUDA/numpy RNG states, the reward scaler, the run ``Counters``, the episode
book (score rings, episode counters), the number of flushed log parts of each log and the
run's workflow and config (a resume into a directory of another run is refused).
"""
from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from wrl.atomic import atomic_write
from wrl.errors import UsageError


@dataclass
class Counters:
    """What a run has done so far, over all its resumes."""

    global_step: int = 0  #: env steps over all envs
    updates: int = 0  #: PPO updates
    resumes: int = 0  #: 0 for the first run, +1 per resume
    abandoned: int = 0  #: episodes in progress at a resumed checkpoint (never logged)
    wall_before: float = 0.0  #: seconds of training before this process
    best_score: float = -math.inf  #: best training score so far (early stop)
    since_best: int = 0  #: updates since best_score last improved
    best_heldout: float = -math.inf  #: best greedy held-out total so far (train.select)
    best_heldout_update: int = -1  #: the update that reached it (its policy is best.pt)


def read_checkpoint(path: Path) -> dict | None:
    """The checkpoint at ``path``, or None when there is none; a clear error when unreadable."""
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 - any failure means the same to the user
        raise UsageError(f"checkpoint {path} is unreadable ({type(err).__name__}); "
                         "delete it to restart this candidate from scratch") from None


def write_checkpoint(path: Path, *, workflow: str, config: dict, model: torch.nn.Module,
                     optimizer: torch.optim.Optimizer, device: torch.device, scaler, counters: Counters,
                     wall: float, pool_seed: int, book, parts: dict) -> None:
    """Write ``path`` atomically; ``wall``: seconds trained so far, ``parts``: flushed parts per log."""
    state = {
        "workflow": workflow, "config": config,
        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if device.type == "cuda" else None,
        "numpy_rng": np.random.get_state(), "reward_scale": scaler.state(), "pool_seed": pool_seed,
        "counters": asdict(counters) | {"wall_before": wall},
        "book": book.state(), "in_progress": book.in_progress, "parts": parts,
    }
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def restore_checkpoint(ckpt: dict, path: Path, *, workflow: str, config: dict, model: torch.nn.Module,
                       optimizer: torch.optim.Optimizer, device: torch.device, scaler) -> tuple[Counters, dict]:
    """Load ``ckpt`` (read from ``path``) into the model, optimiser, RNGs and scaler.

    Returns the counters of the resumed run (resumes + 1; the episodes in progress at the
    checkpoint added to ``abandoned``) and the flushed parts per log. Refuses a checkpoint
    of another workflow or config.
    """
    if ckpt["workflow"] != workflow or ckpt["config"] != config:
        raise UsageError(f"field out: {path.parent} holds a checkpoint of a different run "
                         f"(workflow {ckpt['workflow']}); use a new output directory")
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    torch.set_rng_state(ckpt["torch_rng"])
    if device.type == "cuda" and ckpt["cuda_rng"] is not None:
        torch.cuda.set_rng_state_all(ckpt["cuda_rng"])
    np.random.set_state(ckpt["numpy_rng"])
    scaler.load(ckpt["reward_scale"])
    counters = Counters(**ckpt["counters"])
    counters.resumes += 1
    counters.abandoned += ckpt["in_progress"]
    print(f"train: resumed from {path} (update {counters.updates}); "
          f"{ckpt['in_progress']} episodes in progress there are abandoned", file=sys.stderr, flush=True)
    return counters, ckpt["parts"]
