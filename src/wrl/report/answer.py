"""The report's first page: the answer of a search, with how sure it is, up front.

``write_answer`` writes ``answer.rst``: the best workflow and its training score ± SE,
the GP's posterior of it against the runner-up (and the probability that it is truly
better), the evaluation table (best policy, plain PPO and the baselines) and then the
workflow description of ``workflow/report/workflow.rst``. The Snakefile makes it the
global description of ``snakemake --report`` once it exists.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from wrl.atomic import atomic_write
from wrl.eval.table import rst_table
from wrl.search.gp import posterior, prob_better
from wrl.search.rounds import read_scores
from wrl.report.figures import short_label


def answer_text(score_paths: list[str | Path], search_cfg: dict, leaderboard_csv: str | Path,
                red: str, backend: str) -> str:
    """The answer section (RST) for the candidates' ``score.json`` files and the evaluation summary.

    search_cfg: the config's search section (noise_sd, seed); leaderboard_csv: the
    evaluate rule's ``leaderboard.csv`` (``wrl.eval.table.summarise``); red: the training red
    spec; backend: where the evaluation ran.
    """
    obs = read_scores(score_paths)
    good = obs[np.isfinite(obs["score"])].sort_values("score", ascending=False, ignore_index=True)
    if good.empty:
        raise ValueError("answer: no candidate has a finite score; check the train logs")
    args = (good["index"].to_numpy(), good["score"].to_numpy(), good["score_se"].to_numpy(), search_cfg["noise_sd"])
    post = posterior(*args, seed=int(search_cfg["seed"])).set_index("index")
    best = good.iloc[0]
    label = f"{best['workflow']} ({short_label(best['workflow'])})"
    lines = ["The answer", "==========", "",
             f"**Best workflow: {label}**, training score **{best['score']:.1f} ± {best['score_se']:.1f}** "
             f"(mean env return of the last 3 episodes of every env, ± SE, red {red}), "
             f"compliance {best['compliance']:.2f}.", ""]
    runner = good[good["index"] != best["index"]].head(1)
    if runner.empty:
        lines += ["Only one workflow was evaluated: the search cannot say how sure it is.", ""]
    else:
        r = runner.iloc[0]
        p = prob_better(*args, int(best["index"]), int(r["index"]), seed=int(search_cfg["seed"]))
        b_post, r_post = post.loc[int(best["index"])], post.loc[int(r["index"])]
        lines += [f"How sure the search is: the GP posterior of the best is {b_post['mean']:.1f} ± "
                  f"{b_post['sd']:.1f}, of the runner-up {r['workflow']} ({short_label(r['workflow'])}, "
                  f"score {r['score']:.1f} ± {r['score_se']:.1f}) {r_post['mean']:.1f} ± {r_post['sd']:.1f}; "
                  f"P(best is truly better than the runner-up) = **{p:.2f}**. "
                  f"{len(good)} candidates over {good['round'].nunique()} rounds; GP noise sd floor "
                  f"{search_cfg['noise_sd']:g}.", ""]
    lines += [f"Evaluation on {backend} (greedy; mean ± 95% CI per red agent and episode length; "
              "total: sum of the cell means):", "", rst_table(pd.read_csv(leaderboard_csv), published=backend == "cyborg"), ""]
    return "\n".join(lines)


def write_answer(score_paths: list[str | Path], search_cfg: dict, leaderboard_csv: str | Path,
                 template: str | Path, red: str, backend: str, out: str | Path) -> Path:
    """Write ``out`` (RST): ``answer_text`` then the workflow description ``template``, atomically."""
    text = answer_text(score_paths, search_cfg, leaderboard_csv, red, backend) + "\n----\n\n"
    text += Path(template).read_text()
    return atomic_write(out, lambda tmp: tmp.write_text(text))
