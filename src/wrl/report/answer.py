"""The report's first page: the answer of a search, and how sure it is, claiming no more than the data.

``write_answer`` writes ``answer.rst`` from ``wrl.search.verdict``: the best workflow by
posterior mean and P(it is the best); whether the field is flat (one sentence); the credible
top set; the per-red breakdown; the position effects that set the top set apart; what
following the workflow costs against plain PPO; the evaluation table; then the workflow
description of ``workflow/report/workflow.rst``. The Snakefile makes it the global
description of ``snakemake --report`` once it exists.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from wrl.atomic import atomic_write
from wrl.env.red import RED_AGENTS
from wrl.eval.table import rst_table
from wrl.report.figures import short_label
from wrl.run.config import validate_train_config
from wrl.search.ranking import position_effects
from wrl.search.rounds import read_scores
from wrl.search.verdict import CREDIBLE_LEVEL, Verdict, verdict
from wrl.workflow import format_workflow, workflow_from_index

#: credible-set members listed by name (the rest are counted)
LISTED = 8


def _label(index: int) -> str:
    w = format_workflow(workflow_from_index(index))
    return f"{w} ({short_label(w)})"


def score_definition(train: dict) -> str:
    """What a candidate's score is under the ``train`` config section (``train.score``), in words."""
    cfg = validate_train_config(train)
    if cfg["score"]["by"] == "heldout":
        return (f"the kept policy's greedy return on {cfg['score']['episodes']} held-out numba episodes per red, "
                f"weighted by the mixture {cfg['red']}")
    return f"the mean env return of the last 3 training episodes of every env, red {cfg['red']}"


def _headline(v: Verdict, good: pd.DataFrame, train: dict) -> list[str]:
    runs = good[good["index"] == v.answer]
    row = v.table.loc[v.answer]
    lines = [f"**Best workflow: {_label(v.answer)}**: posterior mean score **{row['mean']:.2f} ± "
             f"{row['sd']:.2f}** from its {len(runs)} run(s) (a score is {score_definition(train)}; "
             f"its runs scored {', '.join(f'{s:.2f}' for s in runs['score'])}), "
             f"compliance {runs['compliance'].mean():.2f}. "
             f"P(it is the best of the 120) = **{v.p_best:.2f}**.", ""]
    if v.flat:
        lines += [f"**The field is flat:** with probability {v.p_flat:.2f} the best workflow beats an average one "
                  f"by less than {v.flat_margin:g} score points, so these {len(good)} runs cannot single out a "
                  f"best workflow; any of the credible set is as good an answer.", ""]
    else:
        lines += [f"The field is not flat: with probability {1 - v.p_flat:.2f} the best workflow beats an "
                  f"average one by at least {v.flat_margin:g} score points.", ""]
    return lines


def _credible(v: Verdict) -> list[str]:
    members = [f"{_label(i)}: P(best) {v.table.at[i, 'p_best']:.2f}, {int(v.table.at[i, 'n_obs'])} run(s)"
               for i in v.credible[:LISTED]]
    more = len(v.credible) - LISTED
    return [f"Credible top set ({len(v.credible)} of 120 workflows; it holds the best with posterior "
            f"probability >= {CREDIBLE_LEVEL:g}):", ""] + [f"- {m}" for m in members] + (
        [f"- and {more} more (``results/search/final_posterior.parquet``)"] if more > 0 else []) + [""]


def _per_red(v: Verdict, good: pd.DataFrame) -> list[str]:
    reds = [r for r in RED_AGENTS if good[f"score_{r}"].notna().any()]
    mine = good[good["index"] == v.answer]
    top = good[good["index"].isin(v.credible)]
    header = "   red, best workflow's runs, credible set's runs, all runs"
    rows = [f'   "{r}", "{mine[f"score_{r}"].mean():.2f}", "{top[f"score_{r}"].mean():.2f}", '
            f'"{good[f"score_{r}"].mean():.2f}"' for r in reds]
    return ["Per red (the score against each red of the mixture, mean over runs):", "",
            ".. csv-table::", "   :header-rows: 1", "", header, *rows, ""]


