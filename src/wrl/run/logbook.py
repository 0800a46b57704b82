"""Batched, atomic Parquet logs that survive a killed job and continue after a resume.

A ``Table`` buffers rows in memory and, on ``flush``, writes them as one *part*
(``<name>.parts/part-NNNNN.parquet``, a one-row-group Parquet file written under a
temporary name and renamed). ``finish`` joins every part, in order, into ``<name>``
with one ``pyarrow.parquet.ParquetWriter`` row group per part, again under a temporary
name renamed on success; ``remove_parts(path)`` then deletes the parts. So at any
moment a file named ``<name>`` is complete, and a killed job leaves only whole parts
(and perhaps a temporary, deleted when the table is opened again) behind.

Resume: a checkpoint records ``parts`` (how many parts were flushed when it was
taken); ``Table(..., keep_parts=n)`` deletes every part numbered ``n`` or higher
(written after that checkpoint) so the log continues exactly where the checkpoint does.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from wrl.atomic import atomic_write, clean_stale_temporaries


def _part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def _parts_dir(path: Path) -> Path:
    return path.with_name(path.name + ".parts")


def remove_parts(path: str | os.PathLike) -> None:
    """Delete the parts directory of the log ``path``, if any (once the run is marked done)."""
    shutil.rmtree(_parts_dir(Path(path)), ignore_errors=True)


class Table:
    """One Parquet log with a fixed schema, written in parts and joined at the end.

    path: final file (e.g. ``out/episodes.parquet``); schema: ``pyarrow.Schema`` every
    row follows; keep_parts: number of already-flushed parts to keep (from a checkpoint;
    0 starts afresh).
    """

    def __init__(self, path: str | os.PathLike, schema: pa.Schema, keep_parts: int = 0):
        self.path = Path(path)
        self.schema = schema
        self.parts_dir = _parts_dir(self.path)
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        present = sorted(self.parts_dir.glob("part-*.parquet"))
        expected = [self.parts_dir / _part_name(i) for i in range(keep_parts)]
        missing = [p for p in expected if p not in present]
        if missing:
            raise FileNotFoundError(
                f"log part {missing[0]} is missing; the checkpoint expects {keep_parts} parts "
                f"in {self.parts_dir}: delete the output directory to start afresh"
            )
        for stale in set(present) - set(expected):
            stale.unlink()
        clean_stale_temporaries(self.parts_dir)
        self.parts = keep_parts
        self._rows: dict[str, list] = {name: [] for name in schema.names}
        self._count = 0

    @property
    def buffered(self) -> int:
        """Rows waiting for the next flush."""
        return self._count

    def append(self, **columns) -> None:
        """Add rows: one keyword per schema column, each a sequence of equal length."""
        lengths = {len(v) for v in columns.values()}
        if set(columns) != set(self.schema.names) or len(lengths) != 1:
            raise ValueError(
                f"{self.path.name}: append needs every column of {self.schema.names} "
                f"with equal lengths; got {sorted(columns)} with lengths {sorted(lengths)}"
            )
        for name, values in columns.items():
            self._rows[name].extend(values.tolist() if hasattr(values, "tolist") else values)
        self._count += lengths.pop()

    def flush(self) -> None:
        """Write the buffered rows as the next part (atomically); no-op when empty."""
        if self._count == 0:
            return
        table = pa.Table.from_pydict(self._rows, schema=self.schema)
        atomic_write(self.parts_dir / _part_name(self.parts), lambda tmp: pq.write_table(table, tmp))
        self.parts += 1
        self._rows = {name: [] for name in self.schema.names}
        self._count = 0

    def finish(self) -> Path:
        """Flush, then join all parts into ``path`` (one row group each); the parts stay."""
        self.flush()

        def join(tmp: Path) -> None:
            with pq.ParquetWriter(tmp, self.schema) as writer:
                for i in range(self.parts):
                    writer.write_table(pq.read_table(self.parts_dir / _part_name(i), schema=self.schema))

        return atomic_write(self.path, join)
