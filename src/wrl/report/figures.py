"""Results of a pipeline run: figures and tables of the search, and the final evaluation.

``make_report`` reads every candidate's ``score.json``/``episodes.parquet`` and the
posteriors saved by ``wrl.search.rounds.propose_round`` and writes PNG figures (matplotlib,
Agg), the table of the best workflows and the final posterior (after every round).
``evaluate_best`` evaluates the best candidate's policy and the baselines
(``wrl.eval.evaluate``) and writes the episodes and the leaderboard.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from wrl.atomic import atomic_write, clean_stale_temporaries  # noqa: E402
from wrl.eval.evaluate import evaluate_policy, leaderboard, write_results  # noqa: E402
from wrl.eval.table import summarise  # noqa: E402
from wrl.search.verdict import verdict  # noqa: E402
from wrl.search.rounds import read_scores  # noqa: E402

#: one letter per unit type for compact workflow labels (D>E>S>H>U)
_LETTER = {"defender": "D", "enterprise": "E", "op_server": "S", "op_host": "H", "user": "U"}
CURVE_POINTS = 50  #: points per learning curve (episodes are averaged in bins of steps)


def short_label(workflow: str) -> str:
    """``'defender,enterprise,...'`` -> ``'D>E>S>H>U'``."""
    return ">".join(_LETTER[t] for t in workflow.split(","))


def _save(fig, path: str | Path) -> None:
    """Write a figure atomically and close it."""
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight"))
    plt.close(fig)


def _write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a DataFrame as CSV or Parquet (by suffix) atomically."""
    if Path(path).suffix == ".csv":
        atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))
    else:
        atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


def learning_curve(episodes: pd.DataFrame, points: int = CURVE_POINTS) -> pd.DataFrame:
    """Mean env return of finished episodes in ``points`` equal bins of global_step.

    episodes: a candidate's ``episodes.parquet`` (columns global_step, env_return,
    compliance). Returns columns global_step (bin centre), env_return, compliance, n.
    """
    if episodes.empty:
        return pd.DataFrame(columns=["global_step", "env_return", "compliance", "n"])
    edges = np.linspace(0, episodes["global_step"].max() + 1, points + 1)
    bins = pd.cut(episodes["global_step"], edges, right=False, labels=False)
    curve = episodes.groupby(bins).agg(
        env_return=("env_return", "mean"), compliance=("compliance", "mean"), n=("env_return", "size")
    )
    curve["global_step"] = 0.5 * (edges[curve.index] + edges[curve.index + 1])
    return curve.reset_index(drop=True)[["global_step", "env_return", "compliance", "n"]]


def best_table(obs: pd.DataFrame, final: pd.DataFrame) -> pd.DataFrame:
    """Every candidate, best first: by its workflow's final posterior mean, then by its own score.

    obs: ``wrl.search.rounds.read_scores`` output; final: ``wrl.search.verdict.posterior_table``.
    The first row is the search's answer (``wrl.search.verdict``), with its best-scoring
    replicate's policy. Columns: rank, workflow, label, round, cand, score, compliance,
    posterior_mean, posterior_sd, p_best, policy (path of the candidate's policy.pt).
    """
    table = obs.assign(posterior_mean=final["mean"].to_numpy()[obs["index"]])
    table = table.sort_values(["posterior_mean", "score", "round", "cand"], ascending=[False, False, True, True],
                              na_position="last").reset_index(drop=True)
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(table) + 1),
            "workflow": table["workflow"],
            "label": table["workflow"].map(short_label),
            "round": table["round"],
            "cand": table["cand"],
            "score": table["score"],
            "compliance": table["compliance"],
            "posterior_mean": table["posterior_mean"],
            "posterior_sd": final["sd"].to_numpy()[table["index"]],
            "p_best": final["p_best"].to_numpy()[table["index"]],
            "policy": [str(Path(p).with_name("policy.pt")) for p in table["path"]],
        }
    )


