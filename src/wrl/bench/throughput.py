"""``wrl bench sim|pool|train``: env-steps/s of the simulator, the CybORG pool and training,
as ratios to one CybORG env (or the split of training time) measured in the same run."""
from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import torch

from wrl.bench.common import parse_overrides, print_table
from wrl.env.scenario import NUM_ACTIONS
from wrl.timing import SECTIONS


def cyborg_single_env_rate(steps: int = 500, red: str = "b_line", seed: int = 0) -> float:
    """Env-steps/s of one CybORG env in this process, uniform random actions."""
    from wrl.env.cyborg import CyborgEnv

    env = CyborgEnv(red, seed=seed)
    env.reset()
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, NUM_ACTIONS, steps)
    t0 = time.perf_counter()
    for a in actions:
        if env.step(int(a))[2]:
            env.reset()
    return steps / (time.perf_counter() - t0)


def bench_sim(args: argparse.Namespace) -> int:
    """Env-steps/s of the numba simulator, N in {1, 64, 1024, 8192}, 1 thread and all
    cores, uniform random actions vs b_line; ratios to one CybORG env measured here."""
    import numba

    from wrl.env.sim_env import SimVecEnv

    single = cyborg_single_env_rate(args.steps * 4)
    cores = numba.config.NUMBA_NUM_THREADS
    rows, best = [["cyborg single env", 1, 1, single, 1.0, single, ""]], 0.0
    rng = np.random.default_rng(0)
    for n in (1, 64, 1024, 8192):
        steps = max(args.steps, 300 if n <= 64 else 100)
        acts = rng.integers(0, NUM_ACTIONS, (steps + 1, n))
        for threads in sorted({1, cores}):
            env = SimVecEnv(n, "b_line", seed=0, workers=threads)
            env.reset()
            env.step(acts[0])  # compile / warm up
            t0 = time.perf_counter()
            for a in acts[1:]:
                env.step(a)
            rate = n * steps / (time.perf_counter() - t0)
            rows.append(["numba", threads, n, rate, rate / single, rate / threads,
                         env.state_bytes_per_env])
            if n >= 1024:
                best = max(best, rate / threads)
    print_table(["backend", "threads", "envs", "env-steps/s", "x cyborg", "per thread",
                 "bytes/env"], rows,
                f"summary: numba peaks at {best:,.0f} env-steps/s per thread at N>=1024 "
                f"({best / single:,.0f}x one CybORG env at {single:,.0f} env-steps/s)")
    return 0


def bench_pool(args: argparse.Namespace) -> int:
    """Steps/s of the CybORG pool at W=1,2 and N=2..64 vs one env, same run."""
    from wrl.env.vec import make_vec

    single = cyborg_single_env_rate(args.steps * 4)
    rows, best = [["single env", 1, 1, single, 1.0]], (0.0, "")
    rng = np.random.default_rng(0)
    for w in (1, 2):
        for n in (2, 4, 8, 16, 32, 64):
            if n < w:
                continue
            with make_vec("cyborg", n, "b_line", seed=0, workers=w) as env:
                env.reset()
                acts = rng.integers(0, NUM_ACTIONS, (args.steps, n))
                env.step(acts[0])
                t0 = time.perf_counter()
                for a in acts[1:]:
                    env.step(a)
                rate = n * (args.steps - 1) / (time.perf_counter() - t0)
            rows.append(["pool", w, n, rate, rate / single])
            best = max(best, (rate / single, f"W={w} N={n}"))
    print_table(["backend", "workers", "envs", "env-steps/s", "x single"], rows,
                f"summary: best pool {best[1]} runs {best[0]:.2f}x one CybORG env "
                f"({single:,.0f} env-steps/s)")
    return 0


def time_training(cfg: dict, updates: int, threads: int | None) -> tuple[float, dict]:
    """(env-steps/s, seconds per section) of ``updates`` PPO updates of ``cfg`` after one
    untimed warm-up update (JIT, allocations); sections as ``wrl.timing.SECTIONS``."""
    import tempfile
    from pathlib import Path

    from wrl.run.train import CandidateRun

    cfg = {**cfg, "env_steps": 10**12}  # the loop must outlast the timed updates
    with tempfile.TemporaryDirectory() as tmp:
        run = CandidateRun(cfg, "defender,enterprise,op_server,op_host,user", Path(tmp), None, threads)
        try:
            loop = run.updates()
            next(loop)
            run.timer.enabled = True
            run.timer.seconds = dict.fromkeys(run.timer.seconds, 0.0)
            t0 = time.perf_counter()
            for _ in range(updates):
                next(loop)
            rate = updates * cfg["envs"] * cfg["update_steps"] / (time.perf_counter() - t0)
            return rate, dict(run.timer.seconds)
        finally:
            run.close()


def bench_train(args: argparse.Namespace) -> int:
    """End-to-end PPO training env-steps/s and where the time goes, per N.

    Baseline, measured in the same run: the CybORG pool at N=64 on the CPU. Then numba
    on ``--device`` at each ``--envs`` N: one warm-up update, then enough timed updates
    for ``--steps`` x 1024 env steps (at least 2), the train config's defaults plus
    ``--set`` overrides. Columns: env-steps/s, the ratio to the baseline, and the share
    of wall time in the policy (sampling forward passes), the simulator (``env.step``),
    bookkeeping (alignment reward, reward scaling, episode logs, copies) and the update.
    """
    from wrl.run.config import validate_train_config
    from wrl.run.train import set_threads

    set_threads(args.threads)
    overrides = parse_overrides(args.set)
    validate_train_config({**overrides, "device": args.device})  # a bad field fails before timing
    rows, rates = [], {}
    cells = [("cyborg", "cpu", 64)] + [("numba", args.device, n) for n in args.envs]
    for backend, device, n in cells:
        cfg = validate_train_config({**overrides, "backend": backend, "device": device,
                                     "red": overrides.get("red", "b_line"), "envs": n, "env_steps": 1})
        updates = max(2, math.ceil(args.steps * 1024 / (n * cfg["update_steps"])))
        if backend == "cyborg":
            updates = 2
        rate, seconds = time_training(cfg, updates, args.threads)
        total = sum(seconds.values())
        rates[backend, n] = rate
        rows.append([backend, device, n, rate, rate / rates["cyborg", 64],
                     *(f"{100 * seconds[k] / total:.0f}%" for k in SECTIONS)])
    best = max((r, n) for (b, n), r in rates.items() if b == "numba")
    threads = args.threads or torch.get_num_threads()
    print_table(["backend", "device", "envs", "env-steps/s", "x cyborg N=64", *SECTIONS], rows,
                f"summary: PPO training runs at {best[0]:,.0f} env-steps/s on numba/{args.device} "
                f"(N={best[1]}), {best[0] / rates['cyborg', 64]:.0f}x cyborg (N=64); "
                f"{threads} torch threads, {os.cpu_count()} CPU cores"
                + (f", overrides {overrides}" if overrides else ""))
    return 0
