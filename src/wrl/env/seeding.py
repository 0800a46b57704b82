"""Per-episode random draws that depend on (seed, env index, episode index) alone.

Whatever is drawn afresh at each episode start (the red agent of a mixture, the
workflow of a base-policy env) comes from ``episode_uniform``: a splitmix64 hash of the
three indices and a *salt* naming the quantity, so the draws of one quantity never
correlate with another's, and both backends, any batch size and any number of workers
see the same sequence.
"""
from __future__ import annotations

import numpy as np
from numba import njit

RED_SALT = 0  #: salt of the red-agent draw (``wrl.env.red``)
WORKFLOW_SALT = 1  #: salt of the workflow draw (``wrl.run.train``'s base policy)


@njit(cache=True)
def _mix64(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def episode_uniform(seed, env, episode, salt):
    """A uniform float64 in [0, 1) from (seed, env, episode, salt), all non-negative ints."""
    z = _mix64(np.uint64(seed) * np.uint64(0xD1B54A32D192ED03) + np.uint64(0x5851F42D4C957F2D))
    z = _mix64(z ^ (np.uint64(env) * np.uint64(0x9E3779B97F4A7C15)))
    z = _mix64(z ^ (np.uint64(episode) * np.uint64(0xC2B2AE3D27D4EB4F)))
    z = _mix64(z ^ (np.uint64(salt) * np.uint64(0x165667B19E3779F9)))
    return np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def draw_indices(seed, episodes, salt, count, out):
    """``out[i]`` = uniform int in [0, count) for env i's episode ``episodes[i]`` (int64[N] in place)."""
    for i in range(out.shape[0]):
        k = np.int64(episode_uniform(seed, i, episodes[i], salt) * count)
        out[i] = k if k < count else count - 1
