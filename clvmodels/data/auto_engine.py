"""``engine="auto"``: the in-memory pandas engine when the log fits comfortably in memory, else DuckDB.

The pandas engine is the fast one (a 10-million-row Parquet log in well under a second of CPU, several
times the DuckDB engine's speed; benchmarks/README.md, "RFM summary"), but it holds the log's three
columns and their working copies in memory; the DuckDB engine scans files within a memory limit and
spills to disk, so it also summarises logs larger than memory. :func:`choose_engine` estimates, from
what is cheap to know before reading anything, the memory the pandas engine would need, and picks it
when that is at most :data:`MEMORY_FRACTION` of the memory available now (:func:`available_memory`):

* a DataFrame is in memory already: pandas;
* Parquet whose customer id, date and amount columns are all fixed-width (numbers, dates,
  timestamps): :data:`BYTES_PER_ROW_FIXED` per row (the row counts in the files' footers) plus
  :data:`BYTES_PER_SLOT` per customer slot. The pandas engine gives integer ids spanning a modest range
  (max - min < 2 rows + 1 million) one slot each over the whole range, other ids one slot per customer
  (at most one per row), so the slots are the id span from the footers' column statistics when it is
  under that bound, else the rows; without statistics, the bound itself;
* Parquet with a text column (Python strings in pandas): :data:`BYTES_PER_ROW_TEXT` per row;
* CSV: the file size times :data:`BYTES_PER_CSV_BYTE` (a gzip-compressed file counts as
  :data:`GZIP_RATIO` times its size, or its recorded uncompressed size if that is larger).

The factors are the pandas engine's peak resident memory above the imports (the summarising process's
own ``VmHWM``), measured with ``benchmarks/bench_summary.py --memory`` on synthetic logs (below), and
rounded up. The fixed-width logs fit rows x 25.5 + customers x 219 bytes (10M rows of 1M customers and
2M rows of 2M customers solved for the two; it predicts 4.74 GB for 100M rows of 10M customers, which
measured 4.34 GB), hence 40 and 260; the text and CSV factors are the worst case measured, one row
per customer (the per-customer arrays and the summary then count once per row):

=====================================================  =============  ===================  ==============
log (2 million rows unless said)                       bytes per row  bytes per file byte  ``auto`` (est.)
=====================================================  =============  ===================  ==============
Parquet, int64 ids, 100M rows of 10M customers         43             6.1                  66 per row
Parquet, int64 ids, 10M rows of 1M customers           47             6.6                  66 per row
Parquet, int64 ids, one row per customer               242 to 244     34                   300 per row
Parquet, 10-character text ids, 200k customers         203 to 206     27                   600 per row
Parquet, 10-character text ids, one row per customer   400            49                   600 per row
CSV (ISO dates, amounts in cents), 200k customers      213 to 218     9.1 to 9.3           20 per byte
CSV, one row per customer                              338 to 359     13.8 to 14.7         20 per byte
=====================================================  =============  ===================  ==============

The choice and its reason are recorded in the summary's ``attrs["clvmodels"]["engine"]`` and
``["engine_reason"]``, and ``clv summarize`` prints them.
"""
from __future__ import annotations

import gzip
import os
import struct

from ..errors import InputError
from . import readers

#: the pandas engine's peak bytes per row of a Parquet log whose three columns are fixed-width (ints,
#: floats, dates, timestamps), beside those per customer slot: 25.5 fitted (above)
BYTES_PER_ROW_FIXED = 40
#: ... and per customer slot (the per-customer arrays, the summary): 219 fitted (above)
BYTES_PER_SLOT = 260
#: the same when a column is text (Python strings in pandas): 400 measured with 10-character ids, one
#: row per customer; longer ids cost more
BYTES_PER_ROW_TEXT = 600
#: the pandas engine's peak bytes per byte of a CSV log (read as text): 13.8 to 14.7 measured, one row
#: per customer (short rows of ~24 bytes: the worst case per byte)
BYTES_PER_CSV_BYTE = 20
#: a gzip-compressed CSV counts as this many times its size (unless it records a larger size itself)
GZIP_RATIO = 10
#: the pandas engine is chosen when its estimate is at most this fraction of the available memory:
#: "comfortably" leaves the rest to the caller's other data, to the fit that follows, and to the
#: estimate's error
MEMORY_FRACTION = 0.5

#: Arrow type names the pandas engine reads straight into NumPy (decimals become Python objects: text's cost)
_FIXED_WIDTH = ("int", "uint", "float", "double", "date32", "date64", "timestamp")


def available_memory() -> int | None:
    """Bytes of memory available to this process now: ``MemAvailable`` of ``/proc/meminfo`` (else the
    free physical pages of ``os.sysconf``), lowered to the room left under a cgroup memory limit (a
    container's) when one is set. None when none of these can be read."""
    avail = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024  # kB
                    break
    except (OSError, ValueError, IndexError):
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = None
    room = _cgroup_room()
    if room is not None:
        avail = room if avail is None else min(avail, room)
    return avail


def _cgroup_room() -> int | None:
    """Bytes left under the cgroup memory limit (v2 ``memory.max``, v1 ``memory.limit_in_bytes``), or
    None without a limit."""
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file) as fh:
                text = fh.read().strip()
            if text == "max":
                continue
            limit = int(text)
            if limit >= 1 << 60:  # v1 writes "no limit" as a page-rounded 2**63 - 1
                continue
            with open(usage_file) as fh:
                usage = int(fh.read().strip())
            return max(0, limit - usage)
        except (OSError, ValueError):
            continue
    return None