def observations_table(obs: pd.DataFrame, posteriors: list[pd.DataFrame]) -> pd.DataFrame:
    """Every candidate with its scores and the posterior of its workflow when it was picked.

    obs: ``wrl.search.rounds.read_scores`` output; posteriors: the ``posterior_round_{r}`` tables.
    Columns: round, cand, workflow, score, score_se, compliance, score_{red} per red
    agent, pick_mean, pick_sd (NaN for a design pick; the first pick of a workflow picked
    twice in a round), and pick_ucb, pick_beta for gp_ucb rounds, policy (path of the
    candidate's policy.pt).
    """
    picks = pd.concat(posteriors, ignore_index=True).query("pick >= 0")
    picks = picks.rename(columns={"pick": "cand", "mean": "pick_mean", "sd": "pick_sd", "ucb": "pick_ucb",
                                  "beta": "pick_beta"})
    keep = ["round", "cand", "pick_mean", "pick_sd"] + [c for c in ("pick_ucb", "pick_beta") if c in picks]
    table = obs.merge(picks[keep], on=["round", "cand"], how="left")
    table["policy"] = [str(Path(p).with_name("policy.pt")) for p in table["path"]]
    return table.drop(columns=["index", "path"])


def plot_learning_curves(obs: pd.DataFrame, path: str | Path) -> None:
    """One env-return curve per candidate (colour = round) over env steps."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    cmap = plt.get_cmap("viridis", max(int(obs["round"].max()) + 1, 2))
    for row in obs.itertuples():
        curve = learning_curve(pd.read_parquet(Path(row.path).with_name("episodes.parquet")))
        ax.plot(curve["global_step"], curve["env_return"], color=cmap(row.round), lw=1.2,
                label=f"r{row.round} c{row.cand} {short_label(row.workflow)}")
    ax.set_xlabel("env steps (all envs)")
    ax.set_ylabel("mean env return per episode")
    ax.set_title("Learning curves (colour: round)")
    ax.legend(fontsize=6, ncol=2, loc="lower right")
    _save(fig, path)


def plot_posteriors(posteriors: list[pd.DataFrame], final: pd.DataFrame, obs: pd.DataFrame,
                    path: str | Path) -> None:
    """Posterior mean +- sd over all 120 workflows, one panel per round plus the final one.

    Workflows are sorted by the final posterior mean; dots are observed scores, dashed
    lines the round's picks.
    """
    order = np.argsort(-final["mean"].to_numpy(), kind="stable")
    x = np.arange(len(order))
    rank_of = np.empty_like(order)
    rank_of[order] = x
    panels = [(f"round {int(p['round'].iloc[0])} (before its picks)", p) for p in posteriors]
    panels.append(("after all rounds", final.assign(pick=-1)))
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 2.2 * len(panels)), sharex=True, squeeze=False)
    for ax, (title, post) in zip(axes[:, 0], panels):
        mean, sd = post["mean"].to_numpy()[order], post["sd"].to_numpy()[order]
        if np.isfinite(mean).any():
            ax.plot(x, mean, color="C0", lw=1)
            ax.fill_between(x, mean - sd, mean + sd, color="C0", alpha=0.25, lw=0)
        seen = obs if title.startswith("after") else obs[obs["round"] < int(post["round"].iloc[0])]
        ax.scatter(rank_of[seen["index"]], seen["score"], s=10, color="k", zorder=3, label="observed")
        for k, i in enumerate(post.loc[post["pick"] >= 0, "index"]):
            ax.axvline(rank_of[i], color="C3", lw=0.8, ls="--", label="picked" if k == 0 else None)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("score")
    axes[-1, 0].set_xlabel("workflow (sorted by final posterior mean)")
    axes[0, 0].legend(fontsize=7, loc="upper right")
    _save(fig, path)


def answer_by_round(obs: pd.DataFrame, search_cfg: dict) -> pd.DataFrame:
    """The search's answer after each round: round, workflow, mean (its posterior mean).

    obs: the finite scores (columns round, index, score, score_se); the answer after round
    r is ``verdict`` on the scores of rounds <= r, the rule the answer page uses.
    """
    rows = []
    for r in sorted(obs["round"].unique()):
        found = verdict(obs[obs["round"] <= r], search_cfg)
        rows.append({"round": int(r), "workflow": found.table["workflow"][found.answer],
                     "mean": float(found.post.mean[found.answer])})
    return pd.DataFrame(rows)


def plot_picks(obs: pd.DataFrame, answers: pd.DataFrame, path: str | Path) -> None:
    """Score of every pick per round, labelled with its workflow, and the answer after each
    round (``answer_by_round``: its posterior mean, not the best single score)."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.scatter(obs["round"], obs["score"], color="C0")
    for row in obs.itertuples():
        ax.annotate(short_label(row.workflow), (row.round, row.score), fontsize=6,
                    xytext=(4, 0), textcoords="offset points", va="center")
    ax.plot(answers["round"], answers["mean"], color="C3", drawstyle="steps-post",
            label="the answer so far: its posterior mean")
    changed = answers[answers["workflow"] != answers["workflow"].shift()]
    for row in changed.itertuples():  # label the answer where it changes
        ax.annotate(short_label(row.workflow), (row.round, row.mean), fontsize=7, color="C3",
                    xytext=(2, -9), textcoords="offset points", fontweight="bold")
    ax.set_xlabel("round")
    ax.set_ylabel("score (return per episode)")
    ax.set_xticks(sorted(obs["round"].unique()))
    ax.set_title("Picks per round")
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_compliance(obs: pd.DataFrame, path: str | Path) -> None:
    """Compliance with the candidate's own workflow against its score."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    sc = ax.scatter(obs["compliance"], obs["score"], c=obs["round"], cmap="viridis")
    fig.colorbar(sc, ax=ax, label="round")
    ax.set_xlabel("compliance (compliant / counted fixes)")
    ax.set_ylabel("score")
    ax.set_title("Compliance against score")
    _save(fig, path)


def make_report(score_paths: list[str | Path], posterior_paths: list[str | Path],
                search_cfg: dict, outputs: dict) -> pd.DataFrame:
    """Write the search figures and tables; returns the best-workflows table.

    score_paths: every candidate's score.json (episodes.parquet beside each);
    posterior_paths: ``posterior_round_{r}.parquet`` of every round; search_cfg: the
    config's search section (noise_sd, flat_margin, seed). outputs: paths for keys curves, posterior, picks,
    compliance (PNG), best (CSV), search (final posterior, Parquet) and observations
    (``observations_table``, Parquet); their directories' stale temporaries are deleted first.
    """
    for directory in {Path(p).parent for p in outputs.values()}:
        clean_stale_temporaries(directory)
    obs = read_scores(score_paths)
    good = obs[np.isfinite(obs["score"])]
    if good.empty:
        raise ValueError("report: no candidate has a finite score; check the train logs")
    final = verdict(good, search_cfg).table
    posteriors = [pd.read_parquet(p) for p in posterior_paths]
    _write_table(observations_table(obs, posteriors), outputs["observations"])
    plot_learning_curves(obs, outputs["curves"])
    plot_posteriors(posteriors, final, good, outputs["posterior"])
    plot_picks(good, answer_by_round(good, search_cfg), outputs["picks"])
    plot_compliance(good, outputs["compliance"])
    best = best_table(obs, final)
    _write_table(best, outputs["best"])
    _write_table(final, outputs["search"])
    print(best.head(10).to_string(index=False))
    return best


def evaluate_best(best_csv: str | Path, eval_cfg: dict, out_dir: str | Path,
                  workers: int | None = None, plain_policy: str | None = None) -> pd.DataFrame:
    """Evaluate the top policy of ``best_csv``, the plain-PPO policy and the baselines.

    eval_cfg: the config's evaluate section (backend, red, steps, episodes, baselines).
    Writes into ``out_dir``: ``evaluation.parquet`` (one row per episode) and
    ``leaderboard.md`` (``wrl.eval.evaluate.write_results``), and ``leaderboard.csv``
    (``wrl.eval.table.summarise``: mean, sd, 95% CI per policy, red and steps). The best
    policy's rows are named ``best:<workflow>``, the plain-PPO policy's ``plain_ppo``
    (``plain_policy``: its policy.pt, trained without workflow input or alignment
    reward). Returns the episode rows.
    """
    best = pd.read_csv(best_csv).iloc[0]
    names = {best["policy"]: f"best:{best['workflow']}"}
    if plain_policy is not None:
        names[str(plain_policy)] = "plain_ppo"
    frames = []
    for policy in [*names, *eval_cfg["baselines"]]:
        df = evaluate_policy(policy, eval_cfg["backend"], list(eval_cfg["red"]), list(eval_cfg["steps"]),
                             int(eval_cfg["episodes"]), workers=workers)
        df["policy"] = names.get(policy, policy)
        frames.append(df)
    episodes = pd.concat(frames, ignore_index=True)
    published = eval_cfg["backend"] == "cyborg"  # the published CAGE2 rows, where they compare
    write_results(episodes, out_dir, published=published)
    _write_table(summarise(episodes), Path(out_dir) / "leaderboard.csv")
    print(leaderboard(episodes, published=published))
    return episodes
