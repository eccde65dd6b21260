"""``cr.save(obj, path)`` and ``cr.load(path)``: tensors, arrays, state dicts and optimizer state, without pickle.

The file is a ZIP archive (docs/checkpoint-format.md) holding ``chainrule.json``, which describes the saved
structure, and one ``arrays/N.npy`` per array in NumPy's own ``.npy`` format, written and read with pickling
disabled. Loading only ever parses JSON and ``.npy`` headers: nothing in the file is executed. Every array keeps
its dtype, shape and bytes exactly. Saving writes a temporary file beside the target, flushes it to disk and
renames it over the target in one step, so a crash mid-save leaves the old file intact. A damaged or truncated
file is reported as a ``CheckpointError``, never loaded half-way.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ChainruleError
from .tensor import Tensor

FORMAT, VERSION = "chainrule", 1
MANIFEST = "chainrule.json"
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


class CheckpointError(ChainruleError, ValueError):
    """A file that cannot be loaded (damaged, truncated, not a chainrule file), or a value that cannot be saved."""


def save(obj: Any, path: str | os.PathLike) -> Path:
    """Save ``obj`` (tensors, NumPy arrays and scalars, numbers, strings, None, and lists, tuples and dicts of
    them, such as ``model.state_dict()`` or ``optimizer.state_dict()``) to ``path``, atomically."""
    path = Path(path).resolve()  # through a symbolic link: replace the file it names, not the link
    arrays: list[np.ndarray] = []
    try:
        root = _encode(obj, arrays, "obj")
    except RecursionError:
        raise CheckpointError("cr.save: the object is nested too deeply to save") from None
    manifest = json.dumps({"format": FORMAT, "version": VERSION, "root": root}).encode()
    handle = tempfile.NamedTemporaryFile(dir=path.parent or ".", prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle, zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(MANIFEST, manifest)
            for i, array in enumerate(arrays):
                with archive.open(f"arrays/{i}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, array, allow_pickle=False)
            archive.close()
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, _mode_for(path))
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)
    return path


def _mode_for(path: Path) -> int:
    """The permissions the file would have had if written directly: the old file's, or the umask's."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _sync_directory(directory: Path) -> None:
    try:  # make the rename itself durable; not every system lets a directory be opened
        fd = os.open(directory or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _encode(value: Any, arrays: list, where: str) -> dict:
    if type(value) is Tensor:
        return {"t": "tensor", "a": _array(value.data, arrays, where), "requires_grad": bool(value.requires_grad)}
    if isinstance(value, np.ndarray):
        return {"t": "array", "a": _array(value, arrays, where)}
    if isinstance(value, np.generic):
        return {"t": "scalar", "a": _array(np.asarray(value), arrays, where)}
    if value is None:
        return {"t": "none"}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int):
        return {"t": "int", "v": str(value)}
    if isinstance(value, float):
        return {"t": "float", "v": value.hex()}  # exact, and nan and inf too
    if isinstance(value, str):
        return {"t": "str", "v": value}
    if isinstance(value, (list, tuple)):
        items = [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]
        return {"t": type(value).__name__, "items": items}
    if isinstance(value, dict):
        pairs = []
        for k, v in value.items():
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise CheckpointError(f"cr.save: {where} has a key of type {type(k).__name__}; use str or int keys")
            pairs.append([_encode(k, arrays, where), _encode(v, arrays, f"{where}[{k!r}]")])
        return {"t": "dict", "items": pairs}
    raise CheckpointError(
        f"cr.save: {where} is a {type(value).__name__}, which chainrule does not save (no pickle); save tensors, "
        "arrays, numbers, strings and lists, tuples and dicts of them (a model's state_dict(), not the model)"
    )


def _array(array: Any, arrays: list, where: str) -> int:
    array = np.asarray(array)
    if array.dtype.hasobject:
        raise CheckpointError(f"cr.save: {where} is an array of Python objects, which cannot be saved without pickle")
    arrays.append(array)
    return len(arrays) - 1


def load(path: str | os.PathLike) -> Any:
    """Load what ``save`` wrote: tensors come back as tensors (with their requires_grad), arrays as arrays."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"cr.load: {path} is a folder, not a checkpoint file")
    try:
        with zipfile.ZipFile(path) as archive:
            if MANIFEST not in archive.namelist():
                raise CheckpointError(f"cr.load: {path} is a ZIP archive but not a chainrule file (no {MANIFEST})")
            info = archive.getinfo(MANIFEST)
            if info.file_size > MAX_MANIFEST_BYTES:
                raise CheckpointError(f"cr.load: {path}: the description of the contents is implausibly large")
            manifest = json.loads(archive.read(MANIFEST))
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise CheckpointError(f"cr.load: {path} is not a chainrule file")
            if manifest.get("version") != VERSION:
                raise CheckpointError(
                    f"cr.load: {path} has format version {manifest.get('version')}; this chainrule reads {VERSION}"
                )
            return _decode(manifest.get("root"), archive)
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise
    except (
        zipfile.BadZipFile,
        KeyError,
        ValueError,
        TypeError,
        EOFError,
        OSError,
        RecursionError,
        NotImplementedError,  # an unknown compression method or ZIP version: a damaged header
        RuntimeError,  # "encrypted": a damaged flag bit
        MemoryError,
    ) as error:
        raise CheckpointError(
            f"cr.load: {path} is damaged or truncated ({type(error).__name__}: {error}); nothing was loaded"
        ) from error


def _read_array(stream: Any, stored: int) -> np.ndarray:
    """An array from ``.npy`` bytes, refusing a header that claims more data than the member holds (before
    allocating it) and any array of Python objects."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    else:  # version 3 (UTF-8 field names) has no public reader of its own
        shape, fortran, dtype = np.lib.format._read_array_header(stream, version)
    if dtype.hasobject:
        raise ValueError("an array of Python objects, which is never loaded (it would need pickle)")
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if count * dtype.itemsize > stored:
        raise ValueError(f"an array header claims {count * dtype.itemsize} bytes in a member of {stored}")
    data = stream.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise EOFError("the array's data ends early")
    array = np.frombuffer(data, dtype=dtype, count=count).copy()
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


def _decode(node: Any, archive: zipfile.ZipFile) -> Any:
    if not isinstance(node, dict) or "t" not in node:
        raise ValueError("a malformed entry in the description of the contents")
    kind = node["t"]
    if kind in ("tensor", "array", "scalar"):
        name = f"arrays/{int(node['a'])}.npy"
        with archive.open(name) as member:
            array = _read_array(io.BufferedReader(member), archive.getinfo(name).file_size)  # type: ignore[arg-type]
        if kind == "tensor":
            return Tensor(array, requires_grad=bool(node.get("requires_grad", False)))
        return array[()] if kind == "scalar" else array
    if kind == "none":
        return None
    if kind == "bool":
        return bool(node["v"])
    if kind == "int":
        return int(node["v"])
    if kind == "float":
        return float.fromhex(node["v"])
    if kind == "str":
        return str(node["v"])
    if kind in ("list", "tuple"):
        items = [_decode(item, archive) for item in node["items"]]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {_decode(k, archive): _decode(v, archive) for k, v in node["items"]}
    raise ValueError(f"an entry of unknown kind {kind!r}")
