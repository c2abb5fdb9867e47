"""Model files: a zip archive holding ``model.json`` (format, versions, configuration, priors, time
unit, diagnostics) and ``posterior.npz`` (the parameter draws, chain x draw, no per-customer arrays,
so a file stays small whatever the number of customers). No pickles: loading never runs code.

Format versions: ``FORMAT_VERSION`` is bumped on any incompatible change; a file with another major
version is refused with a clear error instead of being misread.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFileError
from .atomic import atomic_path

FORMAT = "clvmodels-model"
FORMAT_VERSION = 1


def save_model_file(path, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> Path:
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, **header}
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v, dtype=float) for k, v in arrays.items()})
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("model.json", json.dumps(header, indent=2, default=str))
            zf.writestr("posterior.npz", buf.getvalue())
    return Path(path)


def load_model_file(path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"model file {str(path)!r} does not exist")
    try:
        with zipfile.ZipFile(path) as zf:
            header = json.loads(zf.read("model.json"))
            with np.load(io.BytesIO(zf.read("posterior.npz")), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, ValueError) as exc:
        raise ModelFileError(f"{str(path)!r} is not a clvmodels model file ({exc})") from exc
    if header.get("format") != FORMAT:
        raise ModelFileError(f"{str(path)!r} is not a clvmodels model file (format {header.get('format')!r})")
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{str(path)!r} was written in model-file format version {version} (by clvmodels "
            f"{header.get('library_version', '?')}); this clvmodels ({_lib_version()}) reads version "
            f"{FORMAT_VERSION}. Refit the model, or load it with the clvmodels version that wrote it."
        )
    return header, arrays


def _lib_version() -> str:
    from .. import __version__

    return __version__
