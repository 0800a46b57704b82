"""Plot one run's learning curve per red agent (mean env return of finished episodes).

Usage: .venv/bin/python dev/plot_training.py RUN_DIR OUT.png --title "..." [--points 60]
RUN_DIR holds a run's episodes.parquet and updates.parquet (``wrl train``); one line per
red agent in its ``red`` column, the mean env return in equal bins of global_step
(``wrl.report.figures.learning_curve``), dashed lines for the greedy held-out checks of
``train.select`` when the run made them, and the compliance on a second axis. Writes OUT.png (and prints the curve's last bins).
"""
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from wrl.atomic import atomic_write  # noqa: E402
from wrl.report.figures import learning_curve  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("out")
    parser.add_argument("--title", required=True, help="what trained it, on which machine")
    parser.add_argument("--points", type=int, default=60)
    args = parser.parse_args()
    episodes = pd.read_parquet(Path(args.run_dir) / "episodes.parquet")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for red, group in episodes.groupby("red"):
        curve = learning_curve(group, args.points)
        ax.plot(curve["global_step"] / 1e6, curve["env_return"], label=f"vs {red}")
        print(red, curve.tail(3).round(2).to_string(index=False))
    updates = pd.read_parquet(Path(args.run_dir) / "updates.parquet")
    if "heldout" in updates and updates["heldout"].notna().any():  # train.select's greedy checks
        checks = updates[updates["heldout"].notna()]
        for n, red in enumerate(r for r in ("b_line", "meander", "sleep") if checks[f"heldout_{r}"].notna().any()):
            ax.plot(checks["global_step"] / 1e6, checks[f"heldout_{red}"], ls="--", color=f"C{n}",
                    label=f"vs {red}, greedy held-out")
    overall = learning_curve(episodes, args.points)
    ax2 = ax.twinx()
    ax2.plot(overall["global_step"] / 1e6, overall["compliance"], color="grey", ls=":", label="compliance")
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("compliance")
    ax.set_ylim(max(episodes["env_return"].quantile(0.02), -200), 0)
    ax.set_xlabel("env steps (millions)")
    ax.set_ylabel("training env return (100-step episodes)")
    ax.set_title(args.title, fontsize=9)
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write(args.out, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))


if __name__ == "__main__":
    main()
