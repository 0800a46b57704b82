"""Batched, atomic Parquet logs: parts, joining, resume from a checkpointed part count."""
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from wrl.run.logbook import Table, remove_parts

SCHEMA = pa.schema([("episode", pa.int64()), ("ret", pa.float64()), ("impact", pa.int32())])


def _rows(lo, hi):
    return {"episode": list(range(lo, hi)), "ret": [float(i) / 2 for i in range(lo, hi)],
            "impact": [None if i % 2 else i for i in range(lo, hi)]}


def test_parts_join_into_one_file_with_a_row_group_per_flush(tmp_path):
    t = Table(tmp_path / "log.parquet", SCHEMA)
    t.append(**_rows(0, 3))
    assert t.buffered == 3 and not (tmp_path / "log.parquet").exists()
    t.flush()
    t.flush()  # nothing buffered: no empty part
    t.append(**_rows(3, 5))
    t.finish()
    f = pq.ParquetFile(tmp_path / "log.parquet")
    assert f.num_row_groups == 2
    assert f.schema_arrow.equals(SCHEMA)
    table = f.read()
    assert table.column("episode").to_pylist() == list(range(5))
    assert table.column("impact").to_pylist() == [0, None, 2, None, 4]
    remove_parts(t.path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.parquet"]


def test_unfinished_log_leaves_only_whole_parts_and_no_final_file(tmp_path):
    t = Table(tmp_path / "log.parquet", SCHEMA)
    t.append(**_rows(0, 4))
    t.flush()
    t.append(**_rows(4, 6))  # buffered, lost when the job dies
    assert not (tmp_path / "log.parquet").exists()
    parts = sorted((tmp_path / "log.parquet.parts").iterdir())
    assert [p.name for p in parts] == ["part-00000.parquet"]
    assert pq.read_table(parts[0]).num_rows == 4


def test_resume_drops_parts_written_after_the_checkpoint(tmp_path):
    t = Table(tmp_path / "log.parquet", SCHEMA)
    for lo in (0, 2, 4):
        t.append(**_rows(lo, lo + 2))
        t.flush()
    (tmp_path / "log.parquet.parts" / ".part-00003.tmp999.parquet").write_bytes(b"half a file")
    resumed = Table(tmp_path / "log.parquet", SCHEMA, keep_parts=2)  # checkpoint saw 2 parts
    assert resumed.parts == 2
    assert sorted(p.name for p in (tmp_path / "log.parquet.parts").iterdir()) == [
        "part-00000.parquet", "part-00001.parquet"]
    resumed.append(**_rows(4, 7))
    resumed.finish()
    assert pq.read_table(tmp_path / "log.parquet").column("episode").to_pylist() == list(range(7))


def test_resume_with_a_missing_part_names_it(tmp_path):
    t = Table(tmp_path / "log.parquet", SCHEMA)
    t.append(**_rows(0, 1))
    t.flush()
    with pytest.raises(FileNotFoundError, match="part-00001.parquet"):
        Table(tmp_path / "log.parquet", SCHEMA, keep_parts=2)


def test_append_needs_every_column_with_equal_lengths(tmp_path):
    t = Table(tmp_path / "log.parquet", SCHEMA)
    with pytest.raises(ValueError, match="every column"):
        t.append(episode=[1], ret=[1.0])
    with pytest.raises(ValueError, match="equal lengths"):
        t.append(episode=[1, 2], ret=[1.0], impact=[None])


def test_empty_log_is_a_valid_file_with_the_schema(tmp_path):
    Table(tmp_path / "log.parquet", SCHEMA).finish()
    table = pq.read_table(tmp_path / "log.parquet")
    assert table.num_rows == 0 and table.schema.equals(SCHEMA)
