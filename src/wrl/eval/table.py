"""The CAGE2 results table, rendered once for the terminal/markdown and the report (RST).

One row per policy, one ``mean ± ci95`` cell per (red, episode length), and the total:
the sum of the cell means (95% CIs combined as independent). A total is comparable with
the published CAGE2 totals only over all 9 cells (``CAGE2_CELLS``): then the column is
``total`` and the published rows may follow; over fewer cells the column says how many
cells it sums, and the published rows are left out with one line saying why.
"""
from __future__ import annotations

import math

import pandas as pd

#: the 9 cells of the CAGE2 protocol: every red x every episode length
CAGE2_CELLS = frozenset((red, steps) for red in ("b_line", "meander", "sleep") for steps in (30, 50, 100))
#: The published CAGE Challenge 2 leaderboard (team: (total, its 95% CI), and the cells
#: we know of theirs). Source: the cage-challenge-2 repository's README (cage-challenge
#: organisation on GitHub): the sum of the 9 cell means, 1000 episodes per cell on
#: CybORG, with its own evaluation seed.
PUBLISHED = {
    "CardiffUni (published)": ((-54.57, 0.43), {("b_line", 100): -13.76, ("meander", 100): -16.6}),
    "Keeping it RL (published)": ((-56.9, 0.59), {("b_line", 100): -11.39, ("meander", 100): -19.38}),
    "Mindrake (published)": ((-57.05, 0.56), {("b_line", 100): -12.78, ("meander", 100): -17.65}),
}


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Per (policy, red, steps) of per-episode rows (column ``return``): episodes, mean,
    sd, and the 95% CI half-width of the mean."""
    g = df.groupby(["policy", "red", "steps"], sort=False)["return"]
    s = g.agg(episodes="count", mean="mean", sd="std").reset_index()
    s["sd"] = s["sd"].fillna(0.0)
    s["ci95"] = 1.96 * s["sd"] / (s["episodes"] ** 0.5)
    return s


def table_rows(summary: pd.DataFrame, published: bool = False) -> tuple[list[str], list[list[str]], str]:
    """(header, rows, note) of the table for ``summarise`` output, best total first.

    published: add ``PUBLISHED`` below ours, only when all 9 CAGE2 cells are there (else
    ``note`` says why they are not shown; it is empty otherwise).
    """
    cells = list(dict.fromkeys(zip(summary["red"], summary["steps"])))
    complete = set(cells) == CAGE2_CELLS
    total_name = "total" if complete else f"total of {len(cells)} cell{'s' * (len(cells) != 1)}"
    header = ["policy", *(f"{r} {t}" for r, t in cells), total_name]
    ours = []
    for policy, p in summary.groupby("policy", sort=False):
        by = {(r, t): (m, c) for r, t, m, c in zip(p["red"], p["steps"], p["mean"], p["ci95"])}
        total = sum(m for m, _ in by.values())
        total_ci = math.sqrt(sum(c * c for _, c in by.values()))
        row = [str(policy), *(f"{by[c][0]:.1f} ± {by[c][1]:.1f}" if c in by else "" for c in cells),
               f"{total:.1f} ± {total_ci:.1f}"]
        ours.append((total, row))
    rows = [row for _, row in sorted(ours, key=lambda x: -x[0])]
    note = ""
    if published and complete:
        for team, ((total, ci), known) in PUBLISHED.items():
            rows.append([team, *(f"{known[c]:.2f}" if c in known else "" for c in cells), f"{total:.2f} ± {ci:.2f}"])
    elif published:
        note = (f"The published CAGE2 totals sum 9 cells (3 reds x 30/50/100 steps); this table has "
                f"{len(cells)}, so they are not shown beside it (run `wrl evaluate --protocol cage2`).")
    return header, rows, note


def markdown_table(summary: pd.DataFrame, published: bool = False) -> str:
    """``table_rows`` as a markdown table (and its note below, when there is one)."""
    header, rows, note = table_rows(summary, published)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines + ([f"\n{note}"] if note else []))


def rst_table(summary: pd.DataFrame, published: bool = False) -> str:
    """``table_rows`` as an RST csv-table (and its note below, when there is one)."""
    header, rows, note = table_rows(summary, published)
    lines = [".. csv-table::", "   :header-rows: 1", "", "   " + ", ".join(header)]
    lines += ["   " + ", ".join(f'"{v}"' for v in row) for row in rows]
    return "\n".join(lines + ([f"\n{note}"] if note else []))
