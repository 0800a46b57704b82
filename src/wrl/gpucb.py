"""GP-UCB batch proposals over the 120 workflows (permutations of the 5 unit types).

Model: a Gaussian process on the pairwise-order embedding of the permutations
(``wrl.workflow.pairwise_embedding_all()``, 120 x 10, entries in {-1, +1}). The
squared distance between two embeddings is 4 x their Kendall distance, so an RBF on it
is the Mallows kernel ``exp(-2 d_K / l^2)``. Kernel: ``C * RBF(l)``, ``normalize_y=True``;
C and l are refit by maximum likelihood once per round on every observation so far.

Noise is *given*, never fitted: a candidate's score is a noisy training outcome (another
seed gives another score), so observation i has noise variance
``max(noise_sd, score_se_i)^2``, where ``noise_sd`` (config ``search.noise_sd``) is the
seed-to-seed sd of a candidate's score measured at the train budget and ``score_se_i``
its own standard error from ``score.json``. The posterior at an observed workflow
therefore keeps that noise (it never interpolates), and re-proposing an evaluated
workflow (``allow_repeats``) can still shrink its uncertainty.

Acquisition: UCB(x) = mu(x) + sqrt(beta_t) * sigma(x), where sigma is the sd of the
latent score (the White noise excluded) and beta_t follows Srinivas et al. (2010),
Theorem 1 (finite domain D):

    beta_t = scale * 2 * log(|D| * t^2 * pi^2 / (6 * delta)),

|D| = 120, t = 1-based index of the evaluation being chosen (observations so far plus
picks already made in this batch, plus one), ``delta`` the failure probability and
``scale`` a constant factor (the theoretical beta is known to over-explore; 0.2 is
a common practical choice).

Batches (GP-BUCB, Desautels et al. 2014): the B picks of a round are chosen one at a
time; each pick is added as a *pending* point at its posterior mean with the
hyperparameters frozen, so the mean is unchanged while sigma shrinks around it and the
batch spreads out. A batch never holds a workflow twice; workflows evaluated in earlier
rounds are excluded unless ``allow_repeats``.

Round 0 has no data: its B picks come from a seeded space-filling design (greedy
max-min Kendall distance).
"""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.linalg import cho_factor, cho_solve
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel

from wrl.atomic import atomic_write, clean_stale_temporaries
from wrl.cage.red import RED_AGENTS
from wrl.workflow import (
    ALL_WORKFLOWS,
    NUM_WORKFLOWS,
    format_workflow,
    parse_workflow,
    pairwise_embedding_all,
    workflow_from_index,
    workflow_index,
)

EMBEDDING = pairwise_embedding_all()
#: the GP noise floor: the seed-to-seed sd of a score measured at the default budget (0.79, docs/pipeline.md)
DEFAULT_NOISE_SD = 0.8
#: int[120, 120]: Kendall distance between every pair of workflows (0..10).
KENDALL = (EMBEDDING[:, None, :] != EMBEDDING[None, :, :]).sum(axis=2)


def beta_t(t: int, delta: float = 0.1, scale: float = 0.2, domain: int = NUM_WORKFLOWS) -> float:
    """Srinivas et al. (2010) finite-domain exploration weight, times ``scale``.

    ``scale * 2 * log(domain * t^2 * pi^2 / (6 * delta))`` for evaluation number
    ``t >= 1``; delta in (0, 1). Returns beta (UCB uses its square root).
    """
    if t < 1:
        raise ValueError(f"beta_t: t={t}; t counts evaluations from 1")
    if not 0.0 < delta < 1.0:
        raise ValueError(f"search.beta.delta={delta}: must lie in (0, 1)")
    return scale * 2.0 * math.log(domain * t * t * math.pi**2 / (6.0 * delta))


