"""``wrl bench search``: search strategies replayed at equal numbers of training runs.

Each cell (landscape, strategy, rounds x batch) replays a strategy ``replays`` times
(``wrl.search.replay``), replay r against oracle draw r for every strategy. Landscapes: the
table of real runs (``TableOracle``) and the synthetic ones fitted to it
(``synthetic_landscapes``). Random search also runs at twice each budget: the default
design's goal is random search's P(top 5) at twice the runs. Cells run in parallel worker
processes, one BLAS thread each.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from wrl.search.landscapes import NEEDLE, TableOracle, fit_landscape, synthetic_landscapes
from wrl.search.replay import STRATEGIES, judge, replay

LANDSCAPES = ("table", "fitted", "flat", "needle")


def oracle_factories(table: pd.DataFrame, truth: str = "held-out") -> tuple[dict, dict]:
    """(name -> function(rng) -> oracle, name -> (noise sd, seed effect sd) the models are
    given) for ``LANDSCAPES``; truth: the table oracle's (``TableOracle``)."""
    fit = fit_landscape(table)
    factories = {"table": lambda rng: TableOracle(table, rng, truth), **synthetic_landscapes(fit)}
    measured = (fit["seed_sd"], fit["seed_effect_sd"])
    noise = {"table": measured, "fitted": measured, "flat": measured, "needle": (NEEDLE["seed_sd"], 0.0)}
    return factories, noise


def _cell(job: tuple) -> dict:
    """One (landscape, strategy, rounds, batch) cell: ``judge`` over its replays."""
    table, truth, name, strategy, rounds, batch, replays, flat_margin, options = job
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        factories, noise = oracle_factories(table, truth)
        noise_sd, seed_effect_sd = noise[name]
        outcomes, truths = [], []
        for r in range(replays):
            oracle = factories[name](np.random.default_rng(r))
            outcomes.append(replay(strategy, oracle, rounds, batch, noise_sd, r, flat_margin, options,
                                   seed_effect_sd))
            truths.append(oracle.truth)
    return {"landscape": name, "strategy": strategy, "rounds": rounds, "batch": batch, "runs": rounds * batch,
            **judge(outcomes, truths)}


def run_bench(table: pd.DataFrame, landscapes: list[str], strategies: list[str], budgets: list[tuple[int, int]],
              replays: int, flat_margin: float, options: dict | None = None, workers: int = 1,
              truth: str = "held-out") -> pd.DataFrame:
    """Every cell, random search also at twice each budget; one row per cell (``judge``'s figures).
    truth: how the table landscape's truth is made (``wrl.search.landscapes.TRUTHS``)."""
    for name in landscapes:
        if name not in LANDSCAPES:
            raise ValueError(f"bench search: unknown landscape {name!r}; one of {', '.join(LANDSCAPES)}")
    for name in strategies:
        if name not in STRATEGIES:
            raise ValueError(f"bench search: unknown strategy {name!r}; one of {', '.join(STRATEGIES)}")
    jobs = []
    for name in landscapes:
        for rounds, batch in budgets:
            jobs += [(table, truth, name, s, rounds, batch, replays, flat_margin, options) for s in strategies]
            if "random" in strategies:
                jobs.append((table, truth, name, "random", 2 * rounds, batch, replays, flat_margin, options))
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            rows = list(pool.map(_cell, jobs))
    else:
        rows = [_cell(job) for job in jobs]
    return pd.DataFrame(rows).drop_duplicates(["landscape", "strategy", "rounds", "batch"], ignore_index=True)


def summary_lines(results: pd.DataFrame, default: str = "position") -> list[str]:
    """Per landscape and budget: the default design against random search (the goal's three checks)."""
    lines = []
    for (name, runs), cell in results.groupby(["landscape", "runs"], sort=False):
        ours = cell[cell["strategy"] == default]
        rand = cell[cell["strategy"] == "random"]
        twice = results[(results["landscape"] == name) & (results["strategy"] == "random")
                        & (results["runs"] == 2 * runs)]
        if ours.empty or rand.empty:
            continue
        o, r = ours.iloc[0], rand.iloc[0]
        if name == "flat":
            lines.append(f"summary: flat, {runs} runs: {default} says the field is flat in {o['said_flat']:.0%} "
                         f"of replays")
            continue
        ratio = o["regret"] / r["regret"] if r["regret"] > 0 else float("nan")
        twice_top5 = f"{twice.iloc[0]['p_top5']:.2f}" if len(twice) else "n/a"
        lines.append(f"summary: {name}, {runs} runs: regret {o['regret']:.3f} vs random {r['regret']:.3f} "
                     f"(ratio {ratio:.2f}, goal <= 0.5); gain over an average workflow {o['gain']:.3f} vs random "
                     f"{r['gain']:.3f}; P(top 5) {o['p_top5']:.2f} vs random at {2 * runs} runs "
                     f"{twice_top5}; claimed P(best) {o['p_best_claimed']:.2f} vs hit {o['p_best_hit']:.2f} "
                     f"(worst bin {o['calibration']:.2f}); 90% set coverage {o['coverage']:.2f}, "
                     f"{o['set_size']:.0f} workflows; says flat {o['said_flat']:.0%}")
    return lines


def default_workers() -> int:
    """Worker processes: the cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
