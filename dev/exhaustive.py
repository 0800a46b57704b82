"""Benchmark (not a test): train all 120 workflows at the pipeline's per-candidate budget.

Usage: .venv/bin/python dev/exhaustive.py [--config config.yaml] [--out results/exhaustive]
Writes OUT/wf_{index}/ (as a pipeline candidate) and OUT/ranking.csv (every workflow,
best score first). Rerunning skips finished workflows. With ``--compare BEST_CSV`` it
prints where the pipeline's best workflow (first row of results/report/best_workflows.csv)
ranks among the 120.
"""
import argparse
from pathlib import Path

import pandas as pd

from wrl.atomic import atomic_write
from wrl.config import load_config
from wrl.train import train_candidate
from wrl.workflow import ALL_WORKFLOWS, format_workflow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--out", default="results/exhaustive")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compare", default=None, help="the pipeline's best_workflows.csv")
    args = parser.parse_args()
    train_cfg = load_config(args.config)["train"]
    rows = []
    for i, wf in enumerate(ALL_WORKFLOWS):
        score = train_candidate(train_cfg, format_workflow(wf), Path(args.out) / f"wf_{i}",
                                threads=args.threads)
        rows.append({"index": i, "workflow": score["workflow"], "score": score["score"],
                     "compliance": score["compliance"]})
        print(f"{i:3d} {score['workflow']:45s} {score['score']:9.2f}", flush=True)
    ranking = pd.DataFrame(rows).sort_values("score", ascending=False, ignore_index=True)
    ranking["rank"] = range(1, len(ranking) + 1)
    atomic_write(Path(args.out) / "ranking.csv", lambda tmp: ranking.to_csv(tmp, index=False))
    print(ranking.head(10).to_string(index=False))
    if args.compare:
        best = pd.read_csv(args.compare).iloc[0]["workflow"]
        row = ranking[ranking["workflow"] == best].iloc[0]
        print(f"summary: the pipeline's best workflow {best} ranks {row['rank']} of 120 "
              f"(exhaustive score {row['score']:.2f}; exhaustive best {ranking['score'][0]:.2f})")


if __name__ == "__main__":
    main()
