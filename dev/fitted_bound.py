"""How low can regret go on the fitted landscape? A learner that knows its true model form.

Usage: .venv/bin/python dev/fitted_bound.py [--table docs/data/exhaustive.parquet] [--replays 2000]

The fitted landscape of ``wrl bench search`` is the table's position effects (25 of them)
plus seed noise. Here the learner is handed that model form: for each budget n it runs a
balanced non-adaptive design (the covering designs for n <= 120, every workflow n/120
times beyond), fits the 25 position effects by least squares and answers with the argmax
of the fit. Prints the mean regret per n (score points), against which random search's
regret at the default 40 runs (``wrl bench search``) can be read. The numbers behind
docs/pipeline.md, "Against issue 20's goal".
"""
import argparse

import numpy as np
import pandas as pd

from wrl.search.design import design_sequence
from wrl.search.landscapes import POSITIONS, fit_landscape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default="docs/data/exhaustive.parquet")
    parser.add_argument("--replays", type=int, default=2000)
    args = parser.parse_args()
    fit = fit_landscape(pd.read_parquet(args.table))
    truth, sd = fit["fitted"], fit["seed_sd"]
    print(f"fitted truth: sd {truth.std():.3f}, best minus mean {truth.max() - truth.mean():.3f}; seed sd {sd:.3f}")
    x = np.hstack([np.ones((len(truth), 1)), POSITIONS])
    rng = np.random.default_rng(0)
    for n in (40, 80, 160, 480):
        regret = np.empty(args.replays)
        for r in range(args.replays):
            idx = (np.array(design_sequence(int(rng.integers(1 << 30)), n)) if n <= len(truth)
                   else np.tile(np.arange(len(truth)), n // len(truth)))
            y = truth[idx] + sd * rng.standard_normal(len(idx))
            coef, *_ = np.linalg.lstsq(x[idx], y, rcond=None)
            regret[r] = truth.max() - truth[np.argmax(x @ coef)]
        print(f"{n} runs: mean regret {regret.mean():.3f} ± {regret.std(ddof=1) / np.sqrt(args.replays):.3f}")


if __name__ == "__main__":
    main()
