"""Workflows: priority orders of the five unit types, and compliance with them.

A workflow is a permutation of ``UNIT_TYPES`` (highest priority first), written
``defender,enterprise,op_server,op_host,user``. Its index (0..119) follows
``itertools.permutations(UNIT_TYPES)``.

Compliance (DESIGN.md): a fix (Remove/Restore on host h) is *counted* when some host
is compromised just before the action, and *compliant* when it is *effective* (h is
compromised just before the step and no longer just after it) and h's unit type is the
highest-priority type, in the workflow's order, among the types with a compromised host
just before. Every other counted fix is a violation (a clean host, a lower-priority
type, or a fix that leaves red on h), so the alignment reward cannot be farmed.
"""
from __future__ import annotations

import itertools

import numpy as np

from wrl.env.scenario import ACTION_HOST, HOST_UNIT, IS_FIX, NUM_UNIT_TYPES, UNIT_TYPES

Workflow = tuple[str, ...]

ALL_WORKFLOWS: tuple[Workflow, ...] = tuple(itertools.permutations(UNIT_TYPES))
NUM_WORKFLOWS = len(ALL_WORKFLOWS)
_INDEX = {w: i for i, w in enumerate(ALL_WORKFLOWS)}
_PAIRS = tuple(itertools.combinations(range(NUM_UNIT_TYPES), 2))


def parse_workflow(text: str | Workflow) -> Workflow:
    """Parse ``'defender,enterprise,...'`` (or a tuple) into a workflow tuple.

    Raises ValueError naming the problem when it is not a permutation of UNIT_TYPES.
    """
    parts = tuple(p.strip() for p in (text.split(",") if isinstance(text, str) else text))
    if sorted(parts) != sorted(UNIT_TYPES):
        raise ValueError(
            f"workflow {','.join(parts)!r} is not an order of the 5 unit types; "
            f"write all of {','.join(UNIT_TYPES)} once each, comma-separated"
        )
    return parts


def format_workflow(workflow: Workflow) -> str:
    """The canonical comma-separated text of a workflow."""
    return ",".join(workflow)


def workflow_index(workflow: str | Workflow) -> int:
    """Index 0..119 of a workflow in ``ALL_WORKFLOWS``."""
    return _INDEX[parse_workflow(workflow)]


def workflow_from_index(index: int) -> Workflow:
    """The workflow with index ``index`` (0..119)."""
    if not 0 <= int(index) < NUM_WORKFLOWS:
        raise ValueError(f"workflow index {index} out of range 0..{NUM_WORKFLOWS - 1}")
    return ALL_WORKFLOWS[int(index)]


def type_ranks(workflow: str | Workflow) -> np.ndarray:
    """int8[5]: priority rank of each unit type (0 = highest), indexed like UNIT_TYPES."""
    w = parse_workflow(workflow)
    return np.array([w.index(t) for t in UNIT_TYPES], dtype=np.int8)


def onehot(workflow: str | Workflow) -> np.ndarray:
    """float32[25]: position x type one-hot, row-major (position p, type t) at 5p+t."""
    out = np.zeros((NUM_UNIT_TYPES, NUM_UNIT_TYPES), np.float32)
    for pos, t in enumerate(parse_workflow(workflow)):
        out[pos, UNIT_TYPES.index(t)] = 1.0
    return out.reshape(-1)


def onehot_all() -> np.ndarray:
    """float32[120, 25]: ``onehot`` of every workflow, in index order."""
    return np.stack([onehot(w) for w in ALL_WORKFLOWS])


def type_ranks_all() -> np.ndarray:
    """int8[120, 5]: ``type_ranks`` of every workflow, in index order."""
    return np.stack([type_ranks(w) for w in ALL_WORKFLOWS])


def pairwise_embedding(workflow: str | Workflow) -> np.ndarray:
    """float64[10]: sign(rank_i - rank_j) for unit types i<j (base order).

    An RBF kernel on this embedding is the Mallows kernel on permutations.
    """
    r = type_ranks(workflow)
    return np.array([np.sign(r[i] - r[j]) for i, j in _PAIRS], dtype=np.float64)


def pairwise_embedding_all() -> np.ndarray:
    """float64[120, 10]: ``pairwise_embedding`` of every workflow, in index order."""
    return np.stack([pairwise_embedding(w) for w in ALL_WORKFLOWS])


def kendall_distance(a: str | Workflow, b: str | Workflow) -> int:
    """Number of unit-type pairs the two workflows order differently (0..10)."""
    return int(np.sum(pairwise_embedding(a) != pairwise_embedding(b)))


def fix_compliance(
    actions: np.ndarray, before: np.ndarray, after: np.ndarray, ranks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Which actions are counted fixes and which of those comply, for N envs at once.

    actions: int[N] blue actions (0..144); before: bool[N, 13], the true compromised
    state just before the actions; after: bool[N, 13], the state just after the step (of
    the same episode: ``info["final_compromised"]`` where the episode ended); ranks:
    int[5] or int[N, 5] from ``type_ranks``. Returns (counted bool[N], compliant
    bool[N]); compliant implies counted.
    """
    actions = np.asarray(actions, dtype=np.int64)
    before = np.asarray(before, dtype=bool)
    after = np.asarray(after, dtype=bool)
    ranks = np.broadcast_to(np.asarray(ranks), (len(actions), NUM_UNIT_TYPES))
    host_rank = np.take_along_axis(ranks, np.broadcast_to(HOST_UNIT, before.shape), axis=1)
    big = NUM_UNIT_TYPES
    best = np.where(before, host_rank, big).min(axis=1)
    target = np.maximum(ACTION_HOST[actions].astype(np.int64), 0)[:, None]
    target_rank = np.take_along_axis(host_rank, target, axis=1)[:, 0]
    effective = (np.take_along_axis(before, target, axis=1) & ~np.take_along_axis(after, target, axis=1))[:, 0]
    counted = IS_FIX[actions] & (best < big)
    compliant = counted & effective & (target_rank == best)
    return counted, compliant


def state_after(info: dict) -> np.ndarray:
    """bool[N, 13]: the true state just after a step, in the episode the step belonged to.

    ``info`` from a vector env's ``step``: ``compromised`` where the episode goes on,
    ``final_compromised`` where it ended (its autoreset replaced ``compromised``).
    """
    ended = np.asarray(info["_final_obs"], bool)
    if not ended.any():
        return info["compromised"]
    return np.where(ended[:, None], info["final_compromised"], info["compromised"])


def alignment_reward(counted: np.ndarray, compliant: np.ndarray, lam: float) -> np.ndarray:
    """float32[N]: +lam for a compliant fix, -lam for a counted violating one, else 0."""
    return (lam * (compliant.astype(np.float32) - (counted & ~compliant).astype(np.float32))).astype(
        np.float32
    )


def episode_compliance(compliant_fixes: np.ndarray, fixes: np.ndarray) -> np.ndarray:
    """float64[...]: compliant / counted fixes per episode, NaN where there were none."""
    fixes = np.asarray(fixes, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(fixes > 0, np.asarray(compliant_fixes) / fixes, np.nan)
