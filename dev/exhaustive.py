"""Benchmark (not a test): train workflows at the pipeline's per-candidate budget, at several
seeds, and say whether they differ beyond the seed-to-seed noise.

Usage: .venv/bin/python dev/exhaustive.py [--config config.yaml] [--out results/exhaustive]
       [--seeds 2 (seeds train.seed + 0..K-1)] [--init-policy results/base/policy.pt] [--workflows 0,7,...|--every 5]
       [--compare results/report/best_workflows.csv ...] [--replay-seeds 5]
Writes OUT/wf_{index}_s{seed}/ (as a pipeline candidate, fine-tuned from the base policy
like the pipeline's candidates when --init-policy is given), OUT/runs.csv (one row per
run), OUT/ranking.csv (per workflow: mean over seeds, best first),
OUT/position_effects.csv (``wrl.search.ranking.position_effects``) and prints the
between- and within-workflow variance and the intraclass correlation
(``wrl.search.ranking``). Rerunning skips finished runs. Each --compare file (a pipeline run's
best_workflows.csv) prints where that pipeline's best workflow ranks. --replay-seeds S
replays the pipeline's search at search seeds 0..S-1 with the runs as its oracle
(``wrl.search.ranking.replay_search``: a candidate's score does not depend on the search seed) and prints where each replay's best ranks; OUT/replays.csv.
"""
import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from wrl.atomic import atomic_write
from wrl.run.config import load_config
from wrl.search.ranking import position_effects, rank_workflows, replay_search, variance_components
from wrl.run.train import train_candidate
from wrl.workflow import ALL_WORKFLOWS, NUM_WORKFLOWS, format_workflow


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
    parser.add_argument("--replay-seeds", type=int, default=0, help="replay the search at this many search seeds")
    args = parser.parse_args()
    config = load_config(args.config)
    train_cfg = config["train"]
    rows = []
    for i in _indices(args):
        for seed in range(train_cfg["seed"], train_cfg["seed"] + args.seeds):  # as the pipeline's repeats
            score = train_candidate(train_cfg | {"seed": seed}, format_workflow(ALL_WORKFLOWS[i]),
                                    Path(args.out) / f"wf_{i}_s{seed}", init_policy=args.init_policy,
                                    threads=args.threads)
            rows.append({"index": i, "workflow": score["workflow"], "seed": seed, "score": score["score"],
                         "score_se": score["score_se"], "compliance": score["compliance"],
                         "wall_s": score["wall_s"]})
            print(f"{i:3d} s{seed} {score['workflow']:45s} {score['score']:9.2f}", flush=True)
    runs = pd.DataFrame(rows)
    ranking = rank_workflows(runs)
    atomic_write(Path(args.out) / "runs.csv", lambda tmp: runs.to_csv(tmp, index=False))
    atomic_write(Path(args.out) / "ranking.csv", lambda tmp: ranking.to_csv(tmp, index=False))
    print(ranking.head(10).to_string(index=False))
    if args.seeds >= 2:
        v = variance_components(runs)
        print(f"variance: between {v['var_between']:.2f}, within {v['var_within']:.2f} "
              f"(seed sd {v['seed_sd']:.2f}); ICC(1) = {v['icc']:.3f} over {v['workflows']} workflows x {v['k']} seeds; "
              f"F = {v['f_stat']:.2f}, p = {v['p_value']:.2g}")
    effects = position_effects(runs)
    atomic_write(Path(args.out) / "position_effects.csv", lambda tmp: effects.to_csv(tmp, index=False))
    print("mean score by each unit type's position (1 = highest priority):")
    print(effects.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    for path in args.compare:
        best = pd.read_csv(path).iloc[0]["workflow"]
        hit = ranking[ranking["workflow"] == best]
        where = f"ranks {int(hit['rank'].iloc[0])} of {len(ranking)}" if len(hit) else "was not among the ranked"
        print(f"summary: {path}: the pipeline's best workflow {best} {where}")
    if args.replay_seeds:
        _replay(runs, ranking, config, args.replay_seeds, Path(args.out) / "replays.csv")


def _replay(runs: pd.DataFrame, ranking: pd.DataFrame, config: dict, seeds: int, out: Path) -> None:
    """Replay the search at search seeds 0..seeds-1; print and save where each best ranks."""
    rank_of = dict(zip(ranking["workflow"], ranking["rank"]))
    rows = []
    for seed in range(seeds):
        picks = replay_search(runs, config["search"] | {"seed": seed}, config["train"]["seed"])
        best = picks.sort_values(["score", "round", "cand"], ascending=[False, True, True]).iloc[0]
        workflow = format_workflow(ALL_WORKFLOWS[int(best["index"])])
        rows.append({"search_seed": seed, "best": workflow, "score": best["score"],
                     "exhaustive_rank": rank_of[workflow], "evaluated": len(picks)})
        print(f"replay search.seed={seed}: best {workflow} ({best['score']:.2f}) ranks "
              f"{rank_of[workflow]} of {len(ranking)} by the mean over seeds")
    table = pd.DataFrame(rows)
    atomic_write(out, lambda tmp: table.to_csv(tmp, index=False))
    first = runs[runs["seed"] == config["train"]["seed"]]  # random search: as many workflows, scored alike
    rng, evaluated = np.random.default_rng(0), int(table["evaluated"].iloc[0])
    draws = [first.iloc[rng.choice(len(first), evaluated, replace=False)] for _ in range(2000)]
    random_ranks = np.array([rank_of[d.sort_values("score", ascending=False).iloc[0]["workflow"]] for d in draws])
    print(f"summary: random search over {evaluated} workflows (2000 draws): best ranks median "
          f"{np.median(random_ranks):g}, P(rank <= 5) = {np.mean(random_ranks <= 5):.2f}, "
          f"P(rank <= 15) = {np.mean(random_ranks <= 15):.2f}")
    print(f"summary: over {seeds} search seeds the pipeline's best ranks {sorted(table['exhaustive_rank'])} "
          f"of {len(ranking)} (median {table['exhaustive_rank'].median():g})")


if __name__ == "__main__":
    main()
