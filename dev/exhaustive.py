"""Benchmark (not a test): train workflows at the pipeline's per-candidate budget, at several
seeds, and say whether they differ beyond the seed-to-seed noise.

Usage: .venv/bin/python dev/exhaustive.py [--config config.yaml] [--out results/exhaustive]
       [--seeds 2 (seeds train.seed + 0..K-1)] [--init-policy results/base/policy.pt] [--workflows 0,7,...|--every 5]
       [--compare results/report/best_workflows.csv ...] [--shard 0/2]
       [--table docs/data/exhaustive.parquet]
Writes OUT/wf_{index}_s{seed}/ (as a pipeline candidate, fine-tuned from the base policy
like the pipeline's candidates when --init-policy is given), OUT/runs.csv (one row per
run, with the per-red scores, score_by and the training score; also to --table as Parquet), OUT/ranking.csv (per workflow: mean over seeds, best first),
OUT/position_effects.csv (``wrl.search.ranking.position_effects``) and prints the
between- and within-workflow variance and the intraclass correlation
(``wrl.search.ranking``). Rerunning skips finished runs. Each --compare file (a pipeline run's
best_workflows.csv) prints where that pipeline's best workflow ranks. How searches fare on
the table: ``wrl bench search --table TABLE``.
--shard K/N trains every N-th run from the K-th only (N processes at 1 thread each fill N
cores); a last run without --shard then gathers every finished run into the tables.
"""
import argparse
from pathlib import Path

import pandas as pd

from wrl.atomic import atomic_write
from wrl.run.config import load_config
from wrl.search.ranking import crossed_components, position_effects, rank_workflows, variance_components
from wrl.run.train import train_candidate
from wrl.workflow import ALL_WORKFLOWS, NUM_WORKFLOWS, format_workflow


def table_row(index: int, seed: int, score: dict) -> dict:
    """One run's row of the table from its ``score.json`` contents: the score, its standard
    error and per-red scores (return per episode), compliance, wall time (s), how it was
    scored (``score_by``) and the training score (the score itself for a training-scored run)."""
    return {"index": index, "workflow": score["workflow"], "seed": seed, "score": score["score"],
            "score_se": score["score_se"], **{f"score_{red}": s for red, s in score["scores_by_red"].items()},
            "compliance": score["compliance"], "wall_s": score["wall_s"],
            "score_by": score.get("score_by", "training"),
            "training_score": score.get("training_score", score["score"]),
            "training_score_se": score.get("training_score_se", score["score_se"])}


def _indices(args) -> list[int]:
    if args.workflows:
        return [int(i) for i in args.workflows.split(",")]
    return list(range(0, NUM_WORKFLOWS, args.every))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--out", default="results/exhaustive")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=2, help="runs per workflow (seeds train.seed + 0..K-1)")
    parser.add_argument("--init-policy", default=None, help="policy.pt every run starts from (the base)")
    parser.add_argument("--workflows", default=None, help="comma-separated workflow indices (default: all)")
    parser.add_argument("--every", type=int, default=1, help="every n-th workflow (default 1: all 120)")
    parser.add_argument("--compare", nargs="*", default=[], help="pipeline best_workflows.csv files")
    parser.add_argument("--shard", default="0/1", help="K/N: train only runs K, K+N, K+2N, ... (no tables)")
    parser.add_argument("--table", default=None, help="also write the runs as this Parquet file")
    args = parser.parse_args()
    config = load_config(args.config)
    train_cfg = config["train"]
    shard, shards = (int(x) for x in args.shard.split("/"))
    keys = [(i, seed) for i in _indices(args)
            for seed in range(train_cfg["seed"], train_cfg["seed"] + args.seeds)]  # as the pipeline's repeats
    rows = []
    for n, (i, seed) in enumerate(keys):
        if n % shards == shard:
            score = train_candidate(train_cfg | {"seed": seed}, format_workflow(ALL_WORKFLOWS[i]),
                                    Path(args.out) / f"wf_{i}_s{seed}", init_policy=args.init_policy,
                                    threads=args.threads)
            rows.append(table_row(i, seed, score))
            print(f"{i:3d} s{seed} {score['workflow']:45s} {score['score']:9.2f}", flush=True)
    if shards > 1:
        return
    runs = pd.DataFrame(rows)
    ranking = rank_workflows(runs)
    atomic_write(Path(args.out) / "runs.csv", lambda tmp: runs.to_csv(tmp, index=False))
    atomic_write(Path(args.out) / "ranking.csv", lambda tmp: ranking.to_csv(tmp, index=False))
    if args.table:
        atomic_write(Path(args.table), lambda tmp: runs.to_parquet(tmp, index=False))
    print(ranking.head(10).to_string(index=False))
    if args.seeds >= 2:
        v = variance_components(runs)
        print(f"variance: between {v['var_between']:.2f}, within {v['var_within']:.2f} "
              f"(seed sd {v['seed_sd']:.2f}); ICC(1) = {v['icc']:.3f} over {v['workflows']} workflows x {v['k']} seeds; "
              f"F = {v['f_stat']:.2f}, p = {v['p_value']:.2g}")
        for name, column in (("score", "score"), ("training score", "training_score")):
            c = crossed_components(runs.drop(columns="score").rename(columns={column: "score"})
                                   if column != "score" else runs)
            print(f"workflow x seed, {name}: seed effect sd {c['sd_seed']:.3f} (F = {c['f_seed']:.1f}, "
                  f"p = {c['p_seed']:.2g}), residual sd {c['sd_residual']:.3f}; workflows F = {c['f_workflow']:.2f}, "
                  f"p = {c['p_workflow']:.2g}, true-mean sd {c['sd_between']:.3f} "
                  f"(95% upper bound {c['sd_between_upper']:.3f})")
    effects = position_effects(runs)
    atomic_write(Path(args.out) / "position_effects.csv", lambda tmp: effects.to_csv(tmp, index=False))
    print("mean score by each unit type's position (1 = highest priority):")
    print(effects.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    for path in args.compare:
        best = pd.read_csv(path).iloc[0]["workflow"]
        hit = ranking[ranking["workflow"] == best]
        where = f"ranks {int(hit['rank'].iloc[0])} of {len(ranking)}" if len(hit) else "was not among the ranked"
        print(f"summary: {path}: the pipeline's best workflow {best} {where}")


if __name__ == "__main__":
    main()
