"""``wrl fidelity``: does the numba simulator behave like the real CybORG?

For each (blue policy, red, green) pair in ``PAIRS`` both backends play the same number
of 100-step episodes through ``wrl.rl.play.play``, which records per episode the
return, the reward of every step, the frequency of each of the 52 observation bits and
the first step at which red's action is Impact (numba: ``info["impact"]``; CybORG: the
pool's ``info["impact"]``, i.e. ``CyborgEnv.red_record()``'s kind is Impact; 101 when
red never impacts). ``compare`` applies four tests (see ``TESTS``); a pair passes when
all four do. ``--rules`` runs the per-rule report of ``wrl.eval.fidelity_rules`` instead.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from wrl.atomic import atomic_write
from wrl.env.scenario import MAX_STEPS
from wrl.eval.evaluate import play_policy
from wrl.eval.fidelity_rules_report import CACHED_EPISODES, REFERENCE_DIR, run_rules

#: a red mixture: each env draws its red per episode, the same draws on both backends
MIXTURE = "b_line:0.45,meander:0.45,sleep:0.1"
#: (blue policy, red, green) pairs of the suite.
PAIRS: tuple[tuple[str, str, str], ...] = tuple(
    (p, r, "sleep") for p in ("sleep", "random", "react_restore", "decoy_heavy", "restore_opserver")
    for r in ("b_line", "meander")) + (("sleep", "b_line", "random"), ("random", "meander", "random"),
                                        ("react_restore", MIXTURE, "sleep"))

#: Test thresholds. return: |diff| <= 3 combined SE (and, reported, within 2% of
#: CybORG's mean, at least 1.0); curve: max over steps of |diff_t|/SE_t <= 4 (about a
#: 0.006 two-sided level per step, Bonferroni over 100 steps); bits: max over the 52
#: bits of |diff|/SE <= 4, SE from per-episode frequencies; impact: two-sample KS p >= 0.01.
TESTS = {"return_z": 3.0, "equiv_frac": 0.02, "curve_z": 4.0, "bits_z": 4.0, "impact_p": 0.01}
NO_IMPACT = MAX_STEPS + 1


def _z(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|mean diff| / combined SE along axis 0; 0 where equal, inf where SE is 0 but means differ."""
    diff = np.abs(a.mean(axis=0) - b.mean(axis=0))
    se = np.sqrt(a.var(axis=0, ddof=1) / len(a) + b.var(axis=0, ddof=1) / len(b))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(diff < 1e-9, 0.0, np.where(se > 0, diff / se, np.inf))


def compare(sim: dict, ref: dict) -> dict:
    """The four tests of ``TESTS`` for numba results ``sim`` against CybORG results ``ref``."""
    ra, rb = sim["returns"], ref["returns"]
    diff = ra.mean() - rb.mean()
    se = float(np.sqrt(ra.var(ddof=1) / len(ra) + rb.var(ddof=1) / len(rb)))
    margin = max(TESTS["equiv_frac"] * abs(rb.mean()), 1.0)
    curve_z = float(_z(sim["rewards"].astype(np.float64), ref["rewards"].astype(np.float64)).max())
    bits_z = _z(sim["bits"], ref["bits"])
    fa, fb = sim["first_impact"], ref["first_impact"]
    impact_p = 1.0 if np.array_equal(np.unique(fa), np.unique(fb)) and len(np.unique(fa)) == 1 \
        else float(stats.ks_2samp(fa, fb).pvalue)
    out = {
        "episodes": len(ra), "numba_mean": ra.mean(), "cyborg_mean": rb.mean(),
        "numba_sd": ra.std(ddof=1), "cyborg_sd": rb.std(ddof=1), "diff": diff, "se": se,
        "return_ok": abs(diff) <= TESTS["return_z"] * se + 1e-9,
        "within_2pct": abs(diff) <= margin,
        "curve_max_z": curve_z, "curve_ok": curve_z <= TESTS["curve_z"],
        "bits_max_z": float(bits_z.max()), "bits_worst": int(bits_z.argmax()),
        "bits_max_absdiff": float(np.abs(sim["bits"].mean(0) - ref["bits"].mean(0)).max()),
        "bits_ok": float(bits_z.max()) <= TESTS["bits_z"],
        "numba_impact_rate": float((fa < NO_IMPACT).mean()),
        "cyborg_impact_rate": float((fb < NO_IMPACT).mean()),
        "impact_p": impact_p, "impact_ok": impact_p >= TESTS["impact_p"],
    }
    out["ok"] = bool(out["return_ok"] and out["curve_ok"] and out["bits_ok"] and out["impact_ok"])
    return out