def _gzip_size(path: str) -> int:
    """The bytes a gzip file holds uncompressed, as an estimate: its trailer's size (modulo 2**32) or
    :data:`GZIP_RATIO` times the compressed size, whichever is larger."""
    size = os.path.getsize(path)
    recorded = 0
    try:
        with open(path, "rb") as fh:
            if fh.read(2) == b"\x1f\x8b" and size >= 18:
                fh.seek(-4, os.SEEK_END)
                recorded = struct.unpack("<I", fh.read(4))[0]
    except (OSError, struct.error, gzip.BadGzipFile):
        recorded = 0
    return max(recorded, GZIP_RATIO * size)


def estimate_pandas_bytes(source: readers.FileSource, columns: list[str]) -> tuple[int, str]:
    """(bytes, how) the pandas engine is estimated to need for the log ``source`` when it reads
    ``columns`` (the customer id column first, then the date and amount columns): see the module
    docstring."""
    if source.kind == "parquet":
        import pyarrow.parquet as pq

        rows, text, lo, hi = 0, False, None, None
        for path in source.paths:
            meta = pq.read_metadata(path)  # the footer only
            rows += meta.num_rows
            schema = meta.schema.to_arrow_schema()
            for c in columns:
                if c in schema.names and not str(schema.field(c).type).startswith(_FIXED_WIDTH):
                    text = True
            if not text and columns and columns[0] in schema.names and str(schema.field(columns[0]).type).startswith(
                    ("int", "uint")):
                span = _id_range(meta, columns[0])
                if span is None:
                    lo = hi = False  # some row group without statistics: the span is unknown
                elif lo is not False:
                    lo = span[0] if lo is None else min(lo, span[0])
                    hi = span[1] if hi is None else max(hi, span[1])
        if text:
            return rows * BYTES_PER_ROW_TEXT, (f"Parquet log of {rows:,} rows, text columns, x {BYTES_PER_ROW_TEXT} "
                                               "bytes per row")
        dense_bound = 2 * rows + 1_000_000  # the pandas engine's rule for giving ids their own slots
        if lo is None or lo is False:  # ids not integers with statistics: the worst case of the two rules
            slots, why = dense_bound, "customer slots unknown"
        elif hi - lo + 1 < dense_bound:
            slots, why = hi - lo + 1, f"ids {lo:,} to {hi:,}"
        else:
            slots, why = rows, "sparse ids"
        return (rows * BYTES_PER_ROW_FIXED + slots * BYTES_PER_SLOT,
                f"Parquet log of {rows:,} rows x {BYTES_PER_ROW_FIXED} bytes + {slots:,} customer slots ({why}) "
                f"x {BYTES_PER_SLOT} bytes")
    size = sum(_gzip_size(p) if p.lower().endswith(".gz") else os.path.getsize(p) for p in source.paths)
    return size * BYTES_PER_CSV_BYTE, f"CSV log of {_size(size)}, x {BYTES_PER_CSV_BYTE} bytes per byte"


def _id_range(meta, column: str) -> tuple[int, int] | None:
    """(min, max) of an integer column over a Parquet file's row groups, from the footer's statistics;
    None when a row group has none."""
    j = meta.schema.to_arrow_schema().get_field_index(column)
    lo = hi = None
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(j).statistics
        if meta.row_group(g).num_rows == 0:
            continue
        if stats is None or not stats.has_min_max:
            return None
        lo = int(stats.min) if lo is None else min(lo, int(stats.min))
        hi = int(stats.max) if hi is None else max(hi, int(stats.max))
    return None if lo is None else (lo, hi)


def _size(n: float) -> str:
    """Bytes in words: MB below a GB, else GB (powers of ten)."""
    return f"{n / 1e9:,.2f} GB" if n >= 1e9 else f"{n / 1e6:,.1f} MB"


def choose_engine(transactions, columns: list[str]) -> tuple[str, str]:
    """``(engine, reason)`` for ``engine="auto"`` (``columns``: the customer id column first, then the
    date and amount columns read): ``"pandas"`` for a DataFrame, and for files whose
    estimated pandas-engine memory (:func:`estimate_pandas_bytes`) is at most :data:`MEMORY_FRACTION`
    of :func:`available_memory`; ``"duckdb"`` otherwise, and when the log cannot be sized (a missing
    file: the engine then reports it as before) or the available memory is unknown."""
    if not readers.is_file_source(transactions):
        return "pandas", "auto: a DataFrame, already in memory"
    try:
        source = readers.resolve_source(transactions)
        need, how = estimate_pandas_bytes(source, columns)
    except (InputError, OSError, ValueError) as exc:  # pyarrow's errors are OSError/ValueError subclasses
        return "duckdb", f"auto: could not size the log ({type(exc).__name__})"
    avail = available_memory()
    if avail is None:
        return "duckdb", f"auto: {how}; available memory unknown"
    if need <= MEMORY_FRACTION * avail:
        return "pandas", (f"auto: in memory, {how} = {_size(need)}, within {MEMORY_FRACTION:.0%} of the "
                          f"{_size(avail)} available")
    return "duckdb", (f"auto: {how} = {_size(need)}, more than {MEMORY_FRACTION:.0%} of the "
                      f"{_size(avail)} available")
