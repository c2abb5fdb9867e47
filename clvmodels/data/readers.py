"""Reading transaction logs from CSV and Parquet files, for every engine.

A log is one file, a glob (``logs/2024-*.parquet``), a directory (every ``*.parquet`` or ``*.csv`` in
it, recursively), or a list of any of these; every file must have the same format and columns.

CSV files are comma-separated with a header row (optionally gzip-compressed, ``.csv.gz``); the
customer id, date and amount columns are read as text and parsed by clvmodels' own rules
(:mod:`clvmodels.data.checks`), identically in every engine, so neither pandas' nor DuckDB's type
guessing decides what a value means. Parquet columns keep their stored types.

The pandas engine reads only the three needed columns with pyarrow (typed Parquet columns row group
by row group, on every core, straight into NumPy arrays); the DuckDB engine never reads the log into
Python at all: it gets a SQL table expression from :func:`duckdb_source` and scans the files itself.
Offending rows are shown with their file and their 1-based data row in that file (the header of a CSV
file is not counted: data row 1 is line 2; blank lines are skipped by every engine and not counted).
The Spark engine (:mod:`clvmodels.spark.summary`) resolves its sources here too.

A CSV row with more or fewer fields than the header is bad input for every engine alike: when pyarrow
or DuckDB cannot read a CSV log, :func:`csv_read_error` scans the files (only then) and names every such
row by file and data row, instead of passing on the reader's own message and its advice about options
that ``clv`` does not have (Spark's engine does the same with :func:`ragged_problems`).
"""
from __future__ import annotations

import csv
import glob
import gzip
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, Problem
from .checks import msg_ragged_rows

CSV_SUFFIXES = (".csv", ".csv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class FileSource:
    """A resolved log on disk: the files, in order, and their format ('csv' or 'parquet')."""

    paths: tuple[str, ...]
    kind: str

    @property
    def from_csv(self) -> bool:
        return self.kind == "csv"


def is_file_source(transactions) -> bool:
    """True for a path, glob or list of paths; False for a DataFrame."""
    if isinstance(transactions, pd.DataFrame):
        return False
    if isinstance(transactions, (str, os.PathLike)):
        return True
    return isinstance(transactions, (list, tuple)) and all(isinstance(p, (str, os.PathLike)) for p in transactions)


def _kind(path: str) -> str | None:
    low = path.lower()
    if low.endswith(CSV_SUFFIXES):
        return "csv"
    if low.endswith(PARQUET_SUFFIXES):
        return "parquet"
    return None


def resolve_source(transactions) -> FileSource:
    """Expand globs and directories into an ordered list of files of one format.

    Raises :class:`InputError` for paths that match nothing, unknown extensions, and mixed formats.
    """
    items = [transactions] if isinstance(transactions, (str, os.PathLike)) else list(transactions)
    if not items:
        raise InputError("no transaction files given")
    paths: list[str] = []
    for item in items:
        text = os.fspath(item)
        if any(ch in text for ch in "*?["):
            found = sorted(glob.glob(text, recursive=True))
            if not found:
                raise InputError(f"no files match {text!r}")
            paths += [p for p in found if os.path.isfile(p)]
        elif os.path.isdir(text):
            found = sorted(str(p) for p in Path(text).rglob("*") if p.is_file() and _kind(str(p)))
            if not found:
                raise InputError(f"directory {text!r} holds no .csv or .parquet files")
            paths += found
        elif os.path.isfile(text):
            paths.append(text)
        else:
            raise InputError(f"transaction file {text!r} does not exist")
    kinds = {_kind(p) for p in paths}
    if None in kinds:
        bad = [p for p in paths if _kind(p) is None][:3]
        raise InputError(f"cannot tell the format of {bad}: use files ending in .csv, .csv.gz, .parquet or .pq")
    if len(kinds) != 1:
        raise InputError("the transaction files mix CSV and Parquet: summarise one format at a time")
    return FileSource(tuple(paths), kinds.pop())


def file_columns(source: FileSource) -> list[str]:
    """Column names of the log (from its first file)."""
    first = source.paths[0]
    try:
        if source.kind == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(first).names)
        opener = gzip.open if first.lower().endswith(".gz") else open
        with opener(first, "rt", newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), [])
        return header
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {first!r}: {exc}") from exc


