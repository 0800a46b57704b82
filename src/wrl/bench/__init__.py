"""``wrl bench sim|pool|train|learn|search``: throughput, time-to-threshold and search tables.

Every benchmark measures its baseline in the same run, so the ratios hold on whatever
machine runs them. Timings are printed, never asserted. One module per kind:
``throughput`` (sim, pool, train), ``learn``, ``search``; ``common`` holds the parsers
and the table printer.
"""
from __future__ import annotations

import argparse

from wrl.bench.common import parse_budgets, parse_ints
from wrl.bench.learn import bench_learn
from wrl.bench.search import bench_search
from wrl.bench.throughput import bench_pool, bench_sim, bench_train

#: benchmark name -> function(args) -> exit status
BENCHES = {"sim": bench_sim, "pool": bench_pool, "train": bench_train, "learn": bench_learn,
           "search": bench_search}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``wrl bench``."""
    parser.add_argument("what", choices=["sim", "pool", "train", "learn", "search"], help="which benchmark")
    parser.add_argument("--steps", type=int, default=60,
                        help="sim/pool: vector steps per measurement; train: thousands of env "
                             "steps per N (default 60)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="train/learn: where the policy and the update run (default cpu)")
    parser.add_argument("--envs", type=parse_ints, default=[256, 1024, 4096],
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
    parser.add_argument("--table", default="docs/data/exhaustive_heldout.parquet",
                        help="search: the runs of dev/exhaustive.py (every workflow at the same k seeds)")
    parser.add_argument("--truth", default="held-out", choices=("held-out", "all"),
                        help="search: the table's truth: the mean of the seeds a search may not draw "
                             "(held-out, the default: it draws from half of them) or of all of them")
    parser.add_argument("--replays", type=int, default=200, help="search: replays per cell (default 200)")
    parser.add_argument("--budgets", type=parse_budgets, default=None,
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
