"""Atomic writes: the target appears whole or not at all, with ordinary permissions."""
from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from clvmodels.io.atomic import atomic_path, read_table_metadata, write_table


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "t.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]


def test_written_files_get_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_table(pd.DataFrame({"a": [1, 2]}), tmp_path / "t.parquet", metadata={"k": 1}, index=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert read_table_metadata(path) == {"k": 1}
    assert stat.S_IMODE((tmp_path / "t.parquet.meta.json").stat().st_mode) == 0o644