def space_filling(batch: int, seed: int, exclude: set[int] = frozenset()) -> list[int]:
    """``batch`` workflow indices spread out by greedy max-min Kendall distance.

    The first pick is uniform at random (seeded) among the allowed ones; each next pick
    maximises its minimum Kendall distance to the picks so far (ties broken at random).
    ``exclude`` lists indices that may not be picked.
    """
    rng = np.random.default_rng(seed)
    allowed = np.array([i for i in range(NUM_WORKFLOWS) if i not in exclude])
    if batch > len(allowed):
        raise ValueError(f"space_filling: {batch} picks asked but only {len(allowed)} workflows left")
    picks = [int(rng.choice(allowed))]
    while len(picks) < batch:
        free = np.setdiff1d(allowed, picks)
        mind = KENDALL[np.ix_(free, picks)].min(axis=1)
        best = free[mind == mind.max()]
        picks.append(int(rng.choice(best)))
    return picks


def noise_variances(score_se: np.ndarray | None, n: int, noise_sd: float) -> np.ndarray:
    """float[n]: noise variance of each observation, ``max(noise_sd, score_se_i)^2`` (score units).

    score_se: float[n] standard errors from ``score.json`` (NaN or None: unknown, the
    floor ``noise_sd`` alone); noise_sd > 0: the measured seed-to-seed sd.
    """
    if not noise_sd > 0:
        raise ValueError(f"search.noise_sd={noise_sd}: must be positive (the measured seed-to-seed sd)")
    se = np.zeros(n) if score_se is None else np.nan_to_num(np.asarray(score_se, float), nan=0.0)
    return np.maximum(se, noise_sd) ** 2


def _y_scale(scores: np.ndarray) -> float:
    """The sd normalize_y divides the scores by (1 for a constant score)."""
    return float(np.std(scores)) or 1.0


def fit_gp(indices: np.ndarray, scores: np.ndarray, noise_var: np.ndarray, seed: int) -> GaussianProcessRegressor:
    """Fit ``C * RBF`` (normalize_y) to scores observed at workflow ``indices`` with given noise.

    indices: int[n] in 0..119 (repeats allowed); scores: float[n]; noise_var: float[n]
    in score units squared (``noise_variances``), added to the kernel's diagonal. C and
    l by maximum likelihood with 3 seeded optimizer restarts. The length scale l is kept
    in [1, 30]: the correlation of neighbours (Kendall distance 1) is exp(-2 / l^2),
    from 0.14 (nearly independent workflows) to ~1 (a flat score).
    """
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(3.0, (1.0, 30.0))
    gp = GaussianProcessRegressor(kernel=kernel, alpha=np.asarray(noise_var) / _y_scale(scores) ** 2,
                                  normalize_y=True, n_restarts_optimizer=3, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(EMBEDDING[indices], scores)
    return gp


def latent_cov(gp: GaussianProcessRegressor, train_idx: np.ndarray, noise_var: np.ndarray,
               y_scale: float, points: np.ndarray | None = None) -> np.ndarray:
    """float[k, k]: posterior covariance of the latent scores of workflows ``points``.

    Conditioned on inputs ``train_idx`` int[m] (observations plus pending points) with
    noise variances ``noise_var`` float[m] (score units squared) and the fitted kernel
    of ``gp`` frozen; the covariance needs no targets. ``y_scale`` is the sd that
    normalize_y divided the scores by; points: int[k] workflow indices (None: all 120).
    Score units squared.
    """
    signal = gp.kernel_
    xt = EMBEDDING[train_idx]
    xp = EMBEDDING if points is None else EMBEDDING[np.asarray(points)]
    chol = cho_factor(signal(xt) + np.diag(np.asarray(noise_var) / y_scale**2), lower=True)
    cross = signal(xp, xt)
    return y_scale**2 * (signal(xp) - cross @ cho_solve(chol, cross.T))


def latent_sd(gp: GaussianProcessRegressor, train_idx: np.ndarray, noise_var: np.ndarray,
              y_scale: float) -> np.ndarray:
    """float[120]: posterior sd of the latent score of every workflow (``latent_cov``'s diagonal)."""
    return np.sqrt(np.maximum(np.diag(latent_cov(gp, train_idx, noise_var, y_scale)), 0.0))


def prob_better(indices: np.ndarray, scores: np.ndarray, score_se: np.ndarray | None, noise_sd: float,
                a: int, b: int, seed: int = 0) -> float:
    """P(latent score of workflow a > that of workflow b) under the GP posterior.

    Same inputs as ``posterior``; a, b: workflow indices. Uses the joint (correlated)
    posterior of the two: Phi((mu_a - mu_b) / sd(a - b)).
    """
    from scipy.stats import norm

    indices = np.asarray(indices, dtype=np.int64)
    noise = noise_variances(score_se, len(indices), noise_sd)
    gp, mean, y_scale = _fit(indices, np.asarray(scores, dtype=np.float64), noise, seed)
    cov = latent_cov(gp, indices, noise, y_scale, np.array([a, b]))
    var = max(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], 1e-12)
    return float(norm.cdf((mean[a] - mean[b]) / math.sqrt(var)))


