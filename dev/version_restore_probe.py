"""Does a Restore make a user host immune to Haraka on the CybORG the leaderboard was scored on?

Usage: .venv/bin/python dev/version_restore_probe.py POLICY.pt [--red b_line] [--episodes 200] [--steps 100] [--seed 7] [--workers 2]

The CAGE2 entries were scored on CybORG v2.1 (cage-challenge-2). Its
``ProcessVersion.parse_string`` (CybORG/Shared/Enums.py, as stored at commit b894013f of
cage-challenge/cage-challenge-2) maps anything that is not one of its known version strings
to ``UNKNOWN``; csle-cyborg 0.0.3 (``csle_cyborg/shared/enums.py``) returns a value that is
already a ``ProcessVersion`` as it is. A host's backup, and every process a Restore rebuilds
from it (``Host.create_backup``, ``Host.restore``), passes the enum, so on v2.1 a restored
User3 or User4 runs a Haraka of version UNKNOWN, and ``HarakaRCE`` (which needs a version
below 2.8.9) fails there for the rest of the episode. Haraka is red's first choice on those
hosts (75% of its attempts).

This plays POLICY greedily on the real CybORG (csle-cyborg, one env in this process) in
four arms on the same seeds: csle-cyborg as it is, or with v2.1's ``parse_string`` put back
(``v21``); POLICY alone, or with one rule on top (``+rule``), played while the agent's own
red guess is B_line: the first time User3 or User4 shows red (exploit activity or a
compromise), Restore it once; afterwards, each exploit seen there is answered by a Remove (the shells left after Haraka fails, HTTP and HTTPS,
are user shells a Remove clears before red escalates). Prints each arm's mean return ±
SE per episode for 30, 50 and 100 steps (the first steps of the same episodes), and the
share of episodes whose rule fired. The numbers behind
docs/training.md, "The published B_line rows".
"""
import argparse
import multiprocessing
import time

import numpy as np

from wrl.env.cyborg import CyborgEnv
from wrl.env.scenario import HOST_INDEX, action_id
from wrl.rl.agent import load
from wrl.rl.state import GUESSES

WATCHED = ("User3", "User4")
B_LINE = GUESSES.index("b_line")


def v21_parse_string(original):
    """``ProcessVersion.parse_string`` as CybORG v2.1 had it: a version that is not a known
    string (a ProcessVersion passed back in, say) becomes UNKNOWN."""
    def parse(cls, version_string):
        if version_string is not None and not isinstance(version_string, str):
            return cls.UNKNOWN
        return original(version_string)
    return classmethod(parse)


def set_rules(v21: bool) -> None:
    """csle-cyborg's ``parse_string`` (v21 False) or v2.1's (True), for every later Process."""
    from csle_cyborg.shared.enums import ProcessVersion

    if not hasattr(ProcessVersion, "_csle_parse_string"):
        ProcessVersion._csle_parse_string = ProcessVersion.__dict__["parse_string"]
    csle = ProcessVersion._csle_parse_string
    ProcessVersion.parse_string = v21_parse_string(csle.__func__.__get__(ProcessVersion)) if v21 else csle


def play(policy: str, red: str, episodes: int, steps: int, seed: int, rule: bool) -> tuple[np.ndarray, float]:
    """(rewards float64[episodes, steps], share of episodes in which the rule restored a host)."""
    env, agent = CyborgEnv(red, max_steps=steps, seed=seed), load(policy)
    rewards, fired = np.zeros((episodes, steps)), 0
    for ep in range(episodes):
        obs, first = env.reset(), True
        restored = {h: False for h in WATCHED}
        for t in range(steps):
            logits, _ = agent.logits(obs[None], np.array([first]))
            a = int(logits.argmax(-1)[0])
            for h in WATCHED if rule and agent.state.guess()[0] == B_LINE else ():
                o = obs[4 * HOST_INDEX[h]: 4 * HOST_INDEX[h] + 4]
                exploit, compromised = o[0] > 0 and o[1] > 0, o[2] > 0 or o[3] > 0
                if not restored[h] and (exploit or compromised):
                    a, restored[h] = action_id("Restore", h), True
                    break
                if restored[h] and exploit:
                    a = action_id("Remove", h)
                    break
            agent.state.record(np.array([a]))
            obs, reward, _ = env.step(a)
            rewards[ep, t] = reward
            first = False
        fired += any(restored.values())
    return rewards, fired / episodes


def arm(args: tuple) -> str:
    """One arm (policy, red, episodes, steps, seed, v21, rule), played in this process; its line."""
    policy, red, episodes, steps, seed, v21, rule = args
    set_rules(v21)
    start = time.time()
    rewards, fired = play(policy, red, episodes, steps, seed, rule)
    cells = []
    for t in (30, 50, 100):  # an episode's first t steps are a t-step episode's
        if t <= steps:
            r = rewards[:, :t].sum(axis=1)
            cells.append(f"{red} {t} {r.mean():.2f} ± {r.std(ddof=1) / np.sqrt(len(r)):.2f}")
    return (f"{'v2.1 parse_string' if v21 else 'csle-cyborg 0.0.3'}, {'policy + rule' if rule else 'policy'}: "
            f"{'; '.join(cells)} ({episodes} episodes, rule fired in {fired:.0%}; {time.time() - start:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("policy")
    parser.add_argument("--red", default="b_line")
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2, help="processes, one arm each at a time")
    args = parser.parse_args()
    arms = [(args.policy, args.red, args.episodes, args.steps, args.seed, v21, rule)
            for v21 in (False, True) for rule in (False, True)]
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        for line in pool.imap(arm, arms):
            print(line, flush=True)


if __name__ == "__main__":
    main()
