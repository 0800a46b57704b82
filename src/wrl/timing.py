"""Where a training run's wall time goes: a section timer for ``wrl bench train``.

The trainer calls ``lap(name)`` after each part of its loop (``policy``, ``sim``,
``bookkeeping``, ``update``); a disabled timer (the default in every real run) does
nothing but return. On CUDA an enabled timer synchronises the device before reading
the clock, so asynchronous kernels are charged to the section that launched them.
"""
from __future__ import annotations

import time

import torch

SECTIONS = ("policy", "sim", "bookkeeping", "update")  #: the sections the trainer reports


class SectionTimer:
    """Seconds spent per named section between ``lap`` calls (only when ``enabled``)."""

    def __init__(self, enabled: bool = False, device: torch.device | None = None):
        self.enabled = enabled
        self.cuda = device is not None and torch.device(device).type == "cuda"
        self.seconds = dict.fromkeys(SECTIONS, 0.0)
        self.last = time.perf_counter()

    def start(self) -> None:
        """Restart the clock without charging the time since the last lap to anything."""
        if self.enabled:
            self._sync()
            self.last = time.perf_counter()

    def lap(self, section: str) -> None:
        """Charge the seconds since the previous lap (or ``start``) to ``section``."""
        if self.enabled:
            self._sync()
            now = time.perf_counter()
            self.seconds[section] += now - self.last
            self.last = now

    def shares(self) -> dict[str, float]:
        """Fraction of the timed seconds per section (sums to 1; zeros before any lap)."""
        total = sum(self.seconds.values())
        return {k: (v / total if total > 0 else 0.0) for k, v in self.seconds.items()}

    def _sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()
