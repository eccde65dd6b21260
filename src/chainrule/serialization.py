"""``cr.save(obj, path)`` and ``cr.load(path)``: tensors, arrays, state dicts and optimizer state, without pickle.

The file is a ZIP archive (docs/checkpoint-format.md) holding ``chainrule.json``, which describes the saved
structure, and one ``arrays/N.npy`` per array in NumPy's ``.npy`` format. Loading only ever parses JSON and
``.npy`` headers: nothing in the file is executed.

A save is exact or refused: everything comes back with its type and value (arrays with their dtype, shape and
bytes), and a value that would come back as something else (a namedtuple, an int subclass, a masked array, ...)
is refused with a ``CheckpointError`` that names where it sits in the object, before anything is written. Saving
writes a temporary file beside the target, flushes it to disk and renames it over the target in one step, so a
crash mid-save leaves the old file intact; the temporaries that killed saves leave behind are removed by the next
save of the same file.

Loading treats the file as hostile: whatever is wrong with it (damage, truncation, lying headers, compressed
members, sizes larger than the file) raises ``CheckpointError`` and nothing is loaded half-way. Sizes are checked
against the file's before anything is allocated, and each array is read once however often it is referenced.
"""

from __future__ import annotations

import ast
import io
import json
import math
import os
import re
import secrets
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ChainruleError
from .tensor import Tensor

FORMAT, VERSION = "chainrule", 1
MANIFEST = "chainrule.json"
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
MAX_EMPTY_ELEMENTS = 2**24  # elements of a zero-size dtype: the file's size bounds every other array, not these
MAX_NPY_HEADER_BYTES = 65535  # what a version 1.0 header holds; NumPy's own loader reads 10000 unless told more
MAX_DEPTH = 100  # levels of nested lists, tuples and dicts: far more than any state dict, well within recursion
MAX_INT_DIGITS = 4300  # Python's default limit for reading an int from text, so every Python reads them back
STALE_TEMPORARY_SECONDS = 600  # a temporary unchanged this long belongs to a save that was killed

_NPY_MAGIC = b"\x93NUMPY"
_NPY_VERSIONS = {(1, 0): (2, "latin1"), (2, 0): (4, "latin1"), (3, 0): (4, "utf8")}  # length bytes, encoding
_COPY_CHUNK_BYTES = 16 * 1024 * 1024
_TEMPORARY_SUFFIX = re.compile(r"[a-z0-9_]{8}\.tmp")  # after ".{target}."; also matches older chainrules' names
_INT_TEXT = re.compile(r"-?[0-9]+")
_KEY_KINDS = ("none", "bool", "int", "float", "str")


class CheckpointError(ChainruleError, ValueError):
    """A file that cannot be loaded (damaged, truncated, not a chainrule file), or a value that cannot be saved."""


class _Damaged(Exception):
    """What is wrong inside a file being loaded; ``load`` reports it as a ``CheckpointError``."""


def save(obj: Any, path: str | os.PathLike) -> Path:
    """Save ``obj`` (tensors, NumPy arrays and scalars, numbers, strings, None, and lists, tuples and dicts of
    them, such as ``model.state_dict()`` or ``optimizer.state_dict()``) to ``path``, atomically.

    Only what loads back exactly is saved; anything else (subclasses of those types, such as namedtuples, or
    dtypes the ``.npy`` header cannot describe) raises ``CheckpointError`` before a byte is written. One array
    object referenced several times is stored once and loads as one array; distinct arrays load as distinct
    arrays, even if they were views of the same memory.

    The file is written as ``.NAME.XXXXXXXX.tmp`` beside the target and renamed over it. Each save also removes
    the temporaries of the same target that have not changed for ``STALE_TEMPORARY_SECONDS`` (10 minutes, timed
    by the file system's clock): those of killed saves. A save still running elsewhere writes to its temporary
    continuously, so it is left alone unless it was stopped for that long; it then fails with FileNotFoundError
    and its target stays as it was.
    """
    path = Path(path).resolve()  # through a symbolic link: replace the file it names, not the link
    encoder = _Encoder()
    root = encoder.encode(obj, "obj", 0)
    manifest = json.dumps({"format": FORMAT, "version": VERSION, "root": root}, allow_nan=False).encode()
    temporary, handle = _create_temporary(path)
    try:
        _remove_stale_temporaries(path, os.fstat(handle.fileno()).st_mtime - STALE_TEMPORARY_SECONDS)
        with handle, zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(MANIFEST, manifest)
            for number, (array, header) in enumerate(encoder.arrays):
                with archive.open(f"arrays/{number}.npy", "w", force_zip64=True) as member:
                    member.write(header)
                    _write_array_data(member, array)
            archive.close()
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.chmod(temporary, _mode_for(path))
            os.replace(temporary, path)
        except FileNotFoundError as error:
            raise FileNotFoundError(
                f"cr.save: the temporary file {temporary.name} vanished before it could replace {path.name} (another "
                f"save of that file removes temporaries unchanged for {STALE_TEMPORARY_SECONDS} s, or the folder "
                "went away); the target was not changed: save again"
            ) from error
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)
    return path