def _positions(v: Verdict, good: pd.DataFrame, noise_sd: float, seed_effect_sd: float) -> list[str]:
    """The position effects of the runs; a run's sd counts its seed's shared offset too,
    since the runs at one place need not share their seeds with those at another."""
    effects = position_effects(good)
    top = effects.iloc[0]
    means = {p: top[f"pos{p}"] for p in range(1, 6) if np.isfinite(top[f"pos{p}"])}
    hi, lo = max(means, key=means.get), min(means, key=means.get)
    places = pd.Series([format_workflow(workflow_from_index(i)).split(",").index(top["unit_type"]) + 1
                        for i in good["index"]])
    n_hi, n_lo = int((places == hi).sum()), int((places == lo).sum())
    run_sd = float(np.hypot(noise_sd, seed_effect_sd))
    se = run_sd * np.sqrt(1 / n_hi + 1 / n_lo)
    ends = [format_workflow(workflow_from_index(i)).split(",")[-2:] for i in v.credible]
    last = pd.Series([e[-1] for e in ends]).value_counts()
    pairs = pd.Series([",".join(e) for e in ends]).value_counts().head(3)
    return [f"Position effects (mean score of the {len(good)} runs by where each unit type sits, 1 = first): "
            f"the place of **{top['unit_type']}** matters most, {means[hi]:.2f} at position {hi} ({n_hi} runs) "
            f"against {means[lo]:.2f} at position {lo} ({n_lo} runs): a difference of {top['spread']:.2f} ± "
            f"{se:.2f} (noise {run_sd:.3g} per run, its seed's offset included; the largest of 5 types x 10 "
            f"pairs of places, so "
            f"{'within' if top['spread'] < 3 * se else 'beyond'} what noise alone gives). The credible set "
            f"puts last: " + ", ".join(f"{t} ({n})" for t, n in last.items()) + "; its commonest last two: "
            + ", ".join(f"{p} ({n})" for p, n in pairs.items()) + f" (of {len(ends)}).", ""]


def _workflow_cost(v: Verdict, good: pd.DataFrame, plain_score: str | Path | None,
                   summary: pd.DataFrame) -> list[str]:
    lines = []
    if plain_score is not None and Path(plain_score).exists():
        plain = json.loads(Path(plain_score).read_text())
        mine = v.table.at[v.answer, "mean"]
        lines.append(f"What following the workflow costs: plain PPO (no workflow input, no alignment reward, the "
                     f"same budget) trained to {plain['score']:.2f} ± {plain['score_se']:.2f}, against "
                     f"{mine:.2f} for the best workflow (difference {mine - plain['score']:+.2f}).")
    best = summary[summary["policy"].str.startswith("best:")]
    plain_eval = summary[summary["policy"] == "plain_ppo"]
    if len(best) and len(plain_eval):
        cells = best.merge(plain_eval, on=["red", "steps"], suffixes=("", "_plain"))
        diff = (cells["mean"] - cells["mean_plain"]).sum()
        lines.append(f"In the evaluation below, the best policy's total minus plain PPO's over the same "
                     f"{len(cells)} cell(s): {diff:+.2f}.")
    return lines + [""] if lines else []


def answer_text(score_paths: list[str | Path], search_cfg: dict, leaderboard_csv: str | Path,
                train: dict, backend: str, plain_score: str | Path | None = None) -> str:
    """The answer section (RST) for the candidates' ``score.json`` files and the evaluation summary.

    search_cfg: the config's search section (noise_sd, flat_margin, seed); leaderboard_csv:
    the evaluate rule's ``leaderboard.csv`` (``wrl.eval.table.summarise``); train: the
    config's train section (the red mixture, how a score is made); backend: where the
    evaluation ran; plain_score: the plain-PPO baseline's ``score.json`` (None: not compared
    in training).
    """
    obs = read_scores(score_paths)
    good = obs[np.isfinite(obs["score"])]
    v = verdict(good, search_cfg)
    summary = pd.read_csv(leaderboard_csv)
    lines = ["The answer", "==========", ""]
    lines += _headline(v, good, train)
    lines += _credible(v)
    lines += _per_red(v, good)
    lines += _positions(v, good, float(search_cfg["noise_sd"]), float(search_cfg.get("seed_effect_sd", 0.0)))
    lines += _workflow_cost(v, good, plain_score, summary)
    lines += [f"How the search ran: {len(good)} runs of {good['index'].nunique()} workflows over "
              f"{good['round'].nunique()} rounds ({search_cfg.get('method', 'gp_ucb')} design); the answer is the "
              f"evaluated workflow with the best posterior mean of the position model (noise sd "
              f"{search_cfg['noise_sd']:g} per run and a shared offset of sd "
              f"{search_cfg.get('seed_effect_sd', 0.0):g} per training seed, both given), never the best single "
              f"run.", ""]
    lines += [f"Evaluation on {backend} (greedy; mean ± 95% CI per red agent and episode length; "
              "total: sum of the cell means):", "", rst_table(summary, published=backend == "cyborg"), ""]
    return "\n".join(lines)


def write_answer(score_paths: list[str | Path], search_cfg: dict, leaderboard_csv: str | Path,
                 template: str | Path, train: dict, backend: str, out: str | Path,
                 plain_score: str | Path | None = None) -> Path:
    """Write ``out`` (RST): ``answer_text`` then the workflow description ``template``, atomically."""
    text = answer_text(score_paths, search_cfg, leaderboard_csv, train, backend, plain_score) + "\n----\n\n"
    text += Path(template).read_text()
    return atomic_write(out, lambda tmp: tmp.write_text(text))
