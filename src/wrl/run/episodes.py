"""Episode bookkeeping of a training run: running sums, score rings and the episode log.

``EpisodeBook`` keeps, per env of a pool, the sums of the episode in progress (env
return, alignment return, counted and compliant fixes, length, first Impact), the ring
of its last ``RING`` finished episodes that makes the score, and appends one row per
finished episode to ``episodes.parquet`` (a ``wrl.run.logbook.Table``).

Score (what GP-UCB sees): mean over envs of the mean of their ring, ``score_se`` its
standard error over envs; compliance: the NaN-aware mean of the ring's compliance;
``scores_by_red`` / ``score_se_by_red``: the mean (and standard error) of the ring
entries played against each red agent.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pyarrow as pa

from wrl.env.red import RED_AGENTS
from wrl.run.logbook import Table
from wrl.workflow import episode_compliance

RING = 3  #: finished episodes per env that enter the score

EPISODE_SCHEMA = pa.schema([
    ("workflow", pa.string()), ("env_id", pa.int32()), ("episode", pa.int64()),
    ("red", pa.string()), ("env_return", pa.float64()), ("alignment_return", pa.float64()),
    ("compliance", pa.float64()), ("fixes", pa.int32()), ("compliant_fixes", pa.int32()),
    ("first_impact_step", pa.int32()), ("global_step", pa.int64()), ("wall_s", pa.float64()),
])
#: what a checkpoint keeps (the episodes in progress are abandoned at a resume)
_STATE = ("env_episode", "episodes_done", "ring_ret", "ring_align", "ring_comp", "ring_red")


def standard_error(values: np.ndarray) -> float:
    """Standard error of the mean of float[n] ``values`` (NaN when n < 2)."""
    if len(values) < 2:
        return math.nan
    return float(np.std(values, ddof=1) / math.sqrt(len(values)))


class EpisodeBook:
    """Per-env episode sums, score rings and the episode log of ``num_envs`` envs."""

    def __init__(self, num_envs: int, log: Table):
        n = self.num_envs = int(num_envs)
        self.log = log
        self.env_episode = np.zeros(n, np.int64)  # finished episodes per env
        self.episodes_done = 0
        self.ring_ret = np.full((n, RING), np.nan)
        self.ring_align = np.full((n, RING), np.nan)
        self.ring_comp = np.full((n, RING), np.nan)
        self.ring_red = np.full((n, RING), -1, np.int8)  # red agent code of each ring entry
        self.ret, self.align = np.zeros(n), np.zeros(n)
        self.fixes, self.compliant = np.zeros(n, np.int64), np.zeros(n, np.int64)
        self.length, self.impact = np.zeros(n, np.int64), np.full(n, -1, np.int64)
        self.red = np.zeros(n, np.int8)  # red agent code of each episode in progress

    @property
    def in_progress(self) -> int:
        """Envs whose current episode has taken at least one step."""
        return int(np.count_nonzero(self.length))

    def add_step(self, reward: np.ndarray, align: np.ndarray, counted: np.ndarray, compliant: np.ndarray,
                 impact: np.ndarray | None) -> None:
        """Add one step of every env: rewards float[N], fix flags bool[N], red's Impact bool[N] (or None)."""
        self.ret += reward
        self.align += align
        self.fixes += counted
        self.compliant += compliant
        self.length += 1
        if impact is not None:
            first = impact & (self.impact < 0)
            self.impact[first] = self.length[first]

    def end(self, done: np.ndarray, workflows, global_step: int, wall_s: float) -> None:
        """Log and ring the episodes of the envs in ``done`` (bool[N]) and reset their sums.

        workflows: the workflow text of each of those episodes (sequence, one per done env).
        """
        idx = np.flatnonzero(done)
        comp = episode_compliance(self.compliant[idx], self.fixes[idx])
        slot = self.env_episode[idx] % RING
        self.ring_ret[idx, slot] = self.ret[idx]
        self.ring_align[idx, slot] = self.align[idx]
        self.ring_comp[idx, slot] = comp
        self.ring_red[idx, slot] = self.red[idx]
        self.log.append(
            workflow=workflows, env_id=idx, episode=self.env_episode[idx],
            red=[RED_AGENTS[c] for c in self.red[idx]], env_return=self.ret[idx],
            alignment_return=self.align[idx], compliance=comp, fixes=self.fixes[idx],
            compliant_fixes=self.compliant[idx],
            first_impact_step=[None if s < 0 else int(s) for s in self.impact[idx]],
            global_step=np.full(len(idx), global_step), wall_s=np.full(len(idx), wall_s))
        self.env_episode[idx] += 1
        self.episodes_done += len(idx)
        for acc in (self.ret, self.align, self.fixes, self.compliant, self.length):
            acc[idx] = 0
        self.impact[idx] = -1

    def score(self) -> tuple[float, float, float]:
        """(score, compliance, alignment return) over the rings; NaN before any episode."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rings before any episode
            per_env = np.nanmean(self.ring_ret, axis=1)
            return (float(np.nanmean(per_env)), float(np.nanmean(self.ring_comp)),
                    float(np.nanmean(np.nanmean(self.ring_align, axis=1))))

    def score_errors(self) -> dict:
        """``score_se`` and, per red agent seen in the rings, its mean and standard error."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            per_env = np.nanmean(self.ring_ret, axis=1)
        out = {"score_se": standard_error(per_env[np.isfinite(per_env)]), "scores_by_red": {},
               "score_se_by_red": {}}
        for code, name in enumerate(RED_AGENTS):
            returns = self.ring_ret[(self.ring_red == code) & np.isfinite(self.ring_ret)]
            if returns.size:
                out["scores_by_red"][name] = float(returns.mean())
                out["score_se_by_red"][name] = standard_error(returns)
        return out

    def state(self) -> dict:
        """What a checkpoint keeps: episode counters and the rings."""
        return {key: getattr(self, key) for key in _STATE}

    def load(self, state: dict) -> None:
        """Restore ``state()``; the episodes in progress start afresh."""
        for key in _STATE:
            setattr(self, key, state[key])
