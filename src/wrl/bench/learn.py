"""``wrl bench learn``: training seconds to a greedy mixed-red return of -25, -20 and -17."""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import torch

from wrl.bench.common import parse_overrides, print_table


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
    (``wrl.run.heldout.heldout_returns``, ``eval_episodes`` per red of the mixture; not counted
    in the training time). Returns setup_s (building the run: pool, JIT cache, model), per
    threshold x the training seconds and env steps at the first check whose mixed-red
    return reaches x (``greedy_s{x}``, ``greedy_steps{x}``; NaN when not reached), the
    best check (``best``, its per-red returns ``best_<red>`` and its ``best_s``), the best
    policy's path (``policy``), final wall_s and env steps, and env-steps/s.
    """
    from wrl.rl.model import save_policy
    from wrl.run.heldout import heldout_returns
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
    from wrl.run.config import validate_train_config
    from wrl.run.train import set_threads

    set_threads(args.threads)
    common = {**load_train_section(None), **parse_overrides(args.set)}
    variants = [("defaults", {})] + [(v, parse_overrides(v.split(","))) for v in args.variant]
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
