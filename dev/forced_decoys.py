"""Would a policy do better with more decoys early? Force decoys into its idle steps.

Usage: .venv/bin/python dev/forced_decoys.py POLICY.pt [--decoys DecoyTomcat:Enterprise0,...]
       [--until 15] [--episodes 1000] [--seed 7]

Plays POLICY greedily on numba against B_line and Meander (100 and 30 steps), as it is
and with a change: in the first ``--until`` steps of an episode, whenever the policy's
greedy action is an Analyse (its idle action), it places instead the first decoy of
``--decoys`` that its mask still allows. Prints the mean return ± SE of each cell, both
ways, on the same seeds. The probe behind docs/training.md's next-decoy lever (it is a
measurement of a policy, not a defender: the product learns its decoys).
"""
import argparse

import numpy as np

from wrl.env.scenario import ACTION_KIND, KIND_INDEX, action_id
from wrl.rl.agent import load
from wrl.rl.play import play


class ForcedDecoys:
    """Greedy POLICY whose Analyse steps before ``until`` become the first allowed decoy of ``ids``."""

    def __init__(self, path: str, ids: list[int], until: int):
        self.policy, self.ids, self.until, self.t = load(path), ids, until, None

    def act(self, obs, first, info=None):
        """int64[N] actions for obs float32[N,52] (``first`` bool[N] starts episodes)."""
        first = np.asarray(first, bool)
        if self.t is None:
            self.t = np.zeros(len(first), int)
            first = np.ones(len(first), bool)
        self.t[first] = 0
        logits, mask = self.policy.logits(obs, first)
        actions = logits.argmax(-1).numpy()
        idle = (ACTION_KIND[actions] == KIND_INDEX["Analyse"]) & (self.t < self.until)
        for i in np.flatnonzero(idle):
            allowed = [a for a in self.ids if mask[i, a]]
            if allowed:
                actions[i] = allowed[0]
        self.policy.state.record(actions)
        self.t += 1
        return actions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("policy")
    parser.add_argument("--decoys", default="DecoyTomcat:Enterprise0,DecoyHarakaSMPT:Enterprise0,"
                                            "DecoyVsftpd:Enterprise0,DecoyApache:Enterprise0")
    parser.add_argument("--until", type=int, default=15)
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    ids = [action_id(*item.split(":")) for item in args.decoys.split(",")]
    for name, until in (("as trained", 0), (f"decoys forced before step {args.until}", args.until)):
        cells = []
        for red in ("b_line", "meander"):
            for steps in (100, 30):
                r = play(ForcedDecoys(args.policy, ids, until), "numba", red, args.episodes,
                         steps=steps, seed=args.seed)["returns"]
                cells.append(f"{red} {steps}: {r.mean():.2f} ± {r.std(ddof=1) / np.sqrt(len(r)):.2f}")
        print(f"{name:32s} " + "; ".join(cells), flush=True)


if __name__ == "__main__":
    main()
