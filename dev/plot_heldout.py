"""Plot the greedy held-out checks of several runs against training wall time.

Usage: .venv/bin/python dev/plot_heldout.py OUT.png --title "..." LABEL=DIR[+DIR2] [LABEL=...]

Each ``LABEL=DIR`` is one run of ``wrl train`` with ``train.select`` (its
``updates.parquet`` holds the checks: ``heldout`` is the mixed return, ``heldout_<red>``
each red's); ``DIR+DIR2`` chains a second phase started from the first one's policy
(``--init-policy``), its wall time and env steps added to the first's. One panel per
quantity (the mixed return, B_line, Meander), x = training wall seconds, so runs compare
per CPU-second on one machine. Prints each run's best check and writes OUT.png atomically.
"""
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from wrl.atomic import atomic_write  # noqa: E402

PANELS = (("heldout", "mixed"), ("heldout_b_line", "B_line 100"), ("heldout_meander", "Meander 100"))


def chained_checks(dirs: list[str]) -> pd.DataFrame:
    """The held-out check rows of one or more chained runs: columns wall_s, global_step,
    heldout, heldout_b_line, heldout_meander, phase (1-based); later phases offset by the
    earlier phases' last wall_s and global_step."""
    frames, wall0, step0 = [], 0.0, 0
    for phase, run in enumerate(dirs, 1):
        updates = pd.read_parquet(Path(run) / "updates.parquet")
        checks = updates[updates["heldout"].notna()].copy()
        if checks.empty:
            raise SystemExit(f"{run}/updates.parquet has no held-out checks: was it trained with train.select?")
        checks["wall_s"] += wall0
        checks["global_step"] += step0
        checks["phase"] = phase
        frames.append(checks)
        wall0, step0 = float(updates["wall_s"].iloc[-1]) + wall0, int(updates["global_step"].iloc[-1]) + step0
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("runs", nargs="+", help="LABEL=DIR[+DIR2]")
    parser.add_argument("--title", required=True, help="what trained the runs, on which machine")
    args = parser.parse_args()
    fig, axes = plt.subplots(1, len(PANELS), figsize=(13, 4.2), sharex=True)
    for n, spec in enumerate(args.runs):
        label, _, dirs = spec.partition("=")
        if not dirs:
            parser.error(f"run {spec!r}: write it as LABEL=DIR or LABEL=DIR+DIR2")
        checks = chained_checks(dirs.split("+"))
        best = checks.loc[checks["heldout"].idxmax()]
        print(f"{label}: best mixed {best['heldout']:.2f} (B_line {best['heldout_b_line']:.2f}, Meander "
              f"{best['heldout_meander']:.2f}) at {best['wall_s']:.0f} s, {best['global_step'] / 1e6:.1f}M steps; "
              f"{checks['wall_s'].iloc[-1]:.0f} s in all")
        for ax, (column, _) in zip(axes, PANELS):
            ax.plot(checks["wall_s"], checks[column], color=f"C{n}", label=label, lw=1.2)
    for ax, (_, name) in zip(axes, PANELS):
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("training wall time (s)")
        ax.set_ylim(-22 if name != "mixed" else -20, -12)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("greedy held-out return (100-step episodes)")
    axes[-1].legend(loc="lower right", fontsize=8)
    fig.suptitle(args.title, fontsize=9)
    fig.tight_layout()
    atomic_write(args.out, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))


if __name__ == "__main__":
    main()
