"""A batch run's files, all or nothing: the output and its rejected file are written in a private
`.partial` directory beside the output, fsynced, and committed together (the output last);
leftovers of a killed run are removed by the next run for the same output."""

from __future__ import annotations

import glob
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from leadscore.core.spreadsheet import spreadsheet_safe_frame
from leadscore.scoring.journal_files import sync_directory

log = logging.getLogger(__name__)

PARTIAL = ".partial"


@dataclass
class TableWriter:
    """Appends chunks to a temporary CSV or Parquet file (format from the suffix of `path`).
    Nothing is at `path` until `RunFiles.commit` moves the file there.

    CSV cells a spreadsheet would run as formulas are escaped (`spreadsheet_safe_frame`)."""

    path: Path
    partial: Path
    columns: list[str] | None = None  # CSV: a fixed header, whatever columns a chunk has
    _parquet: pq.ParquetWriter | None = None
    _started: bool = False
    rows: int = field(default=0)

    def write(self, frame: pd.DataFrame) -> None:
        if frame.empty and self._started:
            return
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        if self.path.suffix.lower() == ".parquet":
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.partial, table.schema)
            self._parquet.write_table(table.cast(self._parquet.schema))
        else:
            if self.columns is not None:
                frame = frame.reindex(columns=self.columns)
            spreadsheet_safe_frame(frame).to_csv(
                self.partial,
                mode="a" if self._started else "w",
                header=not self._started,
                index=False,
            )
        self._started = True
        self.rows += len(frame)

    @property
    def written(self) -> bool:
        return self._started

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None


def rejected_path_for(output: Path) -> Path:
    return output.with_name(output.name.split(".")[0] + ".rejected.csv")


def fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


@dataclass
class RunFiles:
    """The output and rejected file of one run, written in a private `.partial` directory
    beside the output and committed together.

    `commit` fsyncs both, removes the previous output, puts the rejected file in place (or
    removes a stale one from an earlier run when this run rejected nothing), then moves the
    output in: the output is the commit point, so whoever sees it sees its own rejected file
    (or none). `discard` removes the directory; a run killed before either leaves the
    directory, which the next run for the same output removes (`remove_leftovers`).
    """

    output: Path

    @property
    def rejected(self) -> Path:
        return rejected_path_for(self.output)

    @property
    def workdir(self) -> Path:
        return self.output.with_name(f".{self.output.name}.{os.getpid()}{PARTIAL}")

    def writers(self) -> tuple[TableWriter, TableWriter]:
        return (
            TableWriter(self.output, self.workdir / self.output.name),
            TableWriter(self.rejected, self.workdir / self.rejected.name),
        )

    def remove_leftovers(self) -> list[Path]:
        """`.partial` files and directories of earlier runs for this output whose process is
        gone (killed); a live run's are left alone."""
        removed = []
        for name in (self.output.name, self.rejected.name):
            for leftover in self.output.parent.glob(f".{glob.escape(name)}.*{PARTIAL}"):
                pid = leftover.name[len(name) + 2 : -len(PARTIAL)]
                if pid.isdigit() and process_alive(int(pid)):
                    continue
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
                removed.append(leftover)
        for leftover in removed:
            log.warning("removed %s, left by a run that did not finish", leftover)
        return removed

    def commit(self, scores: TableWriter, rejects: TableWriter) -> None:
        scores.close()
        rejects.close()
        for writer in (scores, rejects):
            if writer.written:
                fsync_file(writer.partial)
        self.output.unlink(missing_ok=True)  # no old output beside the new rejected file
        if rejects.written:
            os.replace(rejects.partial, self.rejected)
        else:
            self.rejected.unlink(missing_ok=True)  # a stale one from an earlier run
        if scores.written:
            os.replace(scores.partial, self.output)
        sync_directory(self.output.parent)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def discard(self, scores: TableWriter, rejects: TableWriter) -> None:
        scores.close()
        rejects.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
