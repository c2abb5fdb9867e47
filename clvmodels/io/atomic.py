"""Atomic writes: a failed run leaves no half-written file and never clobbers the last good one.

Everything is written to a temporary file in the target's directory (same filesystem) and moved into
place with :func:`os.replace`, which is atomic on POSIX.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pandas as pd


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # outputs are for people and other jobs to read: the usual permissions (umask), not mkstemp's 0600
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


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


def write_table(df: pd.DataFrame, path: str | os.PathLike, metadata: dict[str, Any] | None = None,
                index: bool = True) -> Path:
    """Write ``df`` to CSV or Parquet (by extension) atomically.

    ``metadata`` (JSON-serialisable) is stored in the Parquet schema under the key ``clvmodels`` and,
    for both formats, in a JSON file beside the table (``<name>.meta.json``).
    """
    path = Path(path)
    fmt = table_format(path)
    out = df.reset_index() if index and df.index.name is not None else df
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(out, preserve_index=False)
            if metadata is not None:
                meta = dict(table.schema.metadata or {})
                meta[b"clvmodels"] = json.dumps(metadata, default=str).encode()
                table = table.replace_schema_metadata(meta)
            pq.write_table(table, tmp)
        else:
            out.to_csv(tmp, index=False)
    if metadata is not None:
        write_json(metadata, metadata_path(path))
    return path


def metadata_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".meta.json")


def write_json(obj: Any, path: str | os.PathLike) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=str, allow_nan=True) + "\n")
    return Path(path)


def read_table_metadata(path: str | os.PathLike) -> dict[str, Any] | None:
    """The ``clvmodels`` metadata stored in a Parquet file's schema (None if absent)."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(b"clvmodels")
    return json.loads(raw) if raw else None
