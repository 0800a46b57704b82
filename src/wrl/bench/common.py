"""What every ``wrl bench`` shares: argument parsers and the printed table."""
from __future__ import annotations

import argparse


def parse_ints(text: str) -> list[int]:
    """``'256,1024'`` -> [256, 1024] (positive integers)."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give positive integers, comma-separated")
    return values


def parse_budgets(text: str) -> list[tuple[int, int]]:
    """``'3x4,6x4'`` -> [(3, 4), (6, 4)]: (rounds, batch) pairs of positive integers."""
    try:
        pairs = [tuple(int(v) for v in item.split("x")) for item in text.split(",")]
    except ValueError:
        pairs = []
    if not pairs or any(len(p) != 2 or min(p) < 1 for p in pairs):
        raise argparse.ArgumentTypeError(f"{text!r}: give ROUNDSxBATCH pairs, comma-separated, e.g. 3x4,6x4")
    return pairs


def parse_overrides(pairs: list[str]) -> dict:
    """``--set key=value`` pairs as a dict of train config fields (search: of the position
    design's options, e.g. design_runs=12; values parsed as YAML)."""
    import yaml

    from wrl.errors import UsageError

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--set {pair!r}: write FIELD=VALUE, e.g. --set epochs=2")
        out[key] = yaml.safe_load(value)
    return out


def print_table(header: list[str], rows: list[list], summary: str) -> None:
    """Print a fixed-width table followed by a one-line summary (the last line)."""
    cells = [header] + [[f"{c:,.0f}" if isinstance(c, float) and abs(c) >= 100 else
                         f"{c:.2f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for k, r in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
        if k == 0:
            print("  ".join("-" * w for w in widths))
    print(summary)
