"""Outputs that are all or nothing: a failed or killed run leaves every earlier output byte-identical.

Every file clvmodels writes goes through :func:`atomic_path`: it is written to a temporary file beside
its target (same directory, so same filesystem) and moved into place with :func:`os.replace`, which is
atomic on POSIX. A run that writes several files (a table, its JSON sidecar, model files, a report)
stages them all inside :func:`staged_outputs`: each file is written in full beside its target, and only
when the whole run has succeeded are they moved into place, one after the other, within microseconds.
A run that fails at any point removes what it staged, and the earlier outputs stay as they were.

A kill (SIGKILL, a power cut) cannot be caught. Two things make it harmless:

* staged files are named ``.<target name>.clv-<pid>-<random>.tmp``; a later run that writes into the
  same directory removes those of processes that no longer run;
* before the moves start, the run writes a journal (``.clv-commit-<pid>-<random>.json`` beside the first
  output) listing every staged file and its target. A run killed during the moves leaves the journal,
  and the next run finishes the moves (everything it lists was complete) before it does anything else,
  so a table is never left beside the sidecar of another run.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import math
import os
import re
import secrets
import signal
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

import pandas as pd

#: staged files and journals carry the writer's pid, so a later run can tell a dead run's debris
_STAGE_RE = re.compile(r"^\..+\.clv-(\d+)-[0-9a-z_]+\.tmp$")
_JOURNAL_RE = re.compile(r"^\.clv-commit-(\d+)-[0-9a-f]+\.json$")

_active: contextvars.ContextVar["OutputSet | None"] = contextvars.ContextVar("clvmodels_outputs", default=None)


class OutputSet:
    """The files of one run, staged beside their targets and put in place together by :meth:`commit`."""

    def __init__(self):
        self._staged: dict[Path, Path] = {}  # target -> staged file
        self._made_dirs: list[Path] = []

    def mkdir(self, path: str | os.PathLike) -> Path:
        """Create a directory for outputs (and missing parents); a run that fails removes what it made."""
        path = Path(path)
        missing = []
        p = path
        while not p.exists():
            missing.append(p)
            p = p.parent
        path.mkdir(parents=True, exist_ok=True)
        self._made_dirs += reversed(missing)
        return path

    def add(self, tmp: Path, target: Path) -> None:
        target = Path(os.path.abspath(target))
        old = self._staged.pop(target, None)
        if old is not None and old != tmp:  # written twice in one run: the last version wins
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
        self._staged[target] = tmp

    def commit(self) -> None:
        """Move every staged file into place; a journal first, so a kill mid-way is finished later."""
        if not self._staged:
            return
        pairs = [(str(os.path.abspath(t)), str(tgt)) for tgt, t in self._staged.items()]
        journal = Path(pairs[0][1]).parent / f".clv-commit-{os.getpid()}-{secrets.token_hex(4)}.json"
        with _signals_held():  # SIGINT/SIGTERM wait until the moves are done: nothing half-committed
            _write_synced(journal, json.dumps({"replace": pairs}))
            for tmp, tgt in pairs:
                os.replace(tmp, tgt)
            _fsync_dirs({Path(tgt).parent for _, tgt in pairs})
            journal.unlink()
        self._staged.clear()
        self._made_dirs.clear()

    def discard(self) -> None:
        """Remove everything staged (and the directories this run made, when empty)."""
        for tmp in self._staged.values():
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        self._staged.clear()
        for d in reversed(self._made_dirs):
            with contextlib.suppress(OSError):
                d.rmdir()
        self._made_dirs.clear()


@contextlib.contextmanager
def staged_outputs() -> Iterator[OutputSet]:
    """Stage every file written inside the block (through :func:`atomic_path`: tables, JSON, model files,
    reports) and put them all in place when the block ends without an error; on an error none of them
    is. Nested blocks join the outermost one."""
    outer = _active.get()
    if outer is not None:
        yield outer
        return
    run = OutputSet()
    token = _active.set(run)
    try:
        yield run
    except BaseException:
        run.discard()
        raise
    finally:
        _active.reset(token)
    run.commit()


def make_output_dir(path: str | os.PathLike) -> Path:
    """Create an output directory; inside :func:`staged_outputs` it is removed again if the run fails."""
    run = _active.get()
    if run is not None:
        return run.mkdir(path)
    Path(path).mkdir(parents=True, exist_ok=True)
    return Path(path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` (or, inside
    :func:`staged_outputs`, is staged to replace it when the run succeeds); on error it is removed."""
    target = Path(path)
    make_output_dir(target.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.clv-{os.getpid()}-", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # outputs are for people and other jobs to read: the usual permissions (umask), not mkstemp's 0600
        os.chmod(tmp_path, 0o666 & ~_umask())
        run = _active.get()
        if run is not None:
            run.add(tmp_path, target)
        else:
            os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def recover(directories: Iterable[str | os.PathLike]) -> dict[str, int]:
    """Tidy what killed runs left in ``directories``: finish the moves of a run killed while putting its
    outputs in place (its journal lists complete files only), then remove staged files of processes
    that no longer run. Returns the counts ``{"finished": ..., "removed": ...}``."""
    finished = removed = 0
    dirs = {Path(d) for d in directories}
    for journal in _dead_runs_files(dirs, _JOURNAL_RE):
        try:
            pairs = json.loads(journal.read_text())["replace"]
        except (OSError, ValueError, KeyError, TypeError):
            pairs = []  # a journal cut short: the run was killed before its first move
        for tmp, tgt in pairs:
            if os.path.exists(tmp):
                os.replace(tmp, tgt)
                finished += 1
        with contextlib.suppress(FileNotFoundError):
            journal.unlink()
    for f in _dead_runs_files(dirs, _STAGE_RE):  # after the journals: what they listed is in place now
        with contextlib.suppress(FileNotFoundError):
            f.unlink()
            removed += 1
    return {"finished": finished, "removed": removed}


def _dead_runs_files(dirs, pattern: re.Pattern) -> list[Path]:
    """Files in ``dirs`` whose names match ``pattern`` (group 1: a pid) and whose writer no longer runs."""
    found = []
    for d in dirs:
        if d.is_dir():
            found += [f for f in d.iterdir() if (m := pattern.match(f.name)) and not _alive(int(m.group(1)))]
    return found


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    except OSError:
        return False
    return True


@contextlib.contextmanager
def _signals_held():
    sigs = {signal.SIGINT, signal.SIGTERM}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    except (AttributeError, ValueError, OSError):  # no POSIX signal masks here
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dirs(dirs) -> None:
    for d in dirs:
        with contextlib.suppress(OSError):
            fd = os.open(d, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def table_format(path: str | os.PathLike) -> str:
    """'parquet' or 'csv' from the file extension; anything else is an error naming the choices."""
    suffix = Path(path).suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix == ".csv":
        return "csv"
    raise ValueError(f"output file {str(path)!r}: use a .parquet or .csv extension")


def strict_json(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float replaced by None (JSON's null), so that the JSON written
    is strict (RFC 8259 has no NaN or Infinity; many readers reject them). Where a value is undefined
    (R-hat of a MAP fit, a correlation of fewer than three customers) null says so."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", None) == 0:  # numpy scalars
        return strict_json(obj.item())
    if hasattr(obj, "tolist"):  # numpy arrays
        return strict_json(obj.tolist())
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return str(obj)


def dumps(obj: Any, **kwargs) -> str:
    """Strict JSON text of ``obj`` (see :func:`strict_json`)."""
    return json.dumps(strict_json(obj), allow_nan=False, **kwargs)


def write_table(df: pd.DataFrame, path: str | os.PathLike, metadata: dict[str, Any] | None = None,
                index: bool = True, sidecar: bool = True) -> Path:
    """Write ``df`` to CSV or Parquet (by extension) atomically.

    ``metadata`` (JSON-serialisable) is stored in the Parquet schema under the key ``clvmodels`` and,
    for both formats, in a JSON file beside the table (``<name>.meta.json``); the table and its
    sidecar are put in place together. ``sidecar=False`` leaves the JSON to the caller (who knows more
    only after the table is written, e.g. the write time). When ``metadata["columns"]`` maps column
    names to dicts (e.g. ``{"description": ..., "unit": ...}``), a Parquet file also carries each
    column's entries in its field's own metadata (keys and values as UTF-8 text), so any Parquet reader
    shows what a column means without the sidecar.
    """
    path = Path(path)
    fmt = table_format(path)
    out = df.reset_index() if index and df.index.name is not None else df
    with staged_outputs():
        with atomic_path(path) as tmp:
            if fmt == "parquet":
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.Table.from_pandas(out, preserve_index=False)
                if metadata is not None:
                    meta = dict(table.schema.metadata or {})
                    meta[b"clvmodels"] = dumps(metadata).encode()
                    table = table.replace_schema_metadata(meta)
                    per_field = metadata.get("columns")
                    if isinstance(per_field, dict):
                        fields = []
                        for f in table.schema:
                            info = per_field.get(f.name)
                            if isinstance(info, dict):
                                f = f.with_metadata({**(f.metadata or {}), **{str(k).encode(): str(v).encode()
                                                                                for k, v in info.items()}})
                            fields.append(f)
                        table = table.cast(pa.schema(fields, metadata=table.schema.metadata))
                pq.write_table(table, tmp)
            else:
                out.to_csv(tmp, index=False)
        if metadata is not None and sidecar:
            write_json(metadata, metadata_path(path))
    return path


def metadata_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".meta.json")


def write_json(obj: Any, path: str | os.PathLike) -> Path:
    """Write ``obj`` as indented strict JSON (no NaN or Infinity: see :func:`strict_json`), atomically."""
    text = dumps(obj, indent=2) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def read_table_metadata(path: str | os.PathLike) -> dict[str, Any] | None:
    """The ``clvmodels`` metadata stored in a Parquet file's schema (None if absent)."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(b"clvmodels")
    return json.loads(raw) if raw else None
