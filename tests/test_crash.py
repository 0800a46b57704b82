"""Crash anywhere, lose nothing: a tiny pipeline SIGKILLed at seeded random moments.

An uninterrupted run gives the reference: its files, their schemas, its duration D and
when each output appeared. ``KILLS`` moments T_1 < ... < T_K are drawn (seeded), one
uniformly in each K-th of (0, D). A second run is SIGKILLed, Snakemake and all its jobs at once, at each of them in
turn: attempt k runs (``--rerun-incomplete``) until it has every output the reference
had at T_k, then for as long as the reference ran between its last such output and T_k
(at most ``EVALUATE_GRACE`` s into the last job, evaluate, so that the kill lands before
the pipeline ends). So the kills fall at random stages of the whole pipeline: Snakemake's
start-up, proposals, training, the report, the evaluation. After each kill: ``--unlock``
and ``check_after_kill``. A last, uninterrupted rerun must then finish the pipeline.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from base64 import urlsafe_b64encode
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
CONFIG = """\
search: {rounds: 1, batch: 1}
train: {backend: numba, envs: 16, episodes: 96, checkpoint_minutes: 0}
base: {env_steps: 3200}
resources: {train: {threads: 1, mem_mb: 1000, runtime: 5}, evaluate: {threads: 1}}
evaluate: {backend: numba, red: [b_line], steps: [30], episodes: 2, baselines: [sleep]}
"""
KILLS = 5
SEED = 12
EVALUATE_GRACE = 0.5  #: s: the latest a kill comes after the evaluate job opens its log
CANDIDATES = ["results/round_0/cand_0", "results/plain_ppo"]
PNG_END = b"IEND\xaeB`\x82"

pytestmark = pytest.mark.slow


def snakemake(workdir: Path, *args: str) -> list[str]:
    """The command line running the repo's Snakefile in ``workdir`` (no profile)."""
    return [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(workdir / "config.yaml"), "--workflow-profile", "none", "--cores", "2",
            "--rerun-incomplete", *args]


