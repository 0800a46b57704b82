#!/usr/bin/env bash
# Install a single-host Slurm (Debian's slurm-wlm) and munge for tests/test_slurm.py.
# Idempotent: does nothing when slurmctld, slurmd, sbatch, squeue and munged are present.
# Needs root (apt-get). The test starts and stops the daemons itself; nothing is
# enabled or started here.
set -euo pipefail
have_all() {
    for c in slurmctld slurmd sbatch squeue scontrol munged; do
        command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || return 1
    done
}
have_all && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "install_slurm: needs root to apt-get install slurm-wlm munge" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends slurm-wlm munge
have_all || { echo "install_slurm: slurm-wlm installed but a daemon is missing" >&2; exit 1; }
