"""The scoring journal's writer on a real directory: what a line holds, where rows go, entry
ids, group commits, segment rotation, a failed write, and reading lines back.
(The scoring log shipping from the journal: test_scoring_log.py.)"""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import orjson
import pytest

from leadscore.scoring.journal import JournalError, JournalWriter, encode_row, read_lines


def test_a_line_is_the_entry_id_then_the_row_as_json():
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert encode_row("t:0", ("L1", 0.25, when, None)) == (
        b'["t:0","L1",0.25,"2026-01-02T03:04:05+00:00",null]\n'
    )


def write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(lines))
    return path


def test_lines_are_read_whole_from_an_offset_up_to_a_count_and_an_end(tmp_path):
    path = write(tmp_path / "j.jsonl", [b"one\n", b"two\n", b"three\n"])
    assert read_lines(path, 0, 10) == [b"one\n", b"two\n", b"three\n"]
    assert read_lines(path, 0, 2) == [b"one\n", b"two\n"]
    assert read_lines(path, 4, 10) == [b"two\n", b"three\n"]
    assert read_lines(path, 0, 10, end=8) == [b"one\n", b"two\n"]
    assert read_lines(path, 0, 10, end=6) == [b"one\n"]  # "tw" is cut by the end
    assert read_lines(path, 8, 10, end=8) == []
    assert read_lines(path, 14, 10) == []


def test_a_torn_last_line_is_not_returned(tmp_path):
    path = write(tmp_path / "j.jsonl", [b"one\n", b"tw"])
    assert read_lines(path, 0, 10) == [b"one\n"]
    assert read_lines(path, 4, 10) == []


def test_a_line_longer_than_the_first_read_is_read_whole(tmp_path):
    long = b"x" * 3000 + b"\n"
    path = write(tmp_path / "j.jsonl", [long, b"next\n"])
    assert read_lines(path, 0, 1) == [long]  # 1 row: a 512-byte first read
    assert read_lines(path, 0, 2) == [long, b"next\n"]
    assert read_lines(path, 0, 1, end=len(long)) == [long]
    torn = write(tmp_path / "torn.jsonl", [b"y" * 3000])
    assert read_lines(torn, 0, 1) == []


@pytest.fixture
def writer(tmp_path):
    journal = JournalWriter(tmp_path / "journal", sync=False)
    yield journal
    journal.close()


def lines_of(path: Path) -> list[list]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_rows_are_appended_to_the_processes_segment_with_entry_ids(writer):
    writer.append([("L1", 0.5), ("L2", 0.25)])
    writer.append([("L3", 0.75)], entry_ids=["given"])
    ((path, end, open_),) = writer.segments()
    assert path.name == f"{writer.token}-000000.jsonl"
    assert writer.token.startswith(f"{os.getpid()}-")
    assert open_ is True and end == path.stat().st_size
    assert lines_of(path) == [
        [f"{writer.token}:0", "L1", 0.5],
        [f"{writer.token}:1", "L2", 0.25],
        ["given", "L3", 0.75],
    ]
    assert writer.rows_committed == 3 and writer.failures == 0 and writer.last_error is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (path.parent / f"{writer.token}.lock").exists()
    assert writer.idle()


def test_entry_ids_count_in_hexadecimal(writer):
    ids = [writer.new_entry_id() for _ in range(11)]
    assert ids[0] == f"{writer.token}:0" and ids[10] == f"{writer.token}:a"


def test_rows_are_counted_once_durable(tmp_path):
    durable: list[int] = []
    journal = JournalWriter(tmp_path, sync=True, on_durable=durable.append)
    journal.append([("a",), ("b",)])
    journal.append([("c",)])
    assert durable == [2, 1]
    journal.close()


def test_a_full_segment_is_closed_and_the_next_one_opened(tmp_path):
    journal = JournalWriter(tmp_path, sync=False, max_segment_bytes=30)
    journal.append([("a" * 20,)])  # 20 + id + brackets: past 30 bytes
    journal.append([("b",)], entry_ids=["x"])  # 10 bytes, committed after the rotation
    (first, first_end, first_open), (second, _, second_open) = journal.segments()
    assert first.name.endswith("-000000.jsonl") and second.name.endswith("-000001.jsonl")
    assert (first_open, second_open) == (False, True)
    assert first_end == first.stat().st_size
    assert [line[1] for line in lines_of(second)] == ["b"]
    journal.forget(first)
    assert [segment[0] for segment in journal.segments()] == [second]
    journal.close()


