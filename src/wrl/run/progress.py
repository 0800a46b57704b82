"""A training run's progress on stderr: a tqdm bar on a terminal, else a plain line now and then."""
from __future__ import annotations

import sys
import time

PROGRESS_EVERY_S = 30.0  #: seconds between plain progress lines when stderr is not a TTY


class Progress:
    """A tqdm bar on a terminal, else a plain line every ``PROGRESS_EVERY_S`` seconds."""

    def __init__(self, total: int, unit: str, done: int):
        self.unit, self.last_line = unit, time.monotonic()
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, unit=unit, dynamic_ncols=True)
        self.total = total

    def update(self, done: int, stats: dict) -> None:
        """Show progress ``done`` (of ``total``) and the ``stats`` key=value pairs."""
        text = ", ".join(f"{k}={v}" for k, v in stats.items())
        if self.bar is not None:
            self.bar.update(min(done, self.total) - self.bar.n)
            self.bar.set_postfix_str(text, refresh=True)
        elif time.monotonic() - self.last_line >= PROGRESS_EVERY_S or done >= self.total:
            self.last_line = time.monotonic()
            print(f"train: {done}/{self.total} {self.unit}, {text}", file=sys.stderr, flush=True)

    def close(self) -> None:
        """Close the bar (if any)."""
        if self.bar is not None:
            self.bar.close()