def _workflow_frame(mean: np.ndarray, sd: np.ndarray, indices: np.ndarray) -> pd.DataFrame:
    """Per-workflow table: index, workflow, mean, sd, n_obs (index order)."""
    return pd.DataFrame(
        {
            "index": np.arange(NUM_WORKFLOWS),
            "workflow": [format_workflow(w) for w in ALL_WORKFLOWS],
            "mean": mean,
            "sd": sd,
            "n_obs": np.bincount(np.asarray(indices, dtype=np.int64), minlength=NUM_WORKFLOWS),
        }
    )


def _fit(indices: np.ndarray, scores: np.ndarray, noise_var: np.ndarray, seed: int):
    """(gp, mean float[120], y_scale) for scores observed at workflow ``indices``."""
    gp = fit_gp(indices, scores, noise_var, seed)
    return gp, gp.predict(EMBEDDING), _y_scale(scores)


def posterior(indices: np.ndarray, scores: np.ndarray, score_se: np.ndarray | None = None,
              noise_sd: float = DEFAULT_NOISE_SD, seed: int = 0) -> pd.DataFrame:
    """GP posterior of every workflow given scores observed at ``indices``.

    score_se: float[n] standard errors (None: unknown); noise_sd: the floor of the
    noise sd (``noise_variances``). Returns columns index, workflow, mean, sd (of the
    latent score, score units), n_obs.
    """
    indices = np.asarray(indices, dtype=np.int64)
    noise = noise_variances(score_se, len(indices), noise_sd)
    gp, mean, y_scale = _fit(indices, np.asarray(scores, dtype=np.float64), noise, seed)
    return _workflow_frame(mean, latent_sd(gp, indices, noise, y_scale), indices)


def propose_batch(
    indices: np.ndarray,
    scores: np.ndarray,
    batch: int,
    *,
    score_se: np.ndarray | None = None,
    noise_sd: float = DEFAULT_NOISE_SD,
    delta: float = 0.1,
    scale: float = 0.2,
    allow_repeats: bool = False,
    seed: int = 0,
) -> tuple[list[int], pd.DataFrame]:
    """Choose ``batch`` workflows by GP-BUCB given scores observed so far.

    indices: int[n] workflow indices observed (n >= 1); scores: float[n]; score_se,
    noise_sd: the observation noise (``noise_variances``; a pending pick gets noise_sd).
    Returns (picks, posterior) where posterior is ``posterior()``'s table plus ucb (at
    the first pick), pick (0-based order in the batch, -1 if not picked) and beta (the
    beta_t used for that pick, NaN if not picked).
    """
    indices = np.asarray(indices, dtype=np.int64)
    noise = noise_variances(score_se, len(indices), noise_sd)
    gp, mean, y_scale = _fit(indices, np.asarray(scores, dtype=np.float64), noise, seed)
    rng = np.random.default_rng(seed)
    excluded = np.zeros(NUM_WORKFLOWS, bool)
    if not allow_repeats:
        excluded[indices] = True
    if batch > int((~excluded).sum()):
        raise ValueError(
            f"search: {batch} new workflows asked but only {int((~excluded).sum())} are "
            "unevaluated; lower search.batch/rounds or set search.allow_repeats: true"
        )
    train_idx = indices.copy()
    picks, betas = [], []
    sd0 = ucb0 = None
    for _ in range(batch):
        sd = latent_sd(gp, train_idx, noise, y_scale)
        beta = beta_t(len(train_idx) + 1, delta, scale)
        ucb = mean + math.sqrt(beta) * sd
        if sd0 is None:
            sd0, ucb0 = sd, ucb.copy()
        ucb[excluded] = -np.inf
        pick = int(rng.choice(np.flatnonzero(ucb == ucb.max())))  # ties at random
        picks.append(pick)
        betas.append(beta)
        excluded[pick] = True  # never twice in one batch
        train_idx = np.append(train_idx, pick)  # pending at its mean: only sd changes
        noise = np.append(noise, noise_sd**2)
    table = _workflow_frame(mean, sd0, indices)
    table["ucb"] = ucb0
    table["pick"] = -1
    table.loc[picks, "pick"] = np.arange(batch)
    table["beta"] = np.nan
    table.loc[picks, "beta"] = betas
    return picks, table


