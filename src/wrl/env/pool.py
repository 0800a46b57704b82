"""A shared-memory process pool of real CybORG envs behind the vector-env contract.

W spawned worker processes each own a contiguous slice of the N envs. Actions,
observations, rewards, flags and the true-state masks live in one
``multiprocessing.shared_memory`` block; per step the parent sends each worker one
byte over a pipe and waits for one byte back. Nothing is pickled on the hot path.

Once every worker has answered its first command (so has mapped the block), the parent
unlinks the block's name: the memory then lives exactly as long as the processes that
map it, and a SIGKILL of the whole pool leaves nothing in ``/dev/shm``.
"""
from __future__ import annotations

import gc
import multiprocessing as mp
import os
import signal
import sys
import weakref
from multiprocessing import shared_memory
from multiprocessing.connection import wait

import numpy as np

from wrl.env.scenario import NUM_HOSTS, OBS_DIM
from wrl.env.sim_state import R_IMPACT, RL_KIND, RL_N

_STEP, _RESET, _QUIT = b"s", b"r", b"q"
_OK = b"k"
#: seconds the parent waits between liveness checks of the workers
_POLL_S = 0.2
#: exit status of a worker that found itself re-running a script without a main guard
_NO_MAIN_GUARD = 86
_NO_MAIN_GUARD_WHY = ("could not start: the script that builds the pool has no main guard, so each "
                      "spawned worker re-ran it; fix: wrap the code that builds the pool in "
                      "`if __name__ == '__main__':`")


def _layout(n: int) -> list[tuple[str, np.dtype, tuple[int, ...]]]:
    return [
        ("actions", np.dtype(np.int64), (n,)),
        ("seeds", np.dtype(np.int64), (n,)),
        ("obs", np.dtype(np.float32), (n, OBS_DIM)),
        ("final_obs", np.dtype(np.float32), (n, OBS_DIM)),
        ("reward", np.dtype(np.float32), (n,)),
        ("terminated", np.dtype(bool), (n,)),
        ("truncated", np.dtype(bool), (n,)),
        ("compromised", np.dtype(bool), (n, NUM_HOSTS)),
        ("final_compromised", np.dtype(bool), (n, NUM_HOSTS)),
        ("red_root", np.dtype(bool), (n, NUM_HOSTS)),
        ("impact", np.dtype(bool), (n,)),
        ("red", np.dtype(np.int8), (n,)),
        ("episode", np.dtype(np.int64), (n,)),
        ("red_seed", np.dtype(np.int64), (1,)),
        ("red_action", np.dtype(np.int16), (n, RL_N)),
    ]


