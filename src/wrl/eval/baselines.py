"""Scripted blue policies for both backends: ``make_baseline(name, num_envs, seed)``.

Every policy is an agent (``wrl.rl.agent.Agent``): ``act(obs float32[N,52], first
bool[N], info=None) -> int64[N]``, where ``first`` marks the envs whose episode starts
with this observation. Only ``oracle:W`` reads ``info`` (the true state: a reference,
not something a CybORG agent could do). Names:

- ``sleep``: always Sleep.
- ``random``: uniform over the 145 actions (own generator, seeded by ``seed``).
- ``react_restore``: reads the observation's compromised field; picks the first host, in
  ``REACT_ORDER`` (Op_Server0, Enterprise, Defender, Op hosts, users), by the rule
  Privileged -> Restore, else User -> Remove, else Unknown -> Analyse (an Analyse that
  finds red's files turns the host Privileged, so it is restored next); otherwise Sleep.
- ``decoy_heavy``: the first ``len(DECOY_PLAN)`` steps of each episode place the decoys
  of ``DECOY_PLAN`` on Op_Server0 and the Enterprise hosts, then plays ``react_restore``.
- ``decoy_remove``: the first ``len(DECOY_REMOVE_PLAN)`` steps place the decoys of
  ``DECOY_REMOVE_PLAN`` (Enterprise hosts, two on Op_Server0, user hosts), then Remove
  round-robin over the 13 hosts in host order (issue 13's decoy-heavy policy).
- ``decoy_all``: the same with ``DECOY_ALL_PLAN``: 20 decoys, the user hosts' first (so
  that B_line's first port scan can see them), every decoy kind, Vsftpd on hosts without
  port 80 and stacked on User3/4's.
- ``restore_opserver``: Restore Op_Server0 on the first step of each episode, then Sleep
  (after a Restore, CybORG's Impact no longer stops OTService that episode).
- ``oracle:W``: from the true state ``info["compromised"]``: Restore the first compromised
  host (host order) of the highest-priority compromised unit type of workflow W, else Sleep.
"""
from __future__ import annotations

import numpy as np

from wrl.env.scenario import (
    ANALYSE0, HOST_INDEX, HOST_UNIT, NUM_ACTIONS, NUM_HOSTS, REMOVE0, RESTORE0, SLEEP, UNIT_TYPES,
    action_id,
)
from wrl.workflow import type_ranks

NAMES = ("sleep", "random", "react_restore", "decoy_heavy", "decoy_remove", "decoy_all",
         "restore_opserver", "oracle:W")

#: Host priority of react_restore (first match is acted on).
REACT_ORDER = np.array([HOST_INDEX[h] for h in (
    "Op_Server0", "Enterprise0", "Enterprise1", "Enterprise2", "Defender",
    "Op_Host0", "Op_Host1", "Op_Host2", "User1", "User2", "User3", "User4", "User0")], np.int64)

#: decoy_heavy's opening: the decoys each key host accepts (the port must be free).
DECOY_PLAN = np.array([action_id(k, h) for k, h in (
    ("DecoyHarakaSMPT", "Op_Server0"), ("DecoyTomcat", "Op_Server0"), ("DecoyApache", "Op_Server0"),
    ("DecoyHarakaSMPT", "Enterprise0"), ("DecoyTomcat", "Enterprise0"), ("DecoyApache", "Enterprise0"),
    ("DecoyFemitter", "Enterprise1"), ("DecoyFemitter", "Enterprise2"),
    ("DecoyHarakaSMPT", "Op_Host0"), ("DecoyTomcat", "Op_Host0"))], np.int64)

#: decoy_remove's opening: ten decoys that each host accepts (Vsftpd on User3/4 stacks a
#: second listener on their port 80).
DECOY_REMOVE_PLAN = np.array([action_id(k, h) for k, h in (
    ("DecoyFemitter", "Enterprise1"), ("DecoyFemitter", "Enterprise2"),
    ("DecoyHarakaSMPT", "Enterprise0"), ("DecoyHarakaSMPT", "Op_Server0"),
    ("DecoyTomcat", "Op_Server0"), ("DecoyApache", "User1"), ("DecoyFemitter", "User2"),
    ("DecoyVsftpd", "User3"), ("DecoyVsftpd", "User4"), ("DecoyTomcat", "Enterprise0"))], np.int64)