def _create_temporary(path: Path) -> tuple[Path, Any]:
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        except FileExistsError:
            continue
        return temporary, os.fdopen(fd, "wb")


def _remove_stale_temporaries(path: Path, changed_before: float) -> None:
    """Remove the ``.NAME.XXXXXXXX.tmp`` files of this target last changed before ``changed_before``."""
    prefix = f".{path.name}."
    try:
        entries = os.scandir(path.parent)
    except OSError:
        return
    with entries:
        for entry in entries:
            if not (entry.name.startswith(prefix) and _TEMPORARY_SUFFIX.fullmatch(entry.name[len(prefix) :])):
                continue
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < changed_before:
                    os.unlink(entry.path)
            except OSError:
                pass  # removed by another save meanwhile, or not ours to remove: tidying is best effort


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


_CONVERSIONS = {
    Tensor: "value.detach()",
    np.ndarray: "np.asarray(value), saving apart what the subclass adds (a masked array's .mask)",
    np.generic: "np.asarray(value)[()]",
    int: "int(value)",
    float: "float(value)",
    str: "str(value)",
    list: "list(value)",
    tuple: "tuple(value), or value._asdict() for a namedtuple",
    dict: "dict(value)",
}


class _Encoder:
    """Turns an object into its JSON description, collecting the arrays to store (each array object once)."""

    def __init__(self) -> None:
        self.arrays: list[tuple[np.ndarray, bytes]] = []  # (array, its .npy header) of arrays/0.npy, 1, ...
        self._numbers: dict[int, int] = {}  # id of a saved array, scalar or tensor data -> its array number
        self._kept: list[Any] = []  # the objects behind those ids, alive so that no id is reused meanwhile
        self._open: set[int] = set()  # ids of the containers being encoded: one met again contains itself

    def encode(self, value: Any, where: str, depth: int) -> dict:
        kind = type(value)
        if kind is Tensor:
            return {"t": "tensor", "a": self._array(value.data, where), "requires_grad": bool(value.requires_grad)}
        if kind is np.ndarray:
            return {"t": "array", "a": self._array(value, where)}
        if isinstance(value, np.generic) and type(np.asarray(value)[()]) is kind:
            return {"t": "scalar", "a": self._array(value, where)}
        if value is None:
            return {"t": "none"}
        if kind is bool or kind is str:
            return {"t": kind.__name__, "v": value}
        if kind is int:
            return {"t": "int", "v": _int_text(value, where)}
        if kind is float:
            return {"t": "float", "v": value.hex()}  # exact, and inf too; a nan loads as Python's nan
        if kind is list or kind is tuple or kind is dict:
            return self._container(value, where, depth)
        for base, conversion in _CONVERSIONS.items():
            if isinstance(value, base):
                plain = type(np.asarray(value)[()]) if base is np.generic else base
                raise CheckpointError(
                    f"cr.save: {where} is of type {kind.__name__}, a subclass of {plain.__name__}, which would load "
                    f"back as a plain {plain.__name__}; convert it first, e.g. with {conversion}"
                )
        raise CheckpointError(
            f"cr.save: {where} is a {kind.__name__}, which chainrule does not save (no pickle); save tensors, "
            "arrays, numbers, strings and lists, tuples and dicts of them (a model's state_dict(), not the model)"
        )

    def _container(self, value: Any, where: str, depth: int) -> dict:
        if depth >= MAX_DEPTH:
            raise CheckpointError(f"cr.save: {where} is nested more than {MAX_DEPTH} containers deep; flatten it")
        if id(value) in self._open:
            raise CheckpointError(f"cr.save: {where} contains itself, which cannot be saved; break the cycle")
        self._open.add(id(value))
        try:
            if type(value) is dict:
                items = [[self._key(k, where), self.encode(v, f"{where}[{k!r}]", depth + 1)] for k, v in value.items()]
            else:
                items = [self.encode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
        finally:
            self._open.discard(id(value))
        return {"t": type(value).__name__, "items": items}

    def _key(self, key: Any, where: str) -> dict:
        if type(key) not in (str, int, float, bool) and key is not None:
            raise CheckpointError(
                f"cr.save: {where} has a key of type {type(key).__name__}, which would not load back as itself; "
                "use keys of type str, int, float, bool or None"
            )
        return self.encode(key, f"{where} (the key {key!r:.40})", 0)

    def _array(self, source: Any, where: str) -> int:
        if id(source) in self._numbers:
            return self._numbers[id(source)]
        array = np.asarray(source)
        if array.dtype.hasobject:
            raise CheckpointError(
                f"cr.save: {where} is an array of Python objects (dtype {array.dtype}), which cannot be saved without "
                "pickle; save fixed-size arrays (text with .astype(str)) or lists instead"
            )
        if _has_metadata(array.dtype):
            raise CheckpointError(
                f"cr.save: {where} has a dtype with metadata, which the .npy format does not keep; save a copy "
                "with a plain dtype"
            )
        try:  # what loading will read from the header: the same shape, order and dtype, or a refusal now
            header = _npy_header(array)
            shape, fortran, dtype, _ = _read_npy_header(io.BytesIO(header), len(header) + array.nbytes)
            if (shape, fortran, dtype) != (array.shape, _is_fortran(array), array.dtype):
                raise _Damaged(f"its header would describe {dtype} of shape {shape}")
        except (_Damaged, ValueError, TypeError) as error:
            raise CheckpointError(
                f"cr.save: {where} is an array of dtype {array.dtype} that would not load back as itself ({error}); "
                "convert it to a standard NumPy dtype first"
            ) from None
        self._numbers[id(source)] = len(self.arrays)
        self._kept.append(source)
        self.arrays.append((array, header))
        return len(self.arrays) - 1


def _int_text(value: int, where: str) -> str:
    try:
        text = str(value)
    except ValueError:  # beyond this Python's limit for converting ints to text
        text = ""
    if not text or len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise CheckpointError(
            f"cr.save: {where} is an int of more than {MAX_INT_DIGITS} decimal digits, which Python does not read "
            "back from text by default; save it as hex text (hex(value)) instead"
        )
    return text


def _has_metadata(dtype: np.dtype) -> bool:
    if dtype.metadata is not None:
        return True
    if dtype.subdtype is not None:
        return _has_metadata(dtype.subdtype[0])
    return any(_has_metadata(field[0]) for field in (dtype.fields or {}).values())


def _is_fortran(array: np.ndarray) -> bool:
    return bool(array.flags.f_contiguous and not array.flags.c_contiguous)  # as NumPy decides


def _npy_header(array: np.ndarray) -> bytes:
    """The ``.npy`` header of ``array``: version 1.0, or 3.0 when field names need more than Latin-1."""
    text = repr(
        {"descr": np.lib.format.dtype_to_descr(array.dtype), "fortran_order": _is_fortran(array), "shape": array.shape}
    )
    try:
        encoded, version = text.encode("latin1"), (1, 0)
    except UnicodeEncodeError:
        encoded, version = text.encode("utf8"), (3, 0)
    length_bytes = _NPY_VERSIONS[version][0]
    # spaces and a newline up to a multiple of 64 bytes, so that the data is aligned, as NumPy writes it
    encoded += b" " * (-(len(_NPY_MAGIC) + 2 + length_bytes + len(encoded) + 1) % 64) + b"\n"
    if len(encoded) > MAX_NPY_HEADER_BYTES:
        raise ValueError(f"its .npy header would take {len(encoded)} bytes; chainrule reads {MAX_NPY_HEADER_BYTES}")
    return _NPY_MAGIC + bytes(version) + len(encoded).to_bytes(length_bytes, "little") + encoded


def _write_array_data(member: Any, array: np.ndarray) -> None:
    if array.nbytes == 0:
        return
    order = "F" if _is_fortran(array) else "C"
    flags = ["external_loop", "buffered", "zerosize_ok"]
    buffer_size = max(_COPY_CHUNK_BYTES // array.itemsize, 1)
    for chunk in np.nditer(array, flags=flags, buffersize=buffer_size, order=order):  # no full copy of the array
        member.write(chunk.tobytes())


def load(path: str | os.PathLike) -> Any:
    """Load what ``save`` wrote: tensors come back as tensors (with their requires_grad), arrays as arrays.

    Anything wrong with the file's contents raises ``CheckpointError`` (and only that); a missing or unreadable
    file raises the usual ``OSError``. An array stored once and referenced several times (one array object when
    it was saved) loads as one array object.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"cr.load: {path} is a folder, not a checkpoint file")
    with open(path, "rb") as file:
        try:
            return _load_archive(file, os.fstat(file.fileno()).st_size, path)
        except CheckpointError:
            raise
        except Exception as error:  # whatever a hostile file provokes is reported as what it is: a bad file
            detail = str(error) if isinstance(error, _Damaged) else f"{type(error).__name__}: {error}"
            raise CheckpointError(f"cr.load: {path} is damaged or truncated ({detail}); nothing was loaded") from error


def _load_archive(file: Any, file_size: int, path: Path) -> Any:
    with zipfile.ZipFile(file) as archive:
        infos = archive.infolist()
        members = {info.filename: info for info in infos}
        if MANIFEST not in members:
            raise CheckpointError(f"cr.load: {path} is a ZIP archive but not a chainrule file (no {MANIFEST})")
        _check_claims(infos, file_size)
        if members[MANIFEST].file_size > MAX_MANIFEST_BYTES:
            raise _Damaged("the description of the contents is implausibly large")
        manifest = json.loads(archive.read(MANIFEST), parse_constant=_refuse_constant)
        if type(manifest) is not dict or manifest.get("format") != FORMAT:
            raise CheckpointError(f"cr.load: {path} is not a chainrule file")
        if type(manifest.get("version")) is not int or manifest["version"] != VERSION:  # (true and 1.0 are not 1)
            raise CheckpointError(
                f"cr.load: {path} has format version {manifest.get('version')!r:.20}; this chainrule reads {VERSION}"
            )
        return _Decoder(archive, members).decode(manifest.get("root"), 0)


def _check_claims(infos: list[zipfile.ZipInfo], file_size: int) -> None:
    """Refuse, before reading any member, what could make loading take more memory or time than the file's
    size: compressed members (cr.save stores them as they are) and sizes the file cannot hold."""
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED:
            raise _Damaged(f"the member {info.filename!r:.60} is compressed, which cr.save never does; not read")
        if info.flag_bits & 0x1:
            raise _Damaged(f"the member {info.filename!r:.60} is encrypted, which cr.save never does")
        if info.compress_size != info.file_size:
            raise _Damaged(f"the member {info.filename!r:.60} claims {info.file_size} bytes in {info.compress_size}")
    claimed = sum(info.compress_size for info in infos)
    if claimed > file_size:
        raise _Damaged(f"its members claim {claimed} bytes, more than the file's {file_size}")


def _refuse_constant(name: str) -> Any:
    raise _Damaged(f"the description holds {name}, which the format never writes")


class _Decoder:
    """Rebuilds the saved object from its description, checking every entry; reads each array once."""

    def __init__(self, archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo]) -> None:
        self.archive, self.members = archive, members
        self.arrays: dict[int, np.ndarray] = {}

    def array(self, number: Any) -> np.ndarray:
        if type(number) is not int:
            raise _Damaged(f"an array number {number!r:.20} that is not an integer")
        if number not in self.arrays:
            info = self.members.get(f"arrays/{number}.npy")
            if info is None:
                raise _Damaged(f"the array number {number} is missing")
            self.arrays[number] = _read_array(self.archive, info)
        return self.arrays[number]

    def decode(self, node: Any, depth: int) -> Any:
        if type(node) is not dict or type(node.get("t")) is not str:
            raise _Damaged("a malformed entry in the description of the contents")
        kind = node["t"]
        if kind in ("tensor", "array", "scalar"):
            array = self.array(node.get("a"))
            if kind == "array":
                return array
            if kind == "scalar":
                if array.ndim != 0:
                    raise _Damaged(f"a scalar stored as an array of shape {array.shape}")
                return array[()]
            requires_grad = node.get("requires_grad", False)
            if type(requires_grad) is not bool:
                raise _Damaged("a tensor whose requires_grad is not true or false")
            return Tensor(array, requires_grad=requires_grad)
        if kind == "none":
            return None
        if kind in ("bool", "str", "int", "float"):
            value = node.get("v")
            if type(value) is not (bool if kind == "bool" else str):
                raise _Damaged(f"a {kind} entry holding {type(value).__name__}")
            if kind == "int":
                if len(value) > MAX_INT_DIGITS + 1 or not _INT_TEXT.fullmatch(value):
                    raise _Damaged(f"an int entry holding {value!r:.40}")
                return int(value)
            return float.fromhex(value) if kind == "float" else value
        if kind in ("list", "tuple", "dict"):
            if depth >= MAX_DEPTH:
                raise _Damaged(f"containers nested more than {MAX_DEPTH} deep, which cr.save never writes")
            items = node.get("items")
            if type(items) is not list:
                raise _Damaged(f"a {kind} entry without a list of items")
            if kind != "dict":
                values = [self.decode(item, depth + 1) for item in items]
                return values if kind == "list" else tuple(values)
            result = {}
            for pair in items:
                if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not dict:
                    raise _Damaged("a malformed dict entry")
                if pair[0].get("t") not in _KEY_KINDS:
                    raise _Damaged(f"a dict key of kind {pair[0].get('t')!r:.20}, which cr.save never writes")
                result[self.decode(pair[0], depth + 1)] = self.decode(pair[1], depth + 1)
            return result
        raise _Damaged(f"an entry of unknown kind {kind!r:.40}")


def _read_exactly(stream: Any, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise _Damaged("an array member ends early")
    return data


def _read_npy_header(stream: Any, member_size: int) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran order, dtype, header size) of a ``.npy`` member of ``member_size`` bytes, all checked: a
    literal dict of NumPy's three keys (``ast.literal_eval`` evaluates no code), a shape of non-negative ints, no
    Python objects, and data that fills the rest of the member exactly, checked before anything is allocated."""
    prefix = _read_exactly(stream, len(_NPY_MAGIC) + 2)
    if prefix[: len(_NPY_MAGIC)] != _NPY_MAGIC:
        raise _Damaged("an array member is not in .npy format")
    version = (prefix[-2], prefix[-1])
    if version not in _NPY_VERSIONS:
        raise _Damaged(f"an array in .npy format version {version[0]}.{version[1]}, which chainrule does not read")
    length_bytes, encoding = _NPY_VERSIONS[version]
    length = int.from_bytes(_read_exactly(stream, length_bytes), "little")
    header_size = len(prefix) + length_bytes + length
    if length > MAX_NPY_HEADER_BYTES or header_size > member_size:
        raise _Damaged(f"an array header claims {length} bytes in a member of {member_size}")
    header = ast.literal_eval(_read_exactly(stream, length).decode(encoding))
    if type(header) is not dict or set(header) != {"descr", "fortran_order", "shape"}:
        raise _Damaged("an array header that is not a .npy header")
    shape, fortran = header["shape"], header["fortran_order"]
    if type(shape) is not tuple or any(type(n) is not int or n < 0 for n in shape) or type(fortran) is not bool:
        raise _Damaged(f"an array header with shape {shape!r:.40} and fortran_order {fortran!r:.10}")
    dtype = np.lib.format.descr_to_dtype(header["descr"])
    if dtype.hasobject:
        raise _Damaged("an array of Python objects, which is never loaded (it would need pickle)")
    if dtype.subdtype is not None:
        raise _Damaged(f"an array header with the dtype {dtype}, which NumPy never writes")
    count = math.prod(shape)
    if dtype.itemsize == 0 and count > MAX_EMPTY_ELEMENTS:  # no bytes to check the count against
        raise _Damaged(f"an array of {count} elements of no size (at most {MAX_EMPTY_ELEMENTS} are loaded)")
    data_size = count * dtype.itemsize
    if header_size + data_size != member_size:
        raise _Damaged(f"an array header claims {data_size} bytes of data in a member of {member_size - header_size}")
    return shape, fortran, dtype, header_size


def _read_array(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    with archive.open(info) as member:
        shape, fortran, dtype, _ = _read_npy_header(member, info.file_size)
        flat = np.empty(math.prod(shape), dtype)
        if flat.nbytes:
            raw, filled = flat.view(np.uint8), 0
            while filled < raw.size:  # in chunks: no second copy of the whole array in memory
                chunk = _read_exactly(member, min(raw.size - filled, _COPY_CHUNK_BYTES))
                raw[filled : filled + len(chunk)] = np.frombuffer(chunk, np.uint8)
                filled += len(chunk)
        if member.read(1):  # reading to the end also has zipfile check the member's CRC-32
            raise _Damaged("an array member holds more than its header says")
    return flat.reshape(shape, order="F" if fortran else "C")
