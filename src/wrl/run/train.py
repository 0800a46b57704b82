"""One candidate's run: env pool + workflow-conditioned PPO + logs + checkpoints + score.

Jobs: ``wrl.run.collect`` fills each rollout (env pool, alignment reward, memory, episode
bookkeeping), ``wrl.run.checkpoint`` writes and restores ``checkpoint.pt``, this module runs
the loop (updates, budget, early stop, progress) and writes the outputs.

``train_candidate(train_cfg, workflow, out_dir)`` writes into ``out_dir``:
``episodes.parquet`` (one row per finished episode), ``updates.parquet`` (one row per
PPO update), ``policy.pt`` (``wrl.rl.model.load_policy``) and, last, ``score.json`` (the
completion marker: a rerun into a finished ``out_dir`` is a no-op returning it).

Learning reward: env reward + alignment reward, scaled (``wrl.run.collect``).

Base policy: ``workflow="all"`` trains one policy across all 120 workflows: each env
draws a workflow afresh at every episode start, uniformly, from (seed, env, episode)
(``wrl.env.seeding``), feeds its one-hot to the policy and earns the alignment reward of
that workflow; ``episodes.parquet``'s workflow column names each episode's. Candidates
then fine-tune from it (``init_policy``).

Budget: ``env_steps`` when set (not null), else ``episodes`` (finished episodes over all
envs); checked after each update, so a run may overshoot by at most one rollout.

Score (what the search sees), by ``score.by``: ``training``, each env's last 3 finished
episodes (``wrl.run.episodes``, which also writes ``episodes.parquet``), or ``heldout``,
the kept policy's greedy returns on held-out numba seeds (``wrl.run.heldout``,
``score.episodes`` per red). Either way score.json has score, ``score_se`` and per-red
scores; ``training_score`` and ``training_score_se`` always give the training's, and
compliance is the training's. NaN is written as null in score.json.

Checkpoint/resume: every ``checkpoint_minutes`` (0: after every update) the logs are
flushed and ``checkpoint.pt`` is written atomically (policy, optimiser, torch/numpy RNG
states, counters, score rings, the number of flushed log parts). A rerun into the same
``out_dir`` resumes from it: log parts written after the checkpoint are dropped, episodes
that were in progress at the checkpoint are abandoned (each env's episode counter
continues, so the (env_id, episode) rows stay unique and gap-free), and the env pool is
re-created with seed ``pool_seed(seed, resumes)`` = SeedSequence([seed, resumes]), a
fresh stream for each resume (resumes = 0 for the first run, which uses ``seed`` itself).
Abandoned episodes get no row in episodes.parquet; score.json's ``abandoned_episodes``
counts them over all resumes (episodes still running when the budget is reached are not
logged either, and not counted). A rerun first deletes the temporaries that killed
atomic writes left (``wrl.atomic.clean_stale_temporaries``).
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from wrl.atomic import clean_stale_temporaries, write_json
from wrl.run.checkpoint import Counters, read_checkpoint, restore_checkpoint, write_checkpoint
from wrl.errors import UsageError
from wrl.run.collect import WORKFLOW_TEXT, Collector
from wrl.run.config import validate_train_config
from wrl.run.episodes import EPISODE_SCHEMA, EpisodeBook
from wrl.env.red import RED_AGENTS
from wrl.run.lock import directory_lock
from wrl.run.logbook import Table, remove_parts
from wrl.run.progress import Progress
from wrl.run.heldout import BEST_NAME, heldout_returns, heldout_score
from wrl.rl.model import ActorCritic, load_policy, save_policy
from wrl.rl.ppo import PPOConfig, RewardScaler, advantages, ppo_update
from wrl.timing import SectionTimer
from wrl.env.vec import make_vec
from wrl.workflow import format_workflow, parse_workflow

ALL = "all"  #: the workflow argument of a base policy (every env draws one per episode)
LOG_NAMES = ("episodes.parquet", "updates.parquet")  #: the Parquet logs in out_dir

UPDATE_SCHEMA = pa.schema([
    ("update", pa.int64()), ("global_step", pa.int64()), ("policy_loss", pa.float64()),
    ("value_loss", pa.float64()), ("entropy", pa.float64()), ("approx_kl", pa.float64()),
    ("clip_frac", pa.float64()), ("explained_var", pa.float64()), ("score", pa.float64()),
    ("compliance", pa.float64()), ("steps_per_s", pa.float64()), ("wall_s", pa.float64()),
    ("heldout", pa.float64()), *((f"heldout_{red}", pa.float64()) for red in RED_AGENTS),
])


def pool_seed(seed: int, resumes: int) -> int:
    """Seed of the env pool after ``resumes`` resumes: ``seed`` itself first, then derived."""
    if resumes == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(resumes)]).generate_state(1, np.uint32)[0])


def set_threads(threads: int | None) -> None:
    """Use ``threads`` CPU threads in torch and numba (None leaves the defaults)."""
    if threads is None:
        return
    import numba

    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


class CandidateRun:
    """One candidate's training (fresh or resumed from ``out/checkpoint.pt``): the policy,
    its optimiser and counters, the logs, and a ``Collector`` that fills each rollout."""

    def __init__(self, cfg: dict, workflow: str, out: Path, init_policy: str | None, threads: int | None):
        self.cfg, self.workflow, self.out = cfg, workflow, out
        self.device = torch.device(
            "cuda" if cfg["device"] == "cuda" or (cfg["device"] == "auto" and torch.cuda.is_available())
            else "cpu")
        self.ppo = PPOConfig.from_config(cfg)
        base = workflow == ALL
        ckpt = read_checkpoint(out / "checkpoint.pt")
        if ckpt is None:
            (out / BEST_NAME).unlink(missing_ok=True)
            torch.manual_seed(cfg["seed"])
            np.random.seed(cfg["seed"])
        # a base policy's own (default) workflow is the base order; every step passes its env's
        self.model = ActorCritic(WORKFLOW_TEXT[0] if base else workflow, tuple(cfg["hidden"]),
                                 cfg["activation"], cfg["condition_on_workflow"], cfg["memory"],
                                 cfg["mask_decoys"], cfg["specialists"], cfg["next_decoy"])
        if ckpt is None and init_policy is not None:
            self._warm_start(init_policy)
        self.model.to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.ppo.lr, eps=1e-5)
        self.scaler = RewardScaler(cfg["envs"], self.ppo.gamma)
        self.counters, parts = Counters(), {"episodes": 0, "updates": 0}
        if ckpt is not None:
            self.counters, parts = restore_checkpoint(
                ckpt, out / "checkpoint.pt", workflow=workflow, config=cfg, model=self.model,
                optimizer=self.optimizer, device=self.device, scaler=self.scaler)
        self.book = EpisodeBook(cfg["envs"], Table(out / LOG_NAMES[0], EPISODE_SCHEMA, parts["episodes"]))
        if ckpt is not None:
            self.book.load(ckpt["book"])
        self.updates_log = Table(out / LOG_NAMES[1], UPDATE_SCHEMA, parts["updates"])
        self.pool_seed = pool_seed(cfg["seed"], self.counters.resumes)
        env = make_vec(cfg["backend"], cfg["envs"], cfg["red"], cfg["green"], cfg["max_steps"],
                       self.pool_seed, workers=None if threads is None else min(threads, cfg["envs"]))
        self.timer = SectionTimer(enabled=False, device=self.device)  # wrl bench train enables it
        self.collector = Collector(cfg, None if base else workflow, env, self.book, self.device, self.timer)
        self.t0 = time.monotonic()

    def _warm_start(self, path: str) -> None:
        source = load_policy(path)
        if source.design() != self.model.design():
            raise UsageError(f"field init_policy: {path} has {source.design()}; this run needs {self.model.design()}")
        self.model.load_state_dict(source.state_dict())

    def flush_logs(self) -> None:
        """Write the buffered rows of both logs as parts."""
        self.book.log.flush()
        self.updates_log.flush()

    def checkpoint(self) -> None:
        """Flush the logs and write ``checkpoint.pt`` atomically (``wrl.run.checkpoint``)."""
        self.flush_logs()
        write_checkpoint(self.out / "checkpoint.pt", workflow=self.workflow, config=self.cfg, model=self.model,
                         optimizer=self.optimizer, device=self.device, scaler=self.scaler,
                         counters=self.counters, wall=self.wall(), pool_seed=self.pool_seed, book=self.book,
                         parts={"episodes": self.book.log.parts, "updates": self.updates_log.parts})

    def wall(self) -> float:
        """Seconds of training so far, over all runs of this candidate."""
        return self.counters.wall_before + time.monotonic() - self.t0

    def _budget(self) -> tuple[int, int, str]:
        if self.cfg["env_steps"] is not None:
            return self.counters.global_step, self.cfg["env_steps"], "env-steps"
        return self.book.episodes_done, self.cfg["episodes"], "episodes"

    def updates(self):
        """The PPO loop, top to bottom, until the budget is spent; yields each update's row
        (``UPDATE_SCHEMA``), so a caller may stop early."""
        self.collector.start()  # reset the env pool: every env starts a fresh episode
        last_ckpt = time.monotonic()
        while self._budget()[0] < self._budget()[1]:
            t_start, step0 = time.monotonic(), self.counters.global_step
            self._anneal_lr()
            rollout = self.collector.collect(self.model, self.scaler, self.counters, self.wall)
            adv, returns = advantages(rollout, self.ppo)
            stats = ppo_update(self.model, self.optimizer, rollout, adv, returns, self.ppo)
            self.timer.lap("update")
            self.counters.updates += 1
            heldout = self.select() if self._select_due() else {}
            row = self.log_update(stats, heldout, (self.counters.global_step - step0) / (time.monotonic() - t_start))
            yield row
            if time.monotonic() - last_ckpt >= 60.0 * self.cfg["checkpoint_minutes"]:
                self.checkpoint()
                last_ckpt = time.monotonic()

    def _anneal_lr(self) -> None:
        """Set the learning rate for the next update: ``lr`` linearly to ``lr_end`` over
        the budget (constant ``lr`` when ``lr_end`` is null)."""
        if self.cfg["lr_end"] is None:
            return
        done, total, _ = self._budget()
        lr = self.ppo.lr + (self.cfg["lr_end"] - self.ppo.lr) * min(done / total, 1.0)
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def _select_due(self) -> bool:
        every = self.cfg["select"]["every_updates"]
        return bool(every) and self.counters.updates % every == 0

    def log_update(self, stats: dict, heldout: dict, steps_per_s: float) -> dict:
        """Append the update's row to ``updates.parquet`` (PPO ``stats``, training score and
        compliance, ``heldout`` returns when checked, env-steps/s) and return it."""
        score, compliance, _ = self.book.score()
        row = {"update": self.counters.updates, "global_step": self.counters.global_step, **stats,
               "score": score, "compliance": compliance, "steps_per_s": steps_per_s, "wall_s": self.wall(),
               "heldout": math.nan, **{f"heldout_{red}": math.nan for red in RED_AGENTS}, **heldout}
        self.updates_log.append(**{k: [v] for k, v in row.items()})
        return row

    def select(self) -> dict:
        """``heldout_returns`` of the current policy (``select.episodes`` per red); a new
        best ``heldout`` writes the policy to ``best.pt``."""
        result = heldout_returns(self.model, self.cfg, self.cfg["select"]["episodes"])
        c = self.counters
        if result["heldout"] > c.best_heldout:
            c.best_heldout, c.best_heldout_update = result["heldout"], c.updates
            save_policy(self.model, self.out / BEST_NAME)
        return result

    def _early_stop(self, row: dict) -> bool:
        """Track the best score; True once compliance and patience say stop (``early_stop``)."""
        c, early = self.counters, self.cfg["early_stop"]
        if row["score"] > c.best_score:
            c.best_score, c.since_best = row["score"], 0
        else:
            c.since_best += 1
        return early["enabled"] and row["compliance"] >= early["compliance"] and c.since_best >= early["patience"]

    def train(self) -> dict:
        """Run PPO until the budget (or early stop); write the outputs; return the score dict."""
        done_count, total, unit = self._budget()
        progress = Progress(total, unit, done_count)
        stop_reason = "budget"
        try:
            for row in self.updates():
                progress.update(self._budget()[0], {"episodes": self.book.episodes_done,
                                                    "steps/s": f"{row['steps_per_s']:.0f}",
                                                    "return": f"{row['score']:.1f}",
                                                    "compliance": f"{row['compliance']:.2f}"})
                if self._early_stop(row):
                    stop_reason = "early_stop"
                    break
        finally:
            progress.close()
        return self._finish(stop_reason)

    def _finish(self, stop_reason: str) -> dict:
        training_score, compliance, align = self.book.score()
        training_errors = self.book.score_errors()
        if self.cfg["select"]["every_updates"]:
            self.select()  # the last policy competes too
            os.replace(self.out / BEST_NAME, self.out / "policy.pt")
        else:
            save_policy(self.model, self.out / "policy.pt")
        if self.cfg["score"]["by"] == "heldout":
            kept = load_policy(self.out / "policy.pt", device=str(self.device))
            score = heldout_score(kept, self.cfg, self.cfg["score"]["episodes"])
        else:
            score = {"score": training_score, **training_errors}
        self.book.log.finish()
        self.updates_log.finish()
        c = self.counters
        result = {
            "workflow": self.workflow, **score, "score_by": self.cfg["score"]["by"],
            "training_score": training_score, "training_score_se": training_errors["score_se"],
            "compliance": compliance,
            "alignment_return": align, "episodes": int(self.book.episodes_done),
            "env_steps": int(c.global_step), "updates": c.updates, "wall_s": round(self.wall(), 3),
            "seed": self.cfg["seed"], "backend": self.cfg["backend"], "red": self.cfg["red"],
            "green": self.cfg["green"], "envs": self.cfg["envs"], "lam": self.cfg["lam"],
            "resumes": c.resumes, "abandoned_episodes": c.abandoned, "device": self.device.type,
            "stop_reason": stop_reason, "heldout_best": c.best_heldout if c.best_heldout_update >= 0 else None,
            "heldout_best_update": c.best_heldout_update if c.best_heldout_update >= 0 else None,
        }
        write_json(self.out / "score.json", result)  # NaN -> null
        tidy_finished(self.out)
        return json.loads((self.out / "score.json").read_text())

    def close(self) -> None:
        """Free the env pool."""
        self.collector.env.close()


def tidy_finished(out: Path) -> None:
    """Delete what a finished run (score.json written) no longer needs in ``out``.

    The checkpoint goes first, then the log parts and stale temporaries: a run killed
    midway through this leaves no checkpoint that expects deleted parts.
    """
    (out / "checkpoint.pt").unlink(missing_ok=True)
    for name in LOG_NAMES:
        remove_parts(out / name)
    clean_stale_temporaries(out)


def train_candidate(train_cfg: dict, workflow: str, out_dir: str | os.PathLike,
                    init_policy: str | None = None, threads: int | None = None) -> dict:
    """Train one workflow candidate; returns (and writes to ``out_dir/score.json``) its score dict.

    train_cfg: the ``train`` config section (defaults filled in for missing keys);
    workflow: ``'defender,enterprise,...'`` or ``'all'`` (a base policy); init_policy: a policy.pt whose weights start
    the run (not its optimiser); threads: CPU threads for torch, numba and the pool.
    Keys of the result: workflow, score, score_se, scores_by_red, score_se_by_red,
    score_by, training_score, training_score_se, compliance, alignment_return, episodes,
    env_steps, updates, wall_s, seed, backend, red, green, envs, lam, resumes,
    abandoned_episodes, device, stop_reason. A finished
    ``out_dir`` (score.json present) is returned as is.
    """
    cfg = validate_train_config(train_cfg)
    try:
        wf = ALL if workflow == ALL else format_workflow(parse_workflow(workflow))
    except ValueError as err:
        raise UsageError(f"field workflow: {err} (or 'all' for a base policy)") from None
    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or threads < 1):
        raise UsageError(f"field threads: {threads!r} is not a positive integer; fix: e.g. --threads 2")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"field out: {out} is a file, not a directory; fix: pass a new directory "
                         "(or the directory of the run to resume)")
    out.mkdir(parents=True, exist_ok=True)
    with directory_lock(out):
        if (out / "score.json").exists():
            tidy_finished(out)
            return json.loads((out / "score.json").read_text())
        for stale in (*LOG_NAMES, "policy.pt"):
            (out / stale).unlink(missing_ok=True)
        clean_stale_temporaries(out)
        set_threads(threads)
        run = CandidateRun(cfg, wf, out, init_policy, threads)
        try:
            return run.train()
        finally:
            run.close()