def _float(value) -> float:
    """JSON number or null as a float (null -> NaN)."""
    return math.nan if value is None else float(value)


def read_scores(score_paths: list[str | Path]) -> pd.DataFrame:
    """Observations from candidates' ``score.json`` files.

    Paths must look like ``.../round_{r}/cand_{i}/score.json``. Returns a DataFrame with
    columns round, cand, workflow, index, score, score_se, compliance, score_{red} for
    each red agent (NaN where that red was not played), path (one row per file, sorted
    by round then cand); a non-finite score is kept (callers drop it).
    """
    rows = []
    for path in map(Path, score_paths):
        data = json.loads(path.read_text())
        by_red = data.get("scores_by_red") or {}
        rows.append(
            {
                "round": int(path.parent.parent.name.removeprefix("round_")),
                "cand": int(path.parent.name.removeprefix("cand_")),
                "workflow": format_workflow(parse_workflow(data["workflow"])),
                "index": workflow_index(data["workflow"]),
                "score": _float(data["score"]),
                "score_se": _float(data.get("score_se")),
                "compliance": _float(data.get("compliance")),
                **{f"score_{red}": _float(by_red.get(red)) for red in RED_AGENTS},
                "path": str(path),
            }
        )
    types = {"round": int, "cand": int, "workflow": str, "index": int, "score": float,
             "score_se": float, "compliance": float, **{f"score_{red}": float for red in RED_AGENTS},
             "path": str}
    frame = pd.DataFrame(rows, columns=list(types)).astype(types)
    return frame.sort_values(["round", "cand"], ignore_index=True)


def choose_batch(round_: int, indices: np.ndarray, scores: np.ndarray, score_se: np.ndarray,
                 search_cfg: dict, evaluated: set[int]) -> tuple[list[int], pd.DataFrame, str]:
    """Round ``round_``'s picks as the pipeline makes them, from the finite scores so far.

    indices, scores, score_se: float[n] observations with a finite score (n may be 0);
    search_cfg: the config's ``search`` section; evaluated: every workflow index tried so
    far (finite score or not; excluded from a design round unless ``allow_repeats``).
    Seeded by ``1000 * search.seed + round_``. Returns (picks, posterior table, method),
    method "space_filling" (no finite score yet) or "gp_bucb".
    """
    batch, seed = int(search_cfg["batch"]), int(search_cfg["seed"]) * 1000 + round_
    if len(indices) == 0:
        picks = space_filling(batch, seed, set() if search_cfg["allow_repeats"] else set(evaluated))
        posterior = _workflow_frame(np.nan, np.nan, [])
        posterior["ucb"] = np.nan
        posterior["pick"] = -1
        posterior.loc[picks, "pick"] = np.arange(batch)
        posterior["beta"] = np.nan
        return picks, posterior, "space_filling"
    picks, posterior = propose_batch(
        indices, scores, batch, score_se=score_se, noise_sd=search_cfg.get("noise_sd", DEFAULT_NOISE_SD),
        delta=search_cfg["beta"]["delta"], scale=search_cfg["beta"]["scale"],
        allow_repeats=search_cfg["allow_repeats"], seed=seed)
    return picks, posterior, "gp_bucb"


