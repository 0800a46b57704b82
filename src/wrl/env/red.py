"""Red agents and red mixtures: parsing ``b_line:0.4,meander:0.4,sleep:0.2`` and the seeded draw.

A red spec is one agent (``b_line``, ``meander``, ``sleep``) or a mixture of them with
weights that sum to 1. Each env draws its red agent afresh at every episode start, from
(seed, env index, episode index) alone (``draw_red``), so both backends, any batch size
and any number of workers draw the same sequence. Codes (``info["red"]``): 0 sleep,
1 b_line, 2 meander.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from wrl.env.seeding import RED_SALT, episode_uniform

#: red agent names by code (the code is the index)
RED_AGENTS: tuple[str, ...] = ("sleep", "b_line", "meander")
RED_CODE: dict[str, int] = {name: code for code, name in enumerate(RED_AGENTS)}


@dataclass(frozen=True)
class RedMix:
    """A parsed red spec: ``probs`` float64[3] by code, ``cum`` their cumulative sums, ``text``."""

    text: str
    probs: np.ndarray
    cum: np.ndarray

    @property
    def support(self) -> tuple[str, ...]:
        """Names of the agents with positive weight, in code order."""
        return tuple(RED_AGENTS[c] for c in range(len(RED_AGENTS)) if self.probs[c] > 0)

    @property
    def single(self) -> str | None:
        """The agent's name when the spec is one agent, else None."""
        support = self.support
        return support[0] if len(support) == 1 else None


def _fail(text: str, why: str) -> ValueError:
    return ValueError(f"red={text!r}: {why}; write one of {', '.join(RED_AGENTS)} or a mixture "
                      "such as b_line:0.4,meander:0.4,sleep:0.2 (weights sum to 1)")


def parse_red(text: str) -> RedMix:
    """Parse a red spec (one agent or ``name:weight,...``); raises ValueError naming the problem."""
    if not isinstance(text, str) or not text.strip():
        raise _fail(str(text), "empty")
    probs = np.zeros(len(RED_AGENTS))
    parts = [p.strip() for p in text.split(",")]
    for part in parts:
        name, _, weight = part.partition(":")
        if name not in RED_CODE:
            raise _fail(text, f"{name!r} is not a red agent")
        if probs[RED_CODE[name]] > 0:
            raise _fail(text, f"{name} appears twice")
        if not weight and len(parts) > 1:
            raise _fail(text, f"{name} has no weight")
        try:
            w = float(weight) if weight else 1.0
        except ValueError:
            raise _fail(text, f"weight {weight!r} of {name} is not a number") from None
        if not (math.isfinite(w) and w > 0):
            raise _fail(text, f"weight of {name} must be positive")
        probs[RED_CODE[name]] = w
    if abs(probs.sum() - 1.0) > 1e-6:
        raise _fail(text, f"weights sum to {probs.sum():g}, not 1")
    probs /= probs.sum()
    cum = np.cumsum(probs)
    cum[-1] = 1.0
    canonical = ",".join(f"{RED_AGENTS[c]}:{probs[c]:g}" for c in range(len(RED_AGENTS)) if probs[c] > 0)
    if np.count_nonzero(probs) == 1:
        canonical = RED_AGENTS[int(np.argmax(probs))]
    return RedMix(canonical, probs, cum)


@njit(cache=True)
def draw_red(seed, env, episode, cum):
    """Red code (0..2) of env ``env``'s episode ``episode`` under seed ``seed``.

    cum: float64[3], ``RedMix.cum``. u = ``episode_uniform(seed, env, episode, RED_SALT)``;
    the code is the first c with u < cum[c].
    """
    u = episode_uniform(seed, env, episode, RED_SALT)
    for c in range(cum.shape[0]):
        if u < cum[c]:
            return np.int8(c)
    return np.int8(cum.shape[0] - 1)


@njit(cache=True)
def draw_reds(seed, episodes, cum, out):
    """``out[i] = draw_red(seed, i, episodes[i], cum)`` for every env i (int8[N] in place)."""
    for i in range(out.shape[0]):
        out[i] = draw_red(seed, i, episodes[i], cum)
