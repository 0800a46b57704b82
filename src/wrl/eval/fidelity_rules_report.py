"""``wrl fidelity --rules``: the cached CybORG reference logs, the per-rule report and its command.

The rule tests themselves are ``wrl.eval.fidelity_rules``. The CybORG side of the
report is played once per (policy, red) pair and cached as Parquet under version
control (``reference_log``), so CI compares numba against it without CybORG's cost.
"""
from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from wrl.atomic import atomic_write, clean_stale_temporaries
from wrl.eval.fidelity_rules import ALPHA, compare_rules, play_logged

#: the report's TOST margin, as a fraction of CybORG's mean return
EQUIV_FRAC = 0.02
#: (blue policy, red) pairs of the per-rule report: the decoy-heavy baselines
RULE_PAIRS: tuple[tuple[str, str], ...] = (
    ("decoy_remove", "b_line"), ("decoy_all", "b_line"), ("decoy_all", "meander"))
#: the CybORG reference logs cached under version control (``reference_log``)
REFERENCE_DIR = Path(__file__).resolve().parents[3] / "tests" / "data" / "fidelity_rules"
#: envs per pool when collecting logs (the CybORG reference depends on it: episode order)
#: and episodes per seed of the CybORG reference
CYBORG_ENVS, NUMBA_ENVS, CHUNK = 32, 1000, 800
#: CybORG episodes per pair in the committed cache
CACHED_EPISODES = 1600


def cache_name(policy: str) -> str:
    """The cache's name of ``policy``: a baseline's name, or a policy file's stem and the
    first 8 hex digits of its SHA-256 (a retrained file gets a new cache)."""
    if not policy.endswith(".pt"):
        return policy
    digest = hashlib.sha256(Path(policy).read_bytes()).hexdigest()[:8]
    return f"{Path(policy).stem}-{digest}"


def reference_log(policy: str, red: str, episodes: int, directory: Path = REFERENCE_DIR,
                  workers: int | None = 1) -> pd.DataFrame:
    """The first ``episodes`` episodes of the cached CybORG log of (``policy``, ``red``).

    The cache ``directory/{cache_name(policy)}_{red}.parquet`` holds chunks of ``CHUNK`` episodes,
    each played with its own seed (column ``seed``; ``CYBORG_ENVS`` envs, ``workers``
    processes); when it holds too few episodes, chunks with the next seeds are played
    and appended.
    """
    path = Path(directory) / f"{cache_name(policy)}_{red}.parquet"
    if path.parent.exists():
        clean_stale_temporaries(path.parent)  # what a killed earlier fill left
    log = pd.read_parquet(path) if path.exists() else None
    while log is None or log["episode"].max() + 1 < episodes:
        seed = 1 if log is None else int(log["seed"].max()) + 1
        chunk = play_logged(policy, "cyborg", red, CHUNK, seed=seed, workers=workers,
                            num_envs=CYBORG_ENVS)
        chunk["seed"] = np.int16(seed)
        if log is not None:
            chunk["episode"] += log["episode"].max() + 1
        log = pd.concat([log, chunk], ignore_index=True)
        atomic_write(path, lambda tmp: log.to_parquet(tmp, index=False, compression="zstd"))
    return log[log["episode"] < episodes].reset_index(drop=True)


def episode_returns(log: pd.DataFrame) -> np.ndarray:
    """float64[E]: the return of each episode of a log, in episode order."""
    return log.groupby("episode")["reward"].sum().to_numpy(np.float64)


