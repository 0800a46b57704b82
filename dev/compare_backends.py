"""Do two evaluations of one policy agree cell by cell (numba against the real CybORG)?

Usage: .venv/bin/python dev/compare_backends.py NUMBA/evaluation.parquet CYBORG/evaluation.parquet
       [--policy P] [--policy-b Q] [--k 3]

Both files are ``wrl evaluate --out`` outputs. For every (red, steps) cell of ``--policy``
(default: the only policy in both; ``--policy-b`` names it in the second file when the
two runs named the same weights differently) prints both means, their difference, the combined
standard error sqrt(se_a^2 + se_b^2), the difference in SEs and whether it is within
``--k`` combined SEs; the last line says how many cells agree.
"""
import argparse

import numpy as np
import pandas as pd

from wrl.eval.table import summarise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--policy", default=None)
    parser.add_argument("--policy-b", default=None)
    parser.add_argument("--k", type=float, default=3.0)
    args = parser.parse_args()
    frames = [pd.read_parquet(p) for p in (args.a, args.b)]
    policy = args.policy or sorted(set(frames[0]["policy"]) & set(frames[1]["policy"]))[0]
    names = (policy, args.policy_b or policy)
    a, b = (summarise(f[f["policy"] == name]).set_index(["red", "steps"]) for f, name in zip(frames, names))
    if not len(a.index.intersection(b.index)):
        parser.error(f"no (red, steps) cell of policy {names[0]!r} in {args.a} matches one of {names[1]!r} "
                     f"in {args.b}: name the second file's policy with --policy-b")
    rows = []
    for cell in a.index.intersection(b.index):
        se_a, se_b = (s.loc[cell, "sd"] / np.sqrt(s.loc[cell, "episodes"]) for s in (a, b))
        se = float(np.hypot(se_a, se_b))
        diff = a.loc[cell, "mean"] - b.loc[cell, "mean"]
        z = diff / se if se > 0 else 0.0
        rows.append({"red": cell[0], "steps": cell[1], "mean_a": a.loc[cell, "mean"], "mean_b": b.loc[cell, "mean"],
                     "diff": diff, "combined_se": se, "z": z, "agree": abs(z) <= args.k})
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    print(f"summary: {int(table['agree'].sum())}/{len(table)} cells agree within {args.k:g} combined SE "
          f"({policy}; a = {args.a}, b = {args.b})")


if __name__ == "__main__":
    main()
