"""The pipeline on a real single-node Slurm (Debian slurm-wlm + munge) on this host.

The fixture generates a minimal slurm.conf and a munge key in a temp dir, starts munged,
slurmctld and slurmd in the foreground as child processes (no system services are
touched), runs a tiny pipeline through ``snakemake --executor slurm --profile
profiles/slurm`` and always stops the daemons. Install the daemons with
``bash dev/install_slurm.sh``. When Slurm cannot be started here the test is skipped
with the reason (never passed silently).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "srun", "squeue", "scontrol", "sinfo", "scancel")


def _find(name: str) -> str | None:
    return shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/sbin") / name) if p.exists()), None
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SingleNodeSlurm:
    """munged + slurmctld + slurmd for this host, configured and kept under ``root``."""

    def __init__(self, root: Path):
        self.root = root
        self.procs: list[subprocess.Popen] = []
        conf = root / "slurm.conf"
        # The slurm-jobstep plugin strips SLURM_* (SLURM_CONF included) before its inner
        # srun; a real cluster has /etc/slurm/slurm.conf, this one lives here, so an srun
        # wrapper first on PATH puts SLURM_CONF back.
        wrapper = root / "bin" / "srun"
        wrapper.parent.mkdir()
        wrapper.write_text(f'#!/bin/sh\nSLURM_CONF={conf} exec {_find("srun")} "$@"\n')
        wrapper.chmod(0o755)
        self.env = {**os.environ, "SLURM_CONF": str(conf), "PATH": f"{wrapper.parent}:{os.environ['PATH']}"}

    def _conf(self) -> str:
        node = subprocess.run([_find("slurmd"), "-C"], capture_output=True, text=True, check=True)
        node_line = node.stdout.splitlines()[0]  # NodeName=<host> CPUs=.. RealMemory=..
        host = node_line.split()[0].split("=", 1)[1]
        r = self.root
        return "\n".join([
            "ClusterName=wrltest",
            f"SlurmctldHost={host}",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={r}/munge/munge.sock",
            "SlurmUser=root",
            "SlurmdUser=root",
            f"StateSaveLocation={r}/state",
            f"SlurmdSpoolDir={r}/spool",
            f"SlurmctldPidFile={r}/slurmctld.pid",
            f"SlurmdPidFile={r}/slurmd.pid",
            f"SlurmctldLogFile={r}/slurmctld.log",
            f"SlurmdLogFile={r}/slurmd.log",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            "AccountingStorageType=accounting_storage/none",
            "JobAcctGatherType=jobacct_gather/none",
            "JobCompType=jobcomp/none",
            "MpiDefault=none",
            "ReturnToService=2",
            "MinJobAge=300",  # >= 3 x the status-check interval: squeue sees finished jobs
            "SchedulerType=sched/backfill",
            f"{node_line} State=UNKNOWN",
            f"PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP",
            "",
        ])

    def _spawn(self, name: str, *args: str) -> None:
        log = open(self.root / f"{name}.out", "w")
        self.procs.append(subprocess.Popen([_find(name), *args], stdout=log, stderr=subprocess.STDOUT,
                                           env=self.env, start_new_session=True))

    def start(self, timeout: float = 60.0) -> None:
        """Start the daemons and wait for the node to be idle; RuntimeError says why not."""
        r = self.root
        for d in ("munge", "state", "spool"):
            (r / d).mkdir(mode=0o700)
        key = r / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        (r / "slurm.conf").write_text(self._conf())
        self._spawn("munged", "-F", "-f", f"--socket={r}/munge/munge.sock", f"--key-file={key}",
                    f"--pid-file={r}/munge/munged.pid", f"--log-file={r}/munge/munged.log",
                    f"--seed-file={r}/munge/munged.seed")
        self._wait(lambda: (r / "munge" / "munge.sock").exists(), 10, "munged did not create its socket")
        self._spawn("slurmctld", "-D", "-c", "-f", str(r / "slurm.conf"))
        self._spawn("slurmd", "-D", "-f", str(r / "slurm.conf"))
        self._wait(self._node_idle, timeout, "the node did not become idle")

    def _node_idle(self) -> bool:
        for p in self.procs:
            if p.poll() is not None:
                raise RuntimeError(f"{p.args[0]} exited with status {p.returncode}; {self.logs()}")
        out = self.run("sinfo", "-h", "-o", "%T")
        return out.returncode == 0 and out.stdout.strip() == "idle"

    def _wait(self, ready, timeout: float, why: str) -> None:
        end = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > end:
                raise RuntimeError(f"{why} within {timeout:.0f} s; {self.logs()}")
            time.sleep(0.5)

    def run(self, *cmd: str) -> subprocess.CompletedProcess:
        """Run a Slurm client command against this cluster."""
        return subprocess.run([_find(cmd[0]), *cmd[1:]], capture_output=True, text=True, env=self.env,
                              timeout=30)

    def logs(self) -> str:
        """The last lines of every daemon log, for error messages."""
        parts = []
        for name in ("munged.out", "slurmctld.out", "slurmctld.log", "slurmd.out", "slurmd.log"):
            path = self.root / name
            if path.exists():
                tail = path.read_text(errors="replace").strip().splitlines()[-5:]
                parts.append(f"[{name}] " + " | ".join(tail))
        return " ".join(parts) or "no daemon logs"

    def stop(self) -> None:
        """Cancel every job, then stop slurmd, slurmctld and munged (in that order)."""
        if self.procs and self.procs[-1].poll() is None:
            self.run("scancel", "--full", "--user", "root")
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.procs.clear()


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A running single-node Slurm; skips (with the reason) when it cannot run here."""
    missing = [n for n in DAEMONS + CLIENTS if _find(n) is None]
    if missing:
        pytest.skip(f"Slurm not installed (missing {', '.join(missing)}); run: bash dev/install_slurm.sh")
    if os.geteuid() != 0:
        pytest.skip("starting slurmctld/slurmd with SlurmUser=root needs root")
    cluster = SingleNodeSlurm(tmp_path_factory.mktemp("slurm"))
    try:
        try:
            cluster.start()
        except (RuntimeError, OSError, subprocess.SubprocessError) as err:
            print(f"cannot start Slurm here: {err}", file=sys.stderr)
            pytest.skip(f"cannot start Slurm here: {err}")
        yield cluster
    finally:
        cluster.stop()


