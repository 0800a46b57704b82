"""Snakemake glue: the report's first page (wrl.report.answer.write_answer)."""
from glue import log_to
from wrl.report.answer import write_answer

if __name__ == "__main__":
    sm = snakemake  # noqa: F821
    log_to(sm.log[0])
    write_answer(list(sm.input.scores), sm.params.search, sm.input.leaderboard, sm.params.template,
                 sm.params.train, sm.params.backend, sm.output.answer, plain_score=sm.input.plain)