def tost(sim: np.ndarray, ref: np.ndarray, margin: float) -> dict:
    """Two one-sided Welch tests that |mean(sim) - mean(ref)| < ``margin`` (return units).

    Returns diff, se, margin, p (the larger one-sided p-value: equivalence is shown at
    level a when p < a) and ``margin_resolvable``: the smallest margin, as a fraction of
    |mean(ref)|, these samples could show at the 5% level (|diff| + 1.645 se).
    """
    diff = float(sim.mean() - ref.mean())
    va, vb = sim.var(ddof=1) / len(sim), ref.var(ddof=1) / len(ref)
    se = float(np.sqrt(va + vb))
    dof = (va + vb) ** 2 / (va ** 2 / (len(sim) - 1) + vb ** 2 / (len(ref) - 1))
    p = max(stats.t.sf((diff + margin) / se, dof), stats.t.cdf((diff - margin) / se, dof))
    return {"diff": diff, "se": se, "margin": float(margin), "p": float(p),
            "margin_resolvable": (abs(diff) + 1.645 * se) / abs(float(ref.mean()))}


def rules_report(pairs=RULE_PAIRS, episodes: int = 20000,
                 cyborg_episodes: int = CACHED_EPISODES,
                 seed: int = 0, reference: Path | None = REFERENCE_DIR,
                 workers: int | None = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-rule and return comparison of every pair: (rule rows of ``compare_rules`` with
    the pair's policy and red, one row per pair with the returns' means and ``tost``).
    The CybORG side comes from ``reference_log`` (cached in ``reference``; None: played
    afresh with seed ``seed + 1``)."""
    rules, returns = [], []
    for policy, red in pairs:
        sim = play_logged(policy, "numba", red, episodes, seed=seed, num_envs=NUMBA_ENVS)
        if reference is None:
            ref = play_logged(policy, "cyborg", red, cyborg_episodes, seed=seed + 1,
                              workers=workers, num_envs=CYBORG_ENVS)
        else:
            ref = reference_log(policy, red, cyborg_episodes, reference, workers)
        table = compare_rules(sim, ref)
        rules.append(table.assign(policy=policy, red=red))
        ra, rb = episode_returns(sim), episode_returns(ref)
        returns.append({"policy": policy, "red": red, "numba_episodes": len(ra),
                        "cyborg_episodes": len(rb), "numba_mean": ra.mean(),
                        "cyborg_mean": rb.mean(), **tost(ra, rb, EQUIV_FRAC * abs(rb.mean())),
                        "rule_groups": len(table), "rule_fails": int((~table["ok"]).sum())})
        print(f"{policy} vs {red}: {len(table)} rule groups, "
              f"{returns[-1]['rule_fails']} deviate", file=sys.stderr, flush=True)
    return pd.concat(rules, ignore_index=True), pd.DataFrame(returns)


def rules_summary(rules: pd.DataFrame, returns: pd.DataFrame) -> str:
    """The one-line summary of the per-rule report."""
    worst = rules.loc[rules["p"].idxmin()]
    return (f"summary: {int(rules['ok'].sum())}/{len(rules)} rule groups agree "
            f"(Holm, family-wise alpha {ALPHA}); smallest p {worst['p']:.2g} "
            f"({worst['policy']} vs {worst['red']}: {worst['rule']} {worst['group']}); "
            f"returns within {returns['margin_resolvable'].max():.1%} (TOST, 5%)")


def run_rules(args) -> int:
    """``wrl fidelity --rules``: print the worst rule groups, the returns and the summary."""
    t0 = time.perf_counter()
    reference = None if args.no_cache else Path(args.reference)
    pairs = RULE_PAIRS if args.policy is None else tuple((args.policy, red) for red in ("b_line", "meander"))
    rules, returns = rules_report(pairs, episodes=args.episodes, cyborg_episodes=args.cyborg_episodes,
                                  seed=args.seed, reference=reference, workers=args.workers)
    cols = ["policy", "red", "rule", "group", "n_numba", "n_cyborg", "freq_numba",
            "freq_cyborg", "max_absdiff", "p", "p_holm"]
    print(rules.nsmallest(15, "p")[cols].to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print()
    print(returns.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    if args.out:
        out = Path(args.out)
        atomic_write(out / "rules.parquet", lambda tmp: rules.to_parquet(tmp, index=False))
        atomic_write(out / "rule_returns.parquet", lambda tmp: returns.to_parquet(tmp, index=False))
    print(f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    print(rules_summary(rules, returns))
    return 0
