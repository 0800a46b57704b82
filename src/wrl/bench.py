"""``wrl bench sim|pool|train``: throughput tables with ratios to one CybORG env.

Every benchmark measures its CybORG baseline in the same run, so the ratios hold on
whatever machine runs them. Timings are printed, never asserted.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from wrl.cage.scenario import NUM_ACTIONS


def cyborg_single_env_rate(steps: int = 500, red: str = "b_line", seed: int = 0) -> float:
    """Env-steps/s of one CybORG env in this process, uniform random actions."""
    from wrl.cage.cyborg import CyborgEnv

    env = CyborgEnv(red, seed=seed)
    env.reset()
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, NUM_ACTIONS, steps)
    t0 = time.perf_counter()
    for a in actions:
        if env.step(int(a))[2]:
            env.reset()
    return steps / (time.perf_counter() - t0)


def print_table(header: list[str], rows: list[list], summary: str) -> None:
    """Print a fixed-width table followed by a one-line summary (the last line)."""
    cells = [header] + [[f"{c:,.0f}" if isinstance(c, float) and abs(c) >= 100 else
                         f"{c:.2f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for k, r in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
        if k == 0:
            print("  ".join("-" * w for w in widths))
    print(summary)


def bench_pool(args: argparse.Namespace) -> int:
    """Steps/s of the CybORG pool at W=1,2 and N=2..64 vs one env, same run."""
    from wrl.vec import make_vec

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


def bench_train(args: argparse.Namespace) -> int:
    """End-to-end PPO training env-steps/s (env + policy + updates): numba vs cyborg, same run.

    cyborg at N=64 (its throughput is CPU-bound and flat in N, see ``bench pool``; 1024
    CybORG envs would need ~11 GB), numba at N=64, 256, 1024. Each: one warm-up update
    (JIT, allocations), then ceil(--steps / 50) timed updates of 50 steps x N envs,
    default PPO settings, all CPU threads.
    """
    import math
    import os
    import tempfile
    from pathlib import Path

    from wrl.train import CandidateRun, validate_train_config

    updates = max(1, math.ceil(args.steps / 50))
    rows, rates = [], {}
    for backend, n in (("cyborg", 64), ("numba", 64), ("numba", 256), ("numba", 1024)):
        cfg = validate_train_config({"backend": backend, "envs": n, "env_steps": 1})
        with tempfile.TemporaryDirectory() as tmp:
            run = CandidateRun(cfg, "defender,enterprise,op_server,op_host,user", Path(tmp), None, None)
            try:
                run.start()
                run.update()
                t0 = time.perf_counter()
                for _ in range(updates):
                    run.update()
                rate = updates * n * cfg["update_steps"] / (time.perf_counter() - t0)
            finally:
                run.close()
        rates[backend, n] = rate
        rows.append([backend, n, rate, rate / rates["cyborg", 64]])
    best = max((r, n) for (b, n), r in rates.items() if b == "numba")
    print_table(["backend", "envs", "train env-steps/s", "x cyborg N=64"], rows,
                f"summary: PPO training runs at {best[0]:,.0f} env-steps/s on numba (N={best[1]}), "
                f"{best[0] / rates['cyborg', 64]:.0f}x cyborg (N=64); {os.cpu_count()} CPU cores, "
                f"{updates} timed updates each")
    return 0


#: benchmark name -> function(args) -> exit status
BENCHES = {"pool": bench_pool, "train": bench_train}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``wrl bench``."""
    parser.add_argument("what", choices=["sim", "pool", "train"], help="which benchmark")
    parser.add_argument("--steps", type=int, default=60,
                        help="vector steps per measurement (default 60)")


def run(args: argparse.Namespace) -> int:
    """Run the chosen benchmark."""
    from wrl.cli import UsageError

    if args.steps < 2:
        raise UsageError(f"--steps {args.steps}: must be at least 2")
    if args.what not in BENCHES:
        raise UsageError(f"bench {args.what!r} is not available in this build")
    return BENCHES[args.what](args)


def bench_sim(args: argparse.Namespace) -> int:
    """Env-steps/s of the numba simulator, N in {1, 64, 1024, 8192}, 1 thread and all
    cores, uniform random actions vs b_line; ratios to one CybORG env measured here."""
    import numba

    from wrl.cage.sim_env import SimVecEnv

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


BENCHES["sim"] = bench_sim