def _views(buf, n: int) -> dict[str, np.ndarray]:
    """Numpy views of every field of the shared block for ``n`` envs."""
    out, offset = {}, 0
    for name, dtype, shape in _layout(n):
        offset = -(-offset // 8) * 8
        size = int(np.prod(shape)) * dtype.itemsize
        out[name] = np.ndarray(shape, dtype, buffer=buf, offset=offset)
        offset += size
    return out


def _block_size(n: int) -> int:
    total = 0
    for _, dtype, shape in _layout(n):
        total = -(-total // 8) * 8 + int(np.prod(shape)) * dtype.itemsize
    return total


def env_seed(seed: int, index: int) -> int:
    """The seed of env ``index`` in a pool seeded with ``seed`` (independent of W)."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1, np.uint32)[0])


def _worker(conn, shm_name: str, n: int, lo: int, hi: int, red: str, green: str,
            max_steps: int) -> None:
    """Worker loop: owns envs lo..hi-1; one byte in, one byte out per command.

    Every episode start (reset or autoreset) advances the env's ``episode`` counter and
    draws its red agent from (red_seed, env index, episode) (``wrl.env.red.draw_red``).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and closes us
    from wrl.env.cyborg import CyborgEnv
    from wrl.env.red import RED_AGENTS, draw_red, parse_red

    cum = parse_red(red).cum

    shm = shared_memory.SharedMemory(name=shm_name)
    v = _views(shm.buf, n)
    try:
        envs = [CyborgEnv(red, green, max_steps, seed=int(v["seeds"][i])) for i in range(lo, hi)]
        # CybORG's object graphs are large and long-lived: keep the cyclic GC from
        # re-scanning them on every collection (measured in `wrl bench pool`).
        gc.collect()
        gc.freeze()

        def publish(i: int, env: CyborgEnv) -> None:
            v["compromised"][i] = env.compromised
            v["red_root"][i] = env.red_root

        def new_episode(i: int, env: CyborgEnv) -> np.ndarray:
            v["episode"][i] += 1
            v["red"][i] = draw_red(int(v["red_seed"][0]), i, int(v["episode"][i]), cum)
            return env.reset(RED_AGENTS[v["red"][i]])

        while True:
            cmd = conn.recv_bytes()
            if cmd == _QUIT:
                break
            try:
                if cmd == _RESET:
                    for i, env in enumerate(envs, start=lo):
                        env.seed(int(v["seeds"][i]))
                        v["obs"][i] = new_episode(i, env)
                        v["reward"][i] = 0.0
                        v["terminated"][i] = v["truncated"][i] = v["impact"][i] = False
                        v["red_action"][i] = -1
                        publish(i, env)
                else:
                    for i, env in enumerate(envs, start=lo):
                        obs, reward, truncated = env.step(int(v["actions"][i]))
                        v["reward"][i] = reward
                        v["truncated"][i] = truncated
                        v["terminated"][i] = False
                        v["red_action"][i] = env.red_record()
                        v["impact"][i] = v["red_action"][i, RL_KIND] == R_IMPACT
                        if truncated:
                            v["final_obs"][i] = obs
                            v["final_compromised"][i] = env.compromised
                            obs = new_episode(i, env)
                        v["obs"][i] = obs
                        publish(i, env)
            except Exception as err:  # report, then exit: the parent closes the pool
                conn.send_bytes(f"e{type(err).__name__}: {err}".encode())
                break
            conn.send_bytes(_OK)
    finally:
        v.clear()  # drop the views so the block can be closed
        shm.close()


def _shutdown(procs, conns, shm) -> None:
    """Stop every worker and free the shared block; safe to call more than once."""
    for c in conns:
        try:
            c.send_bytes(_QUIT)
        except (OSError, ValueError):
            pass
    for p in procs:
        p.join(timeout=2)
        if p.is_alive():
            p.kill()
            p.join(timeout=2)
    for c in conns:
        c.close()
    try:
        shm.close()
    except BufferError:  # a caller still holds a view; the block goes once it is dropped
        pass
    try:
        shm.unlink()
    except FileNotFoundError:
        pass


class CyborgPool:
    """N real CybORG envs in W worker processes; see ``wrl.make_vec`` for the contract.

    Use as a context manager or call ``close()``; a finaliser frees everything if
    neither happens. A worker that dies raises RuntimeError in the parent within
    ``_POLL_S`` seconds, and the pool is closed.
    """

    def __init__(self, num_envs: int, red: str, green: str = "sleep", max_steps: int = 100,
                 seed: int = 0, workers: int | None = None):
        if getattr(mp.current_process(), "_inheriting", False):
            # a spawned worker re-running its parent's unguarded script: tell the parent
            sys.exit(_NO_MAIN_GUARD)
        from wrl.env.cyborg import check_agents

        check_agents(red, green)
        if num_envs < 1:
            raise ValueError(f"num_envs={num_envs} must be at least 1")
        w = workers if workers is not None else min(os.cpu_count() or 1, num_envs)
        if not 1 <= w <= num_envs:
            raise ValueError(f"workers={workers} must be between 1 and num_envs={num_envs}")
        self.num_envs, self.workers, self.max_steps = num_envs, w, max_steps
        self.seed = seed
        self._shm = shared_memory.SharedMemory(create=True, size=_block_size(num_envs))
        self._v = _views(self._shm.buf, num_envs)
        self._v["seeds"][:] = [env_seed(seed, i) for i in range(num_envs)]
        self._v["red_seed"][0] = seed
        self._v["episode"][:] = -1
        bounds = np.linspace(0, num_envs, w + 1).astype(int)
        self._slices = list(zip(bounds[:-1], bounds[1:]))
        ctx = mp.get_context("spawn")
        self._conns, self._procs = [], []
        self._finalizer = weakref.finalize(self, _shutdown, self._procs, self._conns, self._shm)
        for lo, hi in self._slices:
            parent, child = ctx.Pipe()
            p = ctx.Process(target=_worker, daemon=True,
                            args=(child, self._shm.name, num_envs, int(lo), int(hi), red, green,
                                  max_steps))
            p.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(p)
        self.closed = False
        self._named = True  # the block's name is still in /dev/shm

    def _command(self, cmd: bytes) -> None:
        if self.closed:
            raise RuntimeError("the CybORG pool is closed")
        for k, c in enumerate(self._conns):
            try:
                c.send_bytes(cmd)
            except OSError:
                self._fail(k, self._death(k))
        pending = dict(zip(self._conns, range(self.workers)))
        sentinels = {p.sentinel: k for k, p in enumerate(self._procs)}
        while pending:
            ready = wait(list(pending) + list(sentinels), timeout=_POLL_S)
            for r in ready:
                if r in pending:
                    k = pending.pop(r)
                    try:
                        msg = r.recv_bytes()
                    except (EOFError, OSError):
                        self._fail(k, self._death(k))
                    if msg != _OK:
                        self._fail(k, msg[1:].decode(errors="replace"))
                elif r in sentinels and self._procs[sentinels[r]].exitcode is not None:
                    k = sentinels[r]
                    if self._procs[k].exitcode != 0 or self._conns[k] in pending:
                        self._fail(k, self._death(k))
        if self._named:  # every worker has the block mapped: its name is no longer needed
            self._shm.unlink()
            self._named = False

    def _death(self, k: int) -> str:
        """Why worker ``k`` is gone, from its exit status (waits up to a second for it)."""
        self._procs[k].join(timeout=1)
        code = self._procs[k].exitcode
        return _NO_MAIN_GUARD_WHY if code == _NO_MAIN_GUARD else f"died with exit code {code}"

    def _fail(self, k: int, why: str) -> None:
        lo, hi = self._slices[k]
        self.close()
        raise RuntimeError(f"CybORG pool worker {k} (envs {lo}..{hi - 1}) {why}; the pool is closed")

    def reset_all(self, seed: int | None = None) -> None:
        """Reset every env; with ``seed``, re-seed env i from (seed, i) first (and restart
        the episode indices that drive the red draws)."""
        if seed is not None:
            self.seed = seed
            self._v["seeds"][:] = [env_seed(seed, i) for i in range(self.num_envs)]
            self._v["red_seed"][0] = seed
            self._v["episode"][:] = -1
        self._command(_RESET)

    def step_all(self, actions: np.ndarray) -> None:
        """Step every env with ``actions`` int[N]; results land in ``self.views``."""
        self._v["actions"][:] = actions
        self._command(_STEP)

    @property
    def views(self) -> dict[str, np.ndarray]:
        """The shared arrays (obs, final_obs, reward, flags, compromised, final_compromised,
        red_root, impact, red, episode, red_action: red's action and outcome per env,
        ``wrl.env.sim_state.RL_*`` columns)."""
        return self._v

    def close(self) -> None:
        """Stop the workers and free the shared memory (idempotent)."""
        if getattr(self, "closed", True) and not self._finalizer.alive:
            return
        self.closed = True
        self._v = None
        self._finalizer()
