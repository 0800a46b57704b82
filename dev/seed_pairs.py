"""Do two search seeds name answers that lie in each other's credible top set? (issue 20, item 6)

Usage: .venv/bin/python dev/seed_pairs.py [--table docs/data/exhaustive_heldout.parquet] [--seeds 40]
       [--config config.yaml]

Replays the config's search (``wrl.search.replay``, the pipeline's picks and verdict, the
config's noise_sd and seed_effect_sd) on the exhaustive table for search seeds 0..N-1,
each workflow's j-th run being its table run at seed j, as the pipeline trains it
(``train.seed + j``; the table's runs are the pipeline's candidates on this machine). Prints,
over every pair of seeds, how often both answers lie in the other's 90% credible set, how
often at least one does, and the mean set size.
"""
import argparse
import itertools

import numpy as np
import pandas as pd

from wrl.run.config import load_search_section
from wrl.search.landscapes import TableOracle
from wrl.search.replay import replay


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default="docs/data/exhaustive_heldout.parquet")
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--config", default=None)
    args = parser.parse_args()
    table = pd.read_parquet(args.table)
    cfg = load_search_section(args.config)
    options = {"design_runs": cfg["design_runs"], "replicate_rounds": cfg["replicate_rounds"],
               "max_repeats": cfg["max_repeats"]}
    found = [replay("position", TableOracle(table, None, truth="all"), cfg["rounds"], cfg["batch"],
                    cfg["noise_sd"], seed, cfg["flat_margin"], options, cfg["seed_effect_sd"])
             for seed in range(args.seeds)]
    both = either = 0
    for a, b in itertools.combinations(found, 2):
        a_in_b, b_in_a = a.answer in b.credible, b.answer in a.credible
        both += a_in_b and b_in_a
        either += a_in_b or b_in_a
    pairs = args.seeds * (args.seeds - 1) // 2
    print(f"{args.seeds} search seeds, {pairs} pairs: both answers in the other's set {both / pairs:.2f}, "
          f"at least one {either / pairs:.2f}; mean set size {np.mean([len(o.credible) for o in found]):.0f}; "
          f"distinct answers {len({o.answer for o in found})}; called flat {np.mean([o.flat for o in found]):.2f}")


if __name__ == "__main__":
    main()