@pytest.mark.slow
def test_tiny_pipeline_through_slurm_executor(slurm, tmp_path):
    (tmp_path / "config.yaml").write_text(
        "search: {rounds: 1, batch: 2}\n"
        "train: {backend: numba, envs: 16, episodes: 32}\n"
        "base: {enabled: false}\n"
        "resources: {train: {threads: 1, mem_mb: 1000, runtime: 10}}\n"
    )
    target = "results/report/best_workflows.csv"
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(tmp_path / "config.yaml"), "--executor", "slurm",
           "--profile", str(REPO / "profiles" / "slurm"), "--jobs", "2",
           "--slurm-init-seconds-before-status-checks", "2", target]
    run = subprocess.run(cmd, capture_output=True, text=True, env=slurm.env, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:] + slurm.logs()
    # every job (propose, 2 x train, report) ran as a Slurm job and completed
    states = slurm.run("squeue", "-h", "--states=all", "-o", "%j|%T").stdout.split()
    assert len(states) == 4 and all(s.endswith("|COMPLETED") for s in states), states
    assert (run.stdout + run.stderr).count("submitted with SLURM jobid") == 4
    proposed = json.loads((tmp_path / "results" / "round_0" / "proposals.json").read_text())["workflows"]
    for i in range(2):
        score = json.loads((tmp_path / "results" / "round_0" / f"cand_{i}" / "score.json").read_text())
        assert score["workflow"] == proposed[i] and score["episodes"] >= 32
    best = (tmp_path / target).read_text().splitlines()
    assert len(best) == 3 and best[0].startswith("rank,workflow")
