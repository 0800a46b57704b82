"""Snakemake glue: the defender from its seeds' runs (wrl.eval.compose.write_composition)."""
from pathlib import Path

from glue import log_to
from wrl.eval.compose import write_composition

if __name__ == "__main__":
    sm = snakemake  # noqa: F821
    log_to(sm.log[0])
    table = write_composition(list(sm.input.policies), Path(sm.output.policy).parent,
                              sm.params.compose["episodes"], sm.params.compose["seed"], workers=sm.threads)
    print(table.round(2).to_string(index=False))