def start(workdir: Path, log_name: str) -> subprocess.Popen:
    """Start the pipeline in its own process group, output to ``workdir/log_name``."""
    with open(workdir / log_name, "w") as log:
        return subprocess.Popen(snakemake(workdir), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def processes_in(workdir: Path) -> list[int]:
    """Pids of live processes whose working directory is ``workdir``."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and Path(os.readlink(entry / "cwd")) == workdir:
                pids.append(int(entry.name))
        except OSError:  # gone, or not ours to read
            pass
    return pids


def kill_group(proc: subprocess.Popen, workdir: Path) -> None:
    """SIGKILL Snakemake's whole process group and wait until none of it is left."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while processes_in(workdir):
        assert time.monotonic() < deadline, f"processes survived the kill: {processes_in(workdir)}"
        time.sleep(0.05)


def files(workdir: Path) -> set[str]:
    """Every file under ``workdir/results``, as paths relative to ``workdir``.

    Safe while the pipeline runs: ``os.walk`` skips a folder that vanishes between
    listing and reading it (a trainer's ``.parts`` folder, merged and removed).
    """
    return {os.path.relpath(os.path.join(root, name), workdir)
            for root, _, names in os.walk(workdir / "results") for name in names}


def temporaries(workdir: Path) -> list[str]:
    """The temporaries of ``wrl.atomic.atomic_write`` under ``workdir/results``."""
    return sorted(f for f in files(workdir) if Path(f).name.startswith(".") and ".tmp" in Path(f).name)


def shm_blocks() -> set[str]:
    """Shared-memory blocks of Python's multiprocessing."""
    return {f for f in os.listdir("/dev/shm") if f.startswith(("psm_", "wnsm_"))}


def leaked_shm(before: set[str]) -> set[str]:
    """Blocks made since ``before`` that no live process maps (others' pools in use are fine)."""
    new = shm_blocks() - before
    for maps in Path("/proc").glob("[0-9]*/maps"):
        try:
            text = maps.read_text()
        except OSError:  # gone, or not ours to read
            continue
        new = {name for name in new if f"/dev/shm/{name}" not in text}
    return new & shm_blocks()


def check_complete(path: Path, reference: Path | None) -> None:
    """``path`` (a file under its final name) is whole; Parquet: the reference's schema."""
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        if reference is not None and reference.exists():
            assert table.schema.equals(pq.read_schema(reference)), path
    elif path.suffix == ".json":
        json.loads(path.read_text())
    elif path.suffix == ".pt":
        with zipfile.ZipFile(path) as z:  # torch.save writes a zip archive: CRCs checked
            assert z.testzip() is None, path
    elif path.suffix == ".png":
        assert path.read_bytes().endswith(PNG_END), path
    elif path.suffix == ".csv":
        assert len(pd.read_csv(path)) > 0, path
    elif path.suffix == ".md":
        assert path.read_text().strip(), path


def marked_incomplete(workdir: Path, rel: str) -> bool:
    """Does Snakemake hold ``rel`` (an output) for incomplete, i.e. its job unfinished?"""
    return (workdir / ".snakemake" / "incomplete" / urlsafe_b64encode(rel.encode()).decode()).exists()


def finished_candidates(workdir: Path) -> dict[str, int]:
    """score.json -> mtime_ns of every candidate whose train job Snakemake recorded done."""
    done = {}
    for cand in CANDIDATES:
        score = f"{cand}/score.json"
        if (workdir / score).exists() and not marked_incomplete(workdir, score):
            done[score] = (workdir / score).stat().st_mtime_ns
    return done


def check_after_kill(workdir: Path, ref: Path, finished: dict[str, int]) -> None:
    """After a kill: every file under its final name is whole; finished candidates untouched.

    Adds newly finished candidates to ``finished`` (score.json -> mtime_ns).
    """
    for rel in files(workdir) - set(temporaries(workdir)):
        if not rel.endswith(".log"):  # job logs grow as they are written
            check_complete(workdir / rel, ref / rel)
    now = finished_candidates(workdir)
    for score, mtime in finished.items():
        assert now.get(score) == mtime, f"{score} was trained again"
    finished.update(now)


def outputs(workdir: Path) -> set[str]:
    """Files under their final names, job logs and the trainer's working files excepted."""
    return {f for f in files(workdir) - set(temporaries(workdir))
            if not f.endswith((".log", "checkpoint.pt")) and ".parts/" not in f}


def reference_run(workdir: Path) -> dict[str, float]:
    """Run the pipeline uninterrupted; returns when (s from its start) each output appeared."""
    proc, t0, seen = start(workdir, "run.log"), time.monotonic(), {}
    while proc.poll() is None:
        for rel in outputs(workdir) - set(seen):
            seen[rel] = time.monotonic() - t0
        time.sleep(0.05)
    assert proc.returncode == 0, (workdir / "run.log").read_text()[-4000:]
    seen.setdefault("end", time.monotonic() - t0)
    return {rel: t for rel, t in seen.items() if rel == "end" or (workdir / rel).exists()}


def evaluate_started(workdir: Path, since: float) -> bool:
    """Has the evaluate job (re)started since ``since`` (its log opened)?"""
    log = workdir / "results" / "logs" / "evaluate.log"
    return log.exists() and log.stat().st_mtime >= since


def run_killed(workdir: Path, timeline: dict[str, float], moment: float, log_name: str) -> bool:
    """Run the pipeline and SIGKILL it at the stage the reference had reached at ``moment``.

    Returns whether the kill hit a running pipeline (False: it had finished).
    """
    reached = {rel for rel, t in timeline.items() if t <= moment and rel != "end"}
    offset = moment - max([timeline[rel] for rel in reached], default=0.0)
    since = time.time() - 1.0  # mtime resolution margin
    proc = start(workdir, log_name)
    stage_at = evaluate_at = None
    while proc.poll() is None:
        now = time.monotonic()
        if stage_at is None and reached <= outputs(workdir):
            stage_at = now
        if evaluate_at is None and evaluate_started(workdir, since):
            evaluate_at = now
        if (stage_at is not None and now - stage_at >= offset) or (
                evaluate_at is not None and now - evaluate_at >= min(offset, EVALUATE_GRACE)):
            break
        time.sleep(0.02)
    hit = proc.poll() is None
    kill_group(proc, workdir)
    return hit


def test_pipeline_survives_sigkill_anywhere(tmp_path):
    shm_before = shm_blocks()
    ref, crash = tmp_path / "ref", tmp_path / "crash"
    for d in (ref, crash):
        d.mkdir()
        (d / "config.yaml").write_text(CONFIG)
    timeline = reference_run(ref)
    duration = timeline["end"]
    reference = files(ref)
    assert temporaries(ref) == [] and {f"{c}/score.json" for c in CANDIDATES} <= reference

    finished: dict[str, int] = {}
    moments = (np.arange(KILLS) + np.random.default_rng(SEED).uniform(size=KILLS)) * duration / KILLS
    for k, moment in enumerate(moments):
        assert run_killed(crash, timeline, moment, f"attempt_{k}.log"), f"kill {k + 1}: the pipeline had ended"
        print(f"kill {k + 1} at reference time {moment:.1f} s of {duration:.1f} s: "
              f"{len(outputs(crash))} of {len(timeline) - 1} outputs there", file=sys.stderr)
        unlock = subprocess.run(snakemake(crash, "--unlock"), capture_output=True, text=True)
        assert unlock.returncode == 0, unlock.stdout[-2000:]
        check_after_kill(crash, ref, finished)
    final = subprocess.run(snakemake(crash), capture_output=True, text=True)
    assert final.returncode == 0, final.stderr[-4000:]

    assert temporaries(crash) == [] and files(crash) == reference  # no stray file: parts, checkpoints
    for rel in reference:
        if not rel.endswith(".log"):
            check_complete(crash / rel, ref / rel)
    for cand in CANDIDATES:
        score = json.loads((crash / cand / "score.json").read_text())
        assert score.keys() == json.loads((ref / cand / "score.json").read_text()).keys()
        assert len(pd.read_parquet(crash / cand / "episodes.parquet")) == score["episodes"]
    finished_before = len(finished)
    check_after_kill(crash, ref, finished)  # candidates finished before a kill: not trained again
    assert leaked_shm(shm_before) == set()
    print(f"reference run {duration:.1f} s; {KILLS} kills survived; "
          f"{finished_before} candidates finished before the last kill, none trained again")