def test_a_segment_exactly_full_rotates(tmp_path):
    size = len(encode_row("x", ("a",)))
    journal = JournalWriter(tmp_path, sync=False, max_segment_bytes=size)
    journal.append([("a",)], entry_ids=["x"])
    journal.append([("b",)])  # committed after the rotation
    first, second = (segment[0] for segment in journal.segments()[:2])  # "b" filled one too
    assert [line[1] for line in lines_of(first)] == ["a"]
    assert [line[1] for line in lines_of(second)] == ["b"]
    journal.close()


def test_a_row_that_cannot_be_encoded_fails_alone(writer):
    bad = writer.submit([(object(),)])
    good = writer.submit([("ok",)])
    with pytest.raises(JournalError, match="^rows cannot be journaled: "):
        bad.result(timeout=5)
    assert good.result(timeout=5) is None
    assert writer.rows_committed == 1


def test_a_closed_journal_takes_no_rows(tmp_path):
    journal = JournalWriter(tmp_path, sync=False)
    journal.close()
    with pytest.raises(JournalError) as raised:
        journal.submit([("a",)])
    assert str(raised.value) == "the scoring journal is closed"


def test_releasing_removes_the_lock_only_without_segments(tmp_path):
    journal = JournalWriter(tmp_path, sync=False)
    journal.append([("a",)])
    journal.close()
    journal.release()
    assert (tmp_path / f"{journal.token}.lock").exists()  # its segment waits to be shipped
    empty = JournalWriter(tmp_path / "empty", sync=False)
    empty.close()
    for segment, _, _ in empty.segments():
        segment.unlink()
    empty.release()
    assert not (tmp_path / "empty" / f"{empty.token}.lock").exists()


def test_a_failed_write_fails_its_waiters_and_leaves_no_torn_line(tmp_path, caplog):
    journal = JournalWriter(tmp_path, sync=False)
    journal.append([("before",)])
    ((path, end, _),) = journal.segments()
    healthy = journal._descriptor
    journal._descriptor = os.open("/dev/full", os.O_WRONLY)  # every write: no space left
    failed = journal.submit([("lost",)])
    with pytest.raises(JournalError, match=r"^journal write failed: OSError: \[Errno 28\]"):
        failed.result(timeout=5)
    with pytest.raises(JournalError):
        journal.submit([("lost too",)]).result(timeout=5)
    assert journal.failures == 2 and journal.last_error.startswith("OSError: ")
    assert journal.rows_committed == 1 and journal.segments()[0][1] == end
    assert "scoring journal: cannot write" in caplog.text
    os.close(journal._descriptor)
    journal._descriptor = healthy
    journal.append([("after",)])
    assert journal.last_error is None
    assert [line[1] for line in lines_of(path)] == ["before", "after"]
    journal.close()


def test_by_default_a_journal_syncs_and_its_thread_never_holds_the_process(tmp_path):
    journal = JournalWriter(tmp_path / "made" / "on" / "demand")  # its directories are created
    assert journal.sync is True  # durable unless told otherwise
    assert journal._thread.daemon and journal._thread.name == "scoring-journal"
    journal.close()
    journal.close()  # closing twice closes nothing else
    os.fstat(1)  # the process's own descriptors are untouched


def test_rows_queued_while_a_commit_runs_are_committed_together_and_all_counted(tmp_path):
    durable: list[int] = []
    journal = JournalWriter(tmp_path, sync=True, on_durable=durable.append)
    futures = [journal.submit([(f"r{i}",), (f"s{i}",)], [f"{i}a", f"{i}b"]) for i in range(50)]
    for future in futures:
        future.result(timeout=10)
    assert len(durable) < 50  # groups were committed together (one sync for many requests)
    assert journal.rows_committed == 100 and sum(durable) == 100
    ((path, _, _),) = journal.segments()
    assert [line[0] for line in lines_of(path)] == [f"{i}{s}" for i in range(50) for s in "ab"]
    journal.close()