def propose_round(
    round_: int,
    score_paths: list[str | Path],
    search_cfg: dict,
    out_json: str | Path,
    search_dir: str | Path,
) -> list[str]:
    """Propose round ``round_``'s batch from every earlier score and save the search state.

    search_cfg: the config's ``search`` section (batch, seed, beta.delta, beta.scale,
    allow_repeats, noise_sd). Writes ``out_json`` ({"round", "workflows", "indices", "method",
    "repeats"}: how often each pick was evaluated before, ``load_proposal``),
    ``search_dir/observations_round_{r}.parquet`` (the scores it saw) and
    ``search_dir/posterior_round_{r}.parquet`` (``propose_batch``'s table; for a design
    round mean/sd/ucb are NaN), first deleting stale temporaries in both directories.
    Returns the proposed workflows (text).
    """
    search_dir = Path(search_dir)
    for directory in {search_dir, Path(out_json).parent}:
        clean_stale_temporaries(directory)
    obs = read_scores(score_paths)
    good = obs[np.isfinite(obs["score"])]
    if len(good) < len(obs):
        warnings.warn(f"round {round_}: {len(obs) - len(good)} candidates without a finite score ignored")
    picks, posterior, method = choose_batch(round_, good["index"].to_numpy(), good["score"].to_numpy(),
                                            good["score_se"].to_numpy(), search_cfg, set(obs["index"]))
    posterior.insert(0, "round", round_)
    obs.insert(0, "seen_by_round", round_)
    atomic_write(search_dir / f"observations_round_{round_}.parquet", lambda p: obs.to_parquet(p, index=False))
    atomic_write(search_dir / f"posterior_round_{round_}.parquet", lambda p: posterior.to_parquet(p, index=False))
    workflows = [format_workflow(workflow_from_index(i)) for i in picks]
    repeats = [int((obs["index"] == i).sum()) for i in picks]  # earlier evaluations of each pick
    payload = {"round": round_, "method": method, "indices": picks, "workflows": workflows, "repeats": repeats}
    atomic_write(Path(out_json), lambda p: p.write_text(json.dumps(payload, indent=1) + "\n"))
    return workflows


def load_proposal(path: str | Path, cand: int) -> tuple[str, int]:
    """(workflow text, repeat) of candidate ``cand`` in a ``proposals.json``.

    repeat: how many times that workflow was evaluated in earlier rounds (0 unless
    ``allow_repeats``); the candidate trains at seed ``train.seed + repeat``, so a
    re-evaluation is a fresh draw of the score, not a copy of the first.
    """
    proposal = json.loads(Path(path).read_text())
    workflows = proposal["workflows"]
    if not 0 <= cand < len(workflows):
        raise ValueError(f"{path}: candidate {cand} out of range 0..{len(workflows) - 1}")
    return workflows[cand], int(proposal.get("repeats", [0] * len(workflows))[cand])


def warm_start_policy(workflow: str, score_paths: list[str | Path]) -> str | None:
    """``policy.pt`` of the trained workflow nearest to ``workflow`` in Kendall distance.

    Candidates are the ``score.json`` files given (their ``policy.pt`` sits beside
    them); ties go to the higher score, then the earlier round/candidate. None when the
    list is empty.
    """
    obs = read_scores(score_paths)
    if obs.empty:
        return None
    obs["dist"] = KENDALL[workflow_index(workflow), obs["index"].to_numpy()]
    obs["neg_score"] = -obs["score"].fillna(-np.inf)
    best = obs.sort_values(["dist", "neg_score", "round", "cand"]).iloc[0]
    return str(Path(best["path"]).with_name("policy.pt"))
