"""``wrl bench sim|pool|train|learn|search``: throughput, time-to-threshold and search tables.

Every benchmark measures its CybORG baseline in the same run, so the ratios hold on
whatever machine runs them. Timings are printed, never asserted.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

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


def _ints(text: str) -> list[int]:
    """``'256,1024'`` -> [256, 1024] (positive integers)."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give positive integers, comma-separated")
    return values


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


def _budgets(text: str) -> list[tuple[int, int]]:
    """``'3x4,6x4'`` -> [(3, 4), (6, 4)]: (rounds, batch) pairs of positive integers."""
    try:
        pairs = [tuple(int(v) for v in item.split("x")) for item in text.split(",")]
    except ValueError:
        pairs = []
    if not pairs or any(len(p) != 2 or min(p) < 1 for p in pairs):
        raise argparse.ArgumentTypeError(f"{text!r}: give ROUNDSxBATCH pairs, comma-separated, e.g. 3x4,6x4")
    return pairs


def _parse_overrides(pairs: list[str]) -> dict:
    """``--set key=value`` pairs as a dict of train config fields (search: of the position
    design's options, e.g. design_runs=12; values parsed as YAML)."""
    import yaml

    from wrl.errors import UsageError

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--set {pair!r}: write FIELD=VALUE, e.g. --set epochs=2")
        out[key] = yaml.safe_load(value)
    return out


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
    from wrl.run.train import set_threads, validate_train_config

    set_threads(args.threads)
    overrides = _parse_overrides(args.set)
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