def read_pandas(source: FileSource, columns: list[str]) -> tuple[pd.DataFrame, RowLabeller]:
    """Read ``columns`` of every file into one DataFrame (for the pandas engine).

    CSV columns are read as text (empty fields as missing, nothing else: ``NA`` stays the text "NA").
    Returns the frame and a :class:`RowLabeller` that names file and row of any position in it.
    """
    import pyarrow as pa

    if source.kind == "parquet":
        direct = _read_parquet_numpy(source, columns)
        if direct is not None:
            return direct
    tables = []
    for path in source.paths:
        try:
            if source.kind == "parquet":
                import pyarrow.parquet as pq

                t = pq.read_table(path, columns=columns)
            else:
                import pyarrow.csv as pacsv

                t = pacsv.read_csv(
                    path,
                    parse_options=pacsv.ParseOptions(delimiter=","),
                    convert_options=pacsv.ConvertOptions(
                        include_columns=columns, column_types={c: pa.string() for c in columns},
                        null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True))
        except (OSError, pa.ArrowException) as exc:
            if source.kind == "csv":
                raise csv_read_error(source, exc, path) from exc
            raise InputError(f"cannot read {path!r}: {engine_reason(exc)}") from exc
        tables.append(t)
    try:
        table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    except pa.ArrowException as exc:
        raise InputError(f"the transaction files have different column types: {exc}") from exc
    # Column by column: Table.to_pandas consolidates blocks (a copy); numeric columns without nulls come
    # through without copying. date_as_object=False: DATE columns become datetime64, not Python dates.
    df = pd.DataFrame({name: table.column(name).to_pandas(date_as_object=False) for name in table.column_names},
                      copy=False)
    return df, RowLabeller(source.paths, np.array([t.num_rows for t in tables], dtype=np.int64))


def _read_parquet_numpy(source: FileSource, columns: list[str]):
    """Fixed-width Parquet columns without nulls, read row group by row group, in parallel threads,
    straight into preallocated NumPy arrays.

    Half the peak memory of reading a whole Arrow table and converting it (the table and the arrays
    never coexist), and the row groups decode on every core (pyarrow releases the GIL). Returns None
    when a column is not a fixed-width number, date or timestamp, or has nulls: the caller then takes
    the general path.
    """
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        files = [pq.ParquetFile(p) for p in source.paths]
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"cannot read {source.paths[0]!r}: {exc}") from exc
    dtypes = {}
    for c in columns:
        types = {f.schema_arrow.field(c).type for f in files if c in f.schema_arrow.names}
        if len(types) != 1 or any(c not in f.schema_arrow.names for f in files):
            return None
        t = types.pop()
        if pa.types.is_timestamp(t):
            dtypes[c] = np.dtype(f"datetime64[{t.unit}]")
        elif pa.types.is_date32(t):
            dtypes[c] = np.dtype("datetime64[D]")
        elif (pa.types.is_integer(t) or pa.types.is_floating(t)) and not pa.types.is_float16(t):
            dtypes[c] = np.dtype(t.to_pandas_dtype())
        else:
            return None
    counts = np.array([f.metadata.num_rows for f in files], dtype=np.int64)
    out = {c: np.empty(int(counts.sum()), dtype=dtypes[c]) for c in columns}
    # one unit of work per row group: (file number, row group, first row in the output)
    units, pos = [], 0
    for i, f in enumerate(files):
        for g in range(f.metadata.num_row_groups):
            units.append((i, g, pos))
            pos += f.metadata.row_group(g).num_rows

    def read_unit(unit) -> bool:
        i, g, at = unit
        # a ParquetFile per thread: its reader is not meant to be shared between threads
        f = pq.ParquetFile(source.paths[i])
        for batch in f.iter_batches(batch_size=1 << 20, row_groups=[g], columns=columns, use_threads=False):
            m = batch.num_rows
            for c in columns:
                arr = batch.column(c)
                if arr.null_count:
                    return False
                out[c][at:at + m] = arr.to_numpy(zero_copy_only=False)
            at += m
        return True

    threads = max(1, min(len(units), os.cpu_count() or 1, 8))
    try:
        if threads == 1:
            complete = all(read_unit(u) for u in units)
        else:
            with ThreadPoolExecutor(threads) as pool:
                complete = all(list(pool.map(read_unit, units)))
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"cannot read the Parquet log: {exc}") from exc
    finally:
        pa.default_memory_pool().release_unused()
    if not complete:
        return None
    return pd.DataFrame(out, copy=False), RowLabeller(source.paths, counts)


class RowLabeller:
    """Maps row positions of a concatenated log to (file, 1-based data row in that file)."""

    def __init__(self, paths, counts: np.ndarray):
        self.paths = list(paths)
        self.starts = np.concatenate([[0], np.cumsum(counts)])

    def __call__(self, positions: np.ndarray) -> pd.DataFrame:
        positions = np.asarray(positions, dtype=np.int64)
        which = np.searchsorted(self.starts, positions, side="right") - 1
        return pd.DataFrame({"file": [os.path.basename(self.paths[i]) for i in which],
                             "row": positions - self.starts[which] + 1})


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_source(source: FileSource, columns: list[str] | None = None, *, filename: bool = False) -> str:
    """A DuckDB table expression scanning the files.

    For CSV, ``columns`` (the customer id, date and amount columns present) are read as VARCHAR,
    like the pandas engine reads them. ``filename=True`` adds the column ``filename``.
    """
    files = "[" + ", ".join(_sql_str(os.path.abspath(p)) for p in source.paths) + "]"
    extra = ", filename = true" if filename else ""
    if source.kind == "parquet":
        return f"read_parquet({files}{extra})"
    types = ""
    if columns:
        types = ", types = {" + ", ".join(f"{_sql_str(c)}: 'VARCHAR'" for c in columns) + "}"
    return (f"read_csv({files}, header = true, delim = ',', quote = '\"', escape = '\"'"
            f"{types}{extra})")



