"""Outputs: atomic writes, runs whose outputs are all or nothing, tables with metadata, model files."""
from .atomic import atomic_path, read_table_metadata, recover, staged_outputs, write_json, write_table

__all__ = ["atomic_path", "recover", "staged_outputs", "write_table", "read_table_metadata", "write_json"]
