"""Outputs: atomic writes, tables with metadata, model files."""
from .atomic import atomic_path, write_table, write_json

__all__ = ["atomic_path", "write_table", "write_json"]