# ---------------------------------------------------------------------------------------------------
# CSV files the readers refuse: ragged rows, named by file and row
# ---------------------------------------------------------------------------------------------------
#: what the readers' messages append that does not apply to clv: advice about their own options
_ADVICE = re.compile(r"\n\s*(Possible fixes|Possible Solution|Consider|The search space|\* |LINE \d+:|file = )",
                     re.I)
#: reader options clv has no equivalent of; a reason that still names one is cut before it
_FOREIGN_OPTIONS = ("ignore_errors", "null_padding", "strict_mode", "invalid_row_handler", "store_rejects",
                    "auto_detect", "max_line_size")

#: the words left dangling when a sentence is cut before an option's name ("...; set")
_DANGLING = re.compile(r"([\s,;:(]|\b(set|use|try|pass|enable|disable|consider|with|the|option|parameter|to|"
                       r"or|and|e\.g\.)\b)*$", re.I)


def engine_reason(exc: BaseException) -> str:
    """The reason pyarrow or DuckDB gives for not reading a file, without their advice about options
    of theirs (``ignore_errors``, ``null_padding``, ``invalid_row_handler``...) that clv does not have."""
    text = str(exc).strip()
    match = _ADVICE.search(text)
    if match:
        text = text[:match.start()]
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not any(opt in ln for opt in _FOREIGN_OPTIONS)] or lines[:1]
    text = " ".join(lines[:4])
    for opt in _FOREIGN_OPTIONS:  # a single-line message may still name one: keep what comes before
        at = text.find(opt)
        if at >= 0:
            text = _DANGLING.sub("", text[:at])
    return text or type(exc).__name__


def ragged_rows(path: str, show: int = 5) -> tuple[list[str], list[tuple[int, int, str]], int]:
    """``(header, first ``show`` ragged rows as (data row, fields, text), number of ragged rows)`` of a
    CSV file: rows whose number of fields differs from the header's.

    Reads the file with Python's csv module, with the dialect every engine uses (comma, double quotes,
    a quote inside quotes doubled); data rows are numbered from 1 after the header, skipping blank
    lines as pyarrow and DuckDB do. Used only when a reader has already refused the file.
    """
    opener = gzip.open if path.lower().endswith(".gz") else open
    shown: list[tuple[int, int, str]] = []
    count = 0
    with opener(path, "rt", newline="", encoding="utf-8-sig", errors="replace") as fh:
        reader = csv.reader(fh, delimiter=",", quotechar='"', doublequote=True, strict=False)
        header = next(reader, [])
        while not header:  # blank lines before the header
            header = next(reader, None)
            if header is None:
                return [], [], 0
        k = len(header)
        row = 0
        try:
            for fields in reader:
                if not fields:  # a blank line: not a row for any engine
                    continue
                row += 1
                if len(fields) != k:
                    count += 1
                    if len(shown) < show:
                        text = ",".join(fields)
                        text = text if len(text) <= 80 else text[:77] + "..."
                        shown.append((row, len(fields), text if text.strip() else repr(text)))
        except csv.Error:  # e.g. a NUL byte: the reader's own reason is reported instead
            pass
    return header, shown, count


def ragged_problems(source: FileSource) -> list[Problem]:
    """One problem per CSV file of ``source`` with rows of more or fewer fields than its header: it
    names the file, counts the rows and shows the first (file, data row, number of fields, text)."""
    problems: list[Problem] = []
    for p in source.paths:
        try:
            header, shown, count = ragged_rows(p)
        except (OSError, UnicodeError, EOFError):
            continue
        if count:
            rows = pd.DataFrame({"file": [os.path.basename(p)] * len(shown), "row": [r for r, _, _ in shown],
                                 "fields": [n for _, n, _ in shown], "line": [t for _, _, t in shown]})
            rows.index = [""] * len(rows)
            problems.append(Problem(None, msg_ragged_rows(os.path.basename(p), len(header)), rows, count))
    return problems


def csv_read_error(source: FileSource, exc: BaseException, path: str | None = None) -> InputError:
    """The InputError for a CSV log that pyarrow or DuckDB refused to read (``exc``): the ragged rows
    of :func:`ragged_problems`, the same for every engine, or else the reader's reason without its
    advice about options clv lacks."""
    problems = ragged_problems(source)
    if problems:
        return InputError(problems, what="transaction log")
    where = repr(path) if path is not None else "the transaction log"
    return InputError(f"cannot read {where}: {engine_reason(exc)}")