#: decoy_all's opening (see the module doc).
DECOY_ALL_PLAN = np.array([action_id(k, h) for k, h in (
    ("DecoyApache", "User1"), ("DecoyFemitter", "User2"), ("DecoySSHD", "User3"),
    ("DecoyVsftpd", "User4"), ("DecoySmss", "User1"), ("DecoySvchost", "User1"),
    ("DecoySSHD", "User2"), ("DecoyVsftpd", "User3"), ("DecoyFemitter", "Enterprise1"),
    ("DecoyFemitter", "Enterprise2"), ("DecoyVsftpd", "Enterprise0"),
    ("DecoyHarakaSMPT", "Enterprise0"), ("DecoyTomcat", "Enterprise0"),
    ("DecoyVsftpd", "Op_Server0"), ("DecoyHarakaSMPT", "Op_Server0"),
    ("DecoyTomcat", "Op_Server0"), ("DecoyApache", "Op_Host0"), ("DecoyTomcat", "User2"),
    ("DecoyTomcat", "User1"), ("DecoyApache", "User2"))], np.int64)
#: the opening of each "decoys, then Remove round-robin" policy
DECOY_REMOVE_PLANS = {"decoy_remove": DECOY_REMOVE_PLAN, "decoy_all": DECOY_ALL_PLAN}

_OPS0 = HOST_INDEX["Op_Server0"]


def react_actions(obs: np.ndarray) -> np.ndarray:
    """int64[N]: react_restore's action for float32[N,52] observations (rule in module doc)."""
    o = np.asarray(obs).reshape(len(obs), NUM_HOSTS, 4)[:, REACT_ORDER] > 0.5
    unknown, user = o[:, :, 2] & ~o[:, :, 3], ~o[:, :, 2] & o[:, :, 3]
    priv = o[:, :, 2] & o[:, :, 3]
    out = np.full(len(obs), SLEEP, np.int64)
    for flags, base in ((unknown, ANALYSE0), (user, REMOVE0), (priv, RESTORE0)):  # last wins
        hit = flags.any(axis=1)
        out[hit] = base + REACT_ORDER[flags[hit].argmax(axis=1)]
    return out


class BaselinePolicy:
    """A scripted blue policy for ``num_envs`` envs (see the module doc for ``name``)."""

    def __init__(self, name: str, num_envs: int, seed: int = 0):
        self.name, self.num_envs = name, int(num_envs)
        self._rng = np.random.default_rng(seed)
        self._t = np.zeros(self.num_envs, np.int64)  # steps taken in the current episode
        self._ranks = type_ranks(name.split(":", 1)[1]) if name.startswith("oracle:") else None

    def act(self, obs: np.ndarray, first: np.ndarray, info: dict | None = None) -> np.ndarray:
        """int64[N] actions for float32[N,52] observations (``first`` bool[N] starts
        episodes; ``info``: the env's, read by ``oracle:W`` only)."""
        n = self.num_envs
        self._t[np.asarray(first, bool)] = 0
        if self.name == "sleep":
            out = np.full(n, SLEEP, np.int64)
        elif self.name == "random":
            out = self._rng.integers(0, NUM_ACTIONS, n)
        elif self.name == "react_restore":
            out = react_actions(obs)
        elif self.name == "decoy_heavy":
            out = react_actions(obs)
            early = self._t < len(DECOY_PLAN)
            out[early] = DECOY_PLAN[self._t[early]]
        elif self.name in DECOY_REMOVE_PLANS:
            plan = DECOY_REMOVE_PLANS[self.name]
            k = len(plan)
            out = np.where(self._t < k, plan[np.minimum(self._t, k - 1)],
                           REMOVE0 + (self._t - k) % NUM_HOSTS).astype(np.int64)
        elif self.name == "restore_opserver":
            out = np.where(self._t == 0, RESTORE0 + _OPS0, SLEEP).astype(np.int64)
        else:
            if info is None:
                raise ValueError(f"{self.name} reads the true state: pass the env's info to act")
            out = self._oracle(np.asarray(info["compromised"], bool))
        self._t += 1
        return out

    def _oracle(self, compromised: np.ndarray) -> np.ndarray:
        rank = np.where(compromised, self._ranks[HOST_UNIT][None, :], 99)
        best = rank.min(axis=1)
        first = np.argmax(rank == best[:, None], axis=1)
        return np.where(best < 99, RESTORE0 + first, SLEEP).astype(np.int64)


def make_baseline(name: str, num_envs: int, seed: int = 0) -> BaselinePolicy:
    """The baseline ``name`` (one of NAMES; ``oracle:W`` with W a workflow) for ``num_envs`` envs."""
    if name.startswith("oracle:"):
        type_ranks(name.split(":", 1)[1])  # raises ValueError naming a bad workflow
    elif name not in NAMES:
        raise ValueError(f"policy {name!r} is not a baseline; use one of {', '.join(NAMES)} "
                         f"(W a workflow, e.g. oracle:{','.join(UNIT_TYPES)})")
    return BaselinePolicy(name, num_envs, seed)

