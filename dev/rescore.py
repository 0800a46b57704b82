"""Re-score the finished runs of dev/exhaustive.py with another held-out score, without retraining.

Usage: .venv/bin/python dev/rescore.py --runs results/exhaustive --episodes 4000
       --table docs/data/exhaustive_heldout.parquet [--config config.yaml] [--shard 0/2]

Every run ``RUNS/wf_{index}_s{seed}/`` keeps its policy (``policy.pt``, the one its
held-out selection kept) and its ``score.json``. A run's held-out score is a function of
that policy and its seed alone (``wrl.run.heldout.heldout_score``), so scoring it here at
``--episodes`` per red gives what ``dev/exhaustive.py`` (or a pipeline candidate) gives
with ``train.score: {by: heldout, episodes: N}`` on this machine: the training is the
same. Each re-scored run is written to ``RUNS/wf_{index}_s{seed}/rescore_{N}.json``
(atomically; a rerun skips it); ``--shard K/N`` scores every N-th run only (N processes
at one thread each fill N cores); a last run without ``--shard`` gathers the table: the
score columns from the re-score, the training score and the rest from ``score.json``.
"""
import argparse
import json
import re
from pathlib import Path

import numba
import pandas as pd
import torch

from exhaustive import table_row  # dev/, the script's own directory
from wrl.atomic import atomic_write, write_json
from wrl.rl.model import load_policy
from wrl.run.config import load_config, validate_train_config
from wrl.run.heldout import heldout_score

RUN_NAME = re.compile(r"wf_(\d+)_s(\d+)$")


def _runs(root: Path) -> list[tuple[int, int, Path]]:
    """(index, seed, directory) of every finished run under ``root``, in (index, seed) order."""
    found = [(int(m[1]), int(m[2]), d) for d in root.iterdir()
             if (m := RUN_NAME.match(d.name)) and (d / "score.json").exists()]
    return sorted(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="results/exhaustive")
    parser.add_argument("--episodes", type=int, required=True, help="greedy episodes per red of the mixture")
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--table", default=None, help="write the re-scored runs as this Parquet file")
    parser.add_argument("--shard", default="0/1", help="K/N: score only runs K, K+N, ... (no table)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    numba.set_num_threads(1)  # one core per process: two shards at 2 numba threads each run 5x slower
    train = load_config(args.config)["train"]
    shard, shards = (int(x) for x in args.shard.split("/"))
    rows = []
    for n, (index, seed, run) in enumerate(_runs(Path(args.runs))):
        done = run / f"rescore_{args.episodes}.json"
        if n % shards != shard:
            continue
        if not done.exists():
            cfg = validate_train_config(train | {"seed": seed})
            write_json(done, heldout_score(load_policy(run / "policy.pt"), cfg, args.episodes))
        old, new = json.loads((run / "score.json").read_text()), json.loads(done.read_text())
        rows.append(table_row(index, seed, old | new) | {"score_episodes": args.episodes})
    if shards == 1 and args.table:
        table = pd.DataFrame(rows)
        atomic_write(Path(args.table), lambda tmp: table.to_parquet(tmp, index=False))
        print(f"{len(table)} runs re-scored at {args.episodes} episodes per red -> {args.table}")


if __name__ == "__main__":
    main()
