"""CAGE Challenge 2 (Scenario 2) facts as plain tables.

Everything here is a constant: host order, unit types, subnets and the 145-action
enumeration, in the order csle-cyborg's ``ChallengeWrapper.possible_actions`` uses.
Other modules index into these tables; nothing here imports CybORG.
"""
from __future__ import annotations

import numpy as np

HOSTS: tuple[str, ...] = (
    "Defender", "Enterprise0", "Enterprise1", "Enterprise2",
    "Op_Host0", "Op_Host1", "Op_Host2", "Op_Server0",
    "User0", "User1", "User2", "User3", "User4",
)
NUM_HOSTS = len(HOSTS)
HOST_INDEX: dict[str, int] = {h: i for i, h in enumerate(HOSTS)}

#: The five unit types, in the base order workflows permute (index 0 of the 120).
UNIT_TYPES: tuple[str, ...] = ("defender", "enterprise", "op_server", "op_host", "user")
NUM_UNIT_TYPES = len(UNIT_TYPES)


def _unit_of(host: str) -> str:
    if host == "Defender":
        return "defender"
    if host.startswith("Enterprise"):
        return "enterprise"
    if host == "Op_Server0":
        return "op_server"
    if host.startswith("Op_Host"):
        return "op_host"
    return "user"


#: int8[13]: unit-type index (into UNIT_TYPES) of every host, in host order.
HOST_UNIT = np.array([UNIT_TYPES.index(_unit_of(h)) for h in HOSTS], dtype=np.int8)

SUBNETS: tuple[str, ...] = ("User", "Enterprise", "Operational")
#: int8[13]: subnet index (into SUBNETS) of every host.
HOST_SUBNET = np.array(
    [0 if h.startswith("User") else 2 if h.startswith("Op_") else 1 for h in HOSTS],
    dtype=np.int8,
)

#: The host red starts on; its session there survives Restore.
FOOTHOLD_HOST = HOST_INDEX["User0"]

DECOYS: tuple[str, ...] = (
    "DecoyApache", "DecoyFemitter", "DecoyHarakaSMPT", "DecoySmss",
    "DecoySSHD", "DecoySvchost", "DecoyTomcat", "DecoyVsftpd",
)
#: Action kinds in enumeration order; per-host kinds take 13 consecutive ids.
ACTION_KINDS: tuple[str, ...] = ("Sleep", "Monitor", "Analyse", "Remove", *DECOYS, "Restore")
KIND_INDEX: dict[str, int] = {k: i for i, k in enumerate(ACTION_KINDS)}


def _enumerate_actions() -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    kinds, hosts, names = [0, 1], [-1, -1], ["Sleep", "Monitor"]
    for k in ACTION_KINDS[2:]:
        for h, host in enumerate(HOSTS):
            kinds.append(KIND_INDEX[k])
            hosts.append(h)
            names.append(f"{k} {host}")
    return np.array(kinds, np.int8), np.array(hosts, np.int8), tuple(names)


#: int8[145] action kind (into ACTION_KINDS), int8[145] target host (-1: none), names.
ACTION_KIND, ACTION_HOST, ACTION_NAMES = _enumerate_actions()
NUM_ACTIONS = len(ACTION_NAMES)
assert NUM_ACTIONS == 145

SLEEP, MONITOR = 0, 1
ANALYSE0 = 2
REMOVE0 = 2 + NUM_HOSTS
DECOY0 = 2 + 2 * NUM_HOSTS
RESTORE0 = 2 + (2 + len(DECOYS)) * NUM_HOSTS

#: bool[145]: True for a fix (Remove or Restore) on some host.
IS_FIX = (ACTION_KIND == KIND_INDEX["Remove"]) | (ACTION_KIND == KIND_INDEX["Restore"])


def action_id(kind: str, host: str | None = None) -> int:
    """Action index (0..144) of ``kind`` on ``host``; ``host`` is None for Sleep/Monitor."""
    if kind not in KIND_INDEX:
        raise ValueError(f"unknown action kind {kind!r}; expected one of {ACTION_KINDS}")
    k = KIND_INDEX[kind]
    if k < 2:
        return k
    if host not in HOST_INDEX:
        raise ValueError(f"unknown host {host!r}; expected one of {HOSTS}")
    return 2 + (k - 2) * NUM_HOSTS + HOST_INDEX[host]


#: Observation layout: 4 floats per host in host order.
OBS_PER_HOST = 4
OBS_DIM = OBS_PER_HOST * NUM_HOSTS
MAX_STEPS = 100
