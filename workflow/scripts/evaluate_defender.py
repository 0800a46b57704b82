"""Snakemake glue: the CAGE2 protocol on the defender (wrl.eval.evaluate)."""
from pathlib import Path

from glue import log_to
from wrl.eval.evaluate import CAGE2, evaluate_policy, leaderboard, write_results

if __name__ == "__main__":  # CybORG pools spawn workers that re-import this file
    sm = snakemake  # noqa: F821
    log_to(sm.log[0])
    cfg = sm.params.evaluate
    df = evaluate_policy(sm.input.policy, cfg["backend"], CAGE2["red"], CAGE2["steps"], cfg["episodes"],
                         workers=sm.threads)
    published = cfg["backend"] == "cyborg"  # the published rows were scored on CybORG
    write_results(df, Path(sm.output.markdown).parent, published=published)
    print(leaderboard(df, published=published))
