"""Snakemake glue: figures and tables of the search (wrl.report.figures.make_report)."""
from glue import log_to
from wrl.report.figures import make_report

if __name__ == "__main__":
    sm = snakemake  # noqa: F821
    log_to(sm.log[0])
    make_report(list(sm.input.scores), list(sm.input.posteriors), sm.params.search, dict(sm.output.items()))
