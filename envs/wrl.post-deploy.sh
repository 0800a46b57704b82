#!/usr/bin/env bash
# Run by Snakemake inside the new conda env (cwd: the workflow's working directory, the
# repository root): add what a requirements list cannot express.
set -euo pipefail
python -m pip install --no-deps gym-csle-cyborg==0.10.1   # Scenario 2 definition only
python -m pip install --no-deps -e .                      # wrl itself; deps are in wrl.yaml
