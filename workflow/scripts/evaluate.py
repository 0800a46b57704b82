"""Snakemake glue: evaluate the best policy and the baselines (wrl.report.figures.evaluate_best)."""
from pathlib import Path

from glue import log_to
from wrl.report.figures import evaluate_best

if __name__ == "__main__":  # evaluation pools spawn workers that re-import this file
    sm = snakemake  # noqa: F821
    log_to(sm.log[0])
    evaluate_best(sm.input.best, sm.params.evaluate, Path(sm.output.markdown).parent, workers=sm.threads,
                  plain_policy=sm.input.plain)