def run_pair(policy: str, red: str, green: str, episodes: int, seed: int = 0,
             cyborg_episodes: int | None = None, workers: int | None = None) -> tuple[dict, pd.DataFrame]:
    """Collect both backends for one pair; returns (compare() row, per-episode frame)."""
    sim = play_policy(policy, "numba", red, episodes, green=green, seed=seed)
    ref = play_policy(policy, "cyborg", red, cyborg_episodes or episodes, green=green, seed=seed + 1,
               workers=workers)
    row = {"policy": policy, "red": red, "green": green, **compare(sim, ref)}
    frames = [pd.DataFrame({"backend": b, "policy": policy, "red": red, "green": green,
                            "episode": np.arange(len(d["returns"])), "return": d["returns"],
                            "first_impact": d["first_impact"]}) for b, d in (("numba", sim), ("cyborg", ref))]
    return row, pd.concat(frames, ignore_index=True)


def summary_line(table: pd.DataFrame) -> str:
    """The one-line summary: pairs passing, worst return z and largest |diff|."""
    z = (table["diff"].abs() / table["se"]).max()
    return (f"summary: {int(table['ok'].sum())}/{len(table)} pairs pass all tests; "
            f"{int(table['within_2pct'].sum())}/{len(table)} returns within 2%; "
            f"worst return |diff| {table['diff'].abs().max():.1f} ({z:.2f} SE)")


def format_table(table: pd.DataFrame) -> str:
    """A fixed-width text table of the per-pair results."""
    cols = ["policy", "red", "green", "episodes", "numba_mean", "cyborg_mean", "diff", "se",
            "curve_max_z", "bits_max_z", "impact_p", "ok"]
    return table[cols].to_string(index=False, float_format=lambda x: f"{x:.2f}")


def markdown_report(table: pd.DataFrame, seconds: float) -> str:
    """The markdown report written by ``--out``."""
    cols = ["policy", "red", "green", "episodes", "numba_mean", "cyborg_mean", "diff", "se",
            "within_2pct", "curve_max_z", "bits_max_z", "bits_max_absdiff",
            "numba_impact_rate", "cyborg_impact_rate", "impact_p", "ok"]
    lines = ["# wrl fidelity report", "", f"Thresholds: {TESTS}. Wall time {seconds:.0f} s.", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in table[cols].iterrows():
        lines.append("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v)
                                       for v in r.values) + " |")
    return "\n".join(lines + ["", summary_line(table), ""])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``wrl fidelity``."""
    parser.add_argument("--episodes", type=int, default=None,
                        help="episodes per pair and backend (default 100; the full suite: 1000; "
                             "with --rules: numba episodes per pair, default 20000)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    parser.add_argument("--workers", type=int, default=None,
                        help="CybORG pool processes (default: all cores)")
    parser.add_argument("--out", default=None,
                        help="directory for fidelity.parquet, episodes.parquet and report.md")
    parser.add_argument("--rules", action="store_true",
                        help="per-rule report (wrl.eval.fidelity_rules) on the decoy-heavy pairs; "
                             "--episodes is then numba's episode count (default 20000)")
    parser.add_argument("--cyborg-episodes", type=int, default=CACHED_EPISODES,
                        help=f"--rules: CybORG episodes per pair (default {CACHED_EPISODES}, "
                             "the cached ones)")
    parser.add_argument("--reference", default=str(REFERENCE_DIR),
                        help="--rules: directory of cached CybORG logs, filled when short "
                             "(default tests/data/fidelity_rules)")
    parser.add_argument("--policy", default=None,
                        help="--rules: a policy.pt to test instead of the decoy-heavy baselines "
                             "(its own play vs b_line and vs meander; cached under its name and hash)")
    parser.add_argument("--no-cache", action="store_true",
                        help="--rules: play CybORG afresh, neither read nor write the cache")


def run(args: argparse.Namespace) -> int:
    """Run every pair of PAIRS on both backends, print the table, optionally write it."""
    from wrl.errors import UsageError

    if args.rules:
        args.episodes = 20000 if args.episodes is None else args.episodes
        if min(args.episodes, args.cyborg_episodes) < 2:
            raise UsageError("--episodes/--cyborg-episodes: need at least 2 episodes per pair")
        return run_rules(args)
    args.episodes = 100 if args.episodes is None else args.episodes
    if args.episodes < 2:
        raise UsageError(f"--episodes {args.episodes}: need at least 2 episodes per pair")
    t0 = time.perf_counter()
    rows, frames = [], []
    for k, (policy, red, green) in enumerate(PAIRS, start=1):
        row, frame = run_pair(policy, red, green, args.episodes, args.seed, workers=args.workers)
        rows.append(row)
        frames.append(frame)
        print(f"[{k}/{len(PAIRS)}] {policy} vs {red} (green {green}): "
              f"{'ok' if row['ok'] else 'FAIL'} after {time.perf_counter() - t0:.0f} s",
              file=sys.stderr, flush=True)
    table = pd.DataFrame(rows)
    seconds = time.perf_counter() - t0
    if args.out:
        out = Path(args.out)
        atomic_write(out / "fidelity.parquet", lambda p: table.to_parquet(p, index=False))
        atomic_write(out / "episodes.parquet",
                     lambda p: pd.concat(frames, ignore_index=True).to_parquet(p, index=False))
        atomic_write(out / "report.md", lambda p: p.write_text(markdown_report(table, seconds)))
    print(format_table(table))
    print(summary_line(table))
    return 0
