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
import zlib
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


#: keys every model file's model.json has (besides format and format_version)
HEADER_KEYS = {"model": str, "config": dict, "time_unit": str, "shape": list, "priors_resolved": dict,
               "diagnostics": dict, "fit_info": dict}


def invalid_model_file(path, what: str) -> ModelFileError:
    """The one message of every malformed model file: ``'<path>' is not a valid clvmodels model file:
    <what is wrong>``."""
    return ModelFileError(f"{str(path)!r} is not a valid clvmodels model file: {what}")


def load_model_file(path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a model file: ``(header, arrays)``. Refuses, with :class:`ModelFileError` and a one-line
    message, anything but a zip with a readable ``model.json`` (a JSON object with every key of
    :data:`HEADER_KEYS`, of the right types, ``shape`` two positive whole numbers) and a
    ``posterior.npz`` of numeric arrays that are finite and hold ``chains x draws`` values each. What
    the keys must hold for a particular model (its parameters, its configuration) is checked by
    :meth:`clvmodels.models.base.BayesianModel.load`."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"model file {str(path)!r} does not exist")
    if path.is_dir():
        raise invalid_model_file(path, "it is a directory")
    if not zipfile.is_zipfile(path):
        raise invalid_model_file(path, "it is not a zip archive (a model file is the zip that save() writes)")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            missing = [n for n in ("model.json", "posterior.npz") if n not in names]
            if missing:
                raise invalid_model_file(path, f"the archive has no {' and no '.join(missing)}")
            raw_header = zf.read("model.json")
            raw_post = zf.read("posterior.npz")
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, ValueError) as exc:
        raise invalid_model_file(path, f"the zip archive cannot be read ({exc})") from exc
    try:
        header = json.loads(raw_header)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise invalid_model_file(path, f"model.json is not valid JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise invalid_model_file(path, "model.json is not a JSON object")
    if header.get("format") != FORMAT:
        raise invalid_model_file(path, f"model.json says format {header.get('format')!r}, not {FORMAT!r}")
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{str(path)!r} was written in model-file format version {version} (by clvmodels "
            f"{header.get('library_version', '?')}); this clvmodels ({_lib_version()}) reads version "
            f"{FORMAT_VERSION}. Refit the model, or load it with the clvmodels version that wrote it."
        )
    for key, kind in HEADER_KEYS.items():
        if key not in header:
            raise invalid_model_file(path, f"model.json has no {key!r}")
        if not isinstance(header[key], kind):
            raise invalid_model_file(path, f"{key!r} in model.json is a {type(header[key]).__name__}, "
                                           f"not a {kind.__name__}")
    shape = header["shape"]
    if len(shape) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape):
        raise invalid_model_file(path, f"'shape' must be [chains, draws], two positive whole numbers; got {shape!r}")
    try:
        with np.load(io.BytesIO(raw_post), allow_pickle=False) as npz:
            arrays = {k: np.asarray(npz[k]) for k in npz.files}
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
        raise invalid_model_file(path, f"posterior.npz cannot be read ({exc})") from exc
    size = shape[0] * shape[1]
    for name, arr in arrays.items():
        if arr.dtype.kind not in "fiu":
            raise invalid_model_file(path, f"the draws of {name!r} are not numbers ({arr.dtype})")
        if arr.size != size:
            raise invalid_model_file(path, f"the draws of {name!r} hold {arr.size} values, but 'shape' "
                                           f"{shape} says {size} (chains x draws)")
        arr = arr.astype(float)
        bad = int((~np.isfinite(arr)).sum())
        if bad:
            raise invalid_model_file(path, f"{bad} draw{'s' if bad != 1 else ''} of {name!r} "
                                           f"{'are' if bad != 1 else 'is'} NaN or infinite")
        arrays[name] = arr
    return header, arrays


def _lib_version() -> str:
    from .. import __version__

    return __version__