def process_age() -> float | None:
    """Seconds since this process started (Linux ``/proc``; None elsewhere)."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return float(Path("/proc/uptime").read_text().split()[0]) - started
    except (OSError, ValueError, IndexError):
        return None


THRESHOLDS = (-25.0, -20.0, -17.0)  #: greedy mixed-red returns per episode that ``bench learn`` times


def time_to_threshold(cfg: dict, max_seconds: float, check_seconds: float, eval_episodes: int,
                      threads: int | None, tmp: Path, thresholds: tuple[float, ...] = THRESHOLDS) -> dict:
    """Train ``cfg`` until every one of ``thresholds`` is crossed or ``max_seconds`` of training.

    Every ``check_seconds`` of training the policy is run greedily on held-out numba seeds
    (``wrl.run.select.heldout_returns``, ``eval_episodes`` per red of the mixture; not counted
    in the training time). Returns setup_s (building the run: pool, JIT cache, model), per
    threshold x the training seconds and env steps at the first check whose mixed-red
    return reaches x (``greedy_s{x}``, ``greedy_steps{x}``; NaN when not reached), the
    best check (``best``, its per-red returns ``best_<red>`` and its ``best_s``), the best
    policy's path (``policy``), final wall_s and env steps, and env-steps/s.
    """
    from wrl.rl.model import save_policy
    from wrl.run.select import heldout_returns
    from wrl.run.train import CandidateRun

    t0 = time.perf_counter()
    run = CandidateRun(cfg, "defender,enterprise,op_server,op_host,user", tmp, None, threads)
    result = {"setup_s": time.perf_counter() - t0, "best": -math.inf, "best_s": math.nan}
    for x in thresholds:
        result |= {f"greedy_s{x:.0f}": math.nan, f"greedy_steps{x:.0f}": math.nan}
    last_check = 0.0
    try:
        for row in run.updates():
            out_of_time = row["wall_s"] >= max_seconds
            if row["wall_s"] - last_check < check_seconds and not out_of_time:
                continue
            last_check = row["wall_s"]
            paused = time.perf_counter()
            check = heldout_returns(run.model, cfg, eval_episodes)
            for x in thresholds:
                if math.isnan(result[f"greedy_s{x:.0f}"]) and check["heldout"] >= x:
                    result[f"greedy_s{x:.0f}"] = row["wall_s"]
                    result[f"greedy_steps{x:.0f}"] = row["global_step"]
            if check["heldout"] > result["best"]:
                result |= {"best": check["heldout"], "best_s": row["wall_s"],
                           **{"best_" + k.removeprefix("heldout_"): v for k, v in check.items() if k != "heldout"}}
                save_policy(run.model, tmp / "policy.pt")
            run.t0 += time.perf_counter() - paused  # the check is not training time
            if out_of_time or not any(math.isnan(result[f"greedy_s{x:.0f}"]) for x in thresholds):
                break
        result |= {"policy": str(tmp / "policy.pt"), "wall_s": run.wall(), "env_steps": run.counters.global_step,
                   "steps_per_s": run.counters.global_step / run.wall()}
    finally:
        run.close()
    return result


def bench_learn(args: argparse.Namespace) -> int:
    """Learning per wall-second on the train mixture: training seconds until the greedy
    mixed-red return on held-out numba seeds reaches -25, -20 and -17 per episode, for the
    train section of ``config.yaml`` (or the defaults; the baseline, measured first in the
    same run) and each ``--variant``
    (comma-separated FIELD=VALUE overrides on top of ``--set``).

    Per variant: setup seconds, seconds (and env steps) to each threshold (checked every
    ``--check-seconds``), the best check's mixed return and per-red returns, env-steps/s,
    the ratio of its -20 time to the baseline's, and the best policy's return on the real
    CybORG (``--cyborg-episodes`` episodes of ``max_steps`` per red of the mixture, mixed
    by its weights; 0 skips it). Runs stop at ``--max-seconds``.
    """
    import tempfile

    from wrl.env.red import RED_AGENTS, parse_red
    from wrl.eval.evaluate import play_policy
    from wrl.run.command import load_train_section
    from wrl.run.train import set_threads, validate_train_config

    set_threads(args.threads)
    common = {**load_train_section(None), **_parse_overrides(args.set)}
    variants = [("defaults", {})] + [(v, _parse_overrides(v.split(","))) for v in args.variant]
    rows, base = [], None
    for name, extra in variants:
        cfg = validate_train_config({**common, **extra, "device": args.device, "env_steps": 10**12,
                                     "select": {"every_updates": 0}})  # the bench makes its own checks
        mix = parse_red(cfg["red"])
        with tempfile.TemporaryDirectory() as tmp:
            r = time_to_threshold(cfg, args.max_seconds, args.check_seconds, args.eval_episodes,
                                  args.threads, Path(tmp), (*THRESHOLDS, *args.stop_at))
            cyborg = math.nan
            if args.cyborg_episodes and Path(r["policy"]).exists():
                cyborg = sum(mix.probs[RED_AGENTS.index(red)] * play_policy(
                    r["policy"], "cyborg", red, args.cyborg_episodes, cfg["max_steps"], seed=20_000,
                    workers=args.threads)["returns"].mean() for red in mix.support)
        base = r if base is None else base
        ratio = r["greedy_s-20"] / base["greedy_s-20"]
        per_red = " ".join(f"{red} {r.get('best_' + red, math.nan):.1f}" for red in mix.support)
        rows.append([name, cfg["envs"], r["setup_s"], r["greedy_s-25"], r["greedy_s-20"], r["greedy_s-17"],
                     r["greedy_steps-20"] / 1e6, r["best"], per_red, r["best_s"], r["steps_per_s"], ratio,
                     cyborg])
        print(f"bench learn: {name}: {r}", file=sys.stderr, flush=True)
    age = process_age()
    best = max(rows, key=lambda row: row[7])
    print_table(["variant", "envs", "setup s", "s to -25", "s to -20", "s to -17", "Msteps -20",
                 "best mixed", "best per red", "best at s", "env-steps/s", "x defaults -20", "CybORG mixed"],
                rows,
                f"summary: best greedy mixed-red return {best[7]:.1f} by {best[0]!r} "
                f"({best[5]:.0f} s to -17) within {args.max_seconds:.0f} s of training; device {args.device}, "
                f"{args.threads or torch.get_num_threads()} torch threads, {os.cpu_count()} CPU cores"
                + (f", process age {age:.0f} s" if age is not None else ""))
    return 0


#: benchmark name -> function(args) -> exit status
BENCHES = {"pool": bench_pool, "train": bench_train, "learn": bench_learn}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``wrl bench``."""
    parser.add_argument("what", choices=["sim", "pool", "train", "learn", "search"], help="which benchmark")
    parser.add_argument("--steps", type=int, default=60,
                        help="sim/pool: vector steps per measurement; train: thousands of env "
                             "steps per N (default 60)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="train/learn: where the policy and the update run (default cpu)")
    parser.add_argument("--envs", type=_ints, default=[256, 1024, 4096],
                        help="train: numbers of envs, comma-separated (default 256,1024,4096)")
    parser.add_argument("--threads", type=int, default=None,
                        help="train/learn: CPU threads for torch and numba (default: all)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="train/learn: override a train config field, e.g. --set epochs=2 "
                             "(repeatable)")
    parser.add_argument("--variant", action="append", default=[], metavar="FIELD=VALUE,...",
                        help="learn: a variant to time beside the defaults, e.g. "
                             "--variant epochs=2,minibatches=2 (repeatable)")
    parser.add_argument("--max-seconds", dest="max_seconds", type=float, default=300.0,
                        help="learn: training seconds per variant before giving up (default 300)")
    parser.add_argument("--check-seconds", dest="check_seconds", type=float, default=10.0,
                        help="learn: training seconds between greedy checks (default 10)")
    parser.add_argument("--eval-episodes", dest="eval_episodes", type=int, default=256,
                        help="learn: held-out numba episodes per red per greedy check (default 256)")
    parser.add_argument("--stop-at", dest="stop_at", type=lambda t: [float(x) for x in t.split(",")],
                        default=[], help="learn: also run on until these mixed returns (e.g. -13 to "
                                         "compare variants at equal training time)")
    parser.add_argument("--table", default="docs/data/exhaustive.parquet",
                        help="search: the runs of dev/exhaustive.py (every workflow at k seeds)")
    parser.add_argument("--replays", type=int, default=200, help="search: replays per cell (default 200)")
    parser.add_argument("--budgets", type=_budgets, default=None,
                        help="search: ROUNDSxBATCH budgets, comma-separated (default: the config's rounds x batch)")
    parser.add_argument("--config", default=None,
                        help="search: the config whose search section sets the design and the budget "
                             "(default: config.yaml if present, else the defaults)")
    parser.add_argument("--strategies", default="random,gp_ucb,position",
                        help="search: strategies, comma-separated (random, gp_ucb, position)")
    parser.add_argument("--landscapes", default="table,fitted,flat,needle",
                        help="search: landscapes, comma-separated (table, fitted, flat, needle)")
    parser.add_argument("--flat-margin", dest="flat_margin", type=float, default=None,
                        help="search: the gain (score points) below which the field is called flat "
                             "(default: the config's search.flat_margin)")
    parser.add_argument("--workers", type=int, default=None, help="search: worker processes (default: all cores)")
    parser.add_argument("--out", default=None, help="search: also write the cells to this CSV")
    parser.add_argument("--cyborg-episodes", dest="cyborg_episodes", type=int, default=20,
                        help="learn: CybORG episodes confirming each final policy (0: skip)")


def run(args: argparse.Namespace) -> int:
    """Run the chosen benchmark."""
    from wrl.errors import UsageError

    if args.steps < 2:
        raise UsageError(f"--steps {args.steps}: must be at least 2")
    if args.what not in BENCHES:
        raise UsageError(f"bench {args.what!r} is not available in this build")
    return BENCHES[args.what](args)


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


BENCHES["sim"] = bench_sim


def bench_search(args: argparse.Namespace) -> int:
    """Search strategies replayed on the exhaustive table and on landscapes fitted to it: P(top 5),
    regret and calibration of each, and the default design against random search."""
    import pandas as pd

    from wrl.errors import UsageError
    from wrl.run.config import load_search_section
    from wrl.search.benchmark import default_workers, run_bench, summary_lines

    if not Path(args.table).is_file():
        raise UsageError(f"--table {args.table}: no such file; make one with dev/exhaustive.py --table")
    table = pd.read_parquet(args.table)
    search = load_search_section(args.config)
    options = {"design_runs": search["design_runs"], "replicate_rounds": search["replicate_rounds"],
               **_parse_overrides(args.set)}
    budgets = args.budgets or [(search["rounds"], search["batch"])]
    margin = search["flat_margin"] if args.flat_margin is None else args.flat_margin
    print(f"position design: {options}; flat margin {margin:g}; budgets "
          + ", ".join(f"{r}x{b}" for r, b in budgets))
    try:
        results = run_bench(table, args.landscapes.split(","), args.strategies.split(","), budgets,
                            args.replays, margin, options, args.workers or default_workers())
    except ValueError as err:
        raise UsageError(str(err)) from err
    cols = ["landscape", "strategy", "runs", "p_top5", "regret", "p_best_claimed", "p_best_hit", "calibration",
            "coverage", "set_size", "said_flat"]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(results[cols].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    if args.out:
        from wrl.atomic import atomic_write

        atomic_write(args.out, lambda tmp: results.to_csv(tmp, index=False))
    for line in summary_lines(results):
        print(line)
    return 0


BENCHES["search"] = bench_search
