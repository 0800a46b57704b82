"""``wrl bench search``: the search strategies replayed on the exhaustive table (``wrl.search.benchmark``)."""
from __future__ import annotations

import argparse
from pathlib import Path

from wrl.bench.common import parse_overrides


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
               "max_repeats": search["max_repeats"],
               **parse_overrides(args.set)}
    budgets = args.budgets or [(search["rounds"], search["batch"])]
    margin = search["flat_margin"] if args.flat_margin is None else args.flat_margin
    print(f"position design: {options}; flat margin {margin:g}; table truth {args.truth}; budgets "
          + ", ".join(f"{r}x{b}" for r, b in budgets))
    try:
        results = run_bench(table, args.landscapes.split(","), args.strategies.split(","), budgets,
                            args.replays, margin, options, args.workers or default_workers(), args.truth)
    except ValueError as err:
        raise UsageError(str(err)) from err
    cols = ["landscape", "strategy", "runs", "p_top5", "regret", "gain", "p_best_claimed", "p_best_hit", "calibration",
            "coverage", "set_size", "said_flat"]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(results[cols].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    if args.out:
        from wrl.atomic import atomic_write

        atomic_write(args.out, lambda tmp: results.to_csv(tmp, index=False))
    for line in summary_lines(results):
        print(line)
    return 0
