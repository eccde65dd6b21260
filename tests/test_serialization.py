"""cr.save / cr.load: exact round trips or refusals, no pickle, atomic writes, only CheckpointError from bad files."""

import collections
import enum
import io
import math
import os
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule import serialization

DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint64", "bool", "complex128"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 0, 3), (4, 5)])
def test_arrays_round_trip_bit_for_bit(tmp_path, dtype, shape):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    if dtype.startswith("float") and array.size:
        array.flat[0] = np.nan
    back = cr.load(cr.save(array, tmp_path / "a.crz"))
    assert back.dtype == array.dtype and back.shape == array.shape and back.tobytes() == array.tobytes()


def test_structures_tensors_and_numbers_round_trip(tmp_path):
    obj = {
        "weights": cr.tensor(np.arange(6.0).reshape(2, 3)[:, ::2], requires_grad=True),  # not contiguous
        "frozen": cr.tensor([1, 2], dtype=np.int32),
        "step": 12345678901234567890,
        "lr": 0.1,
        "odd": [float("nan"), float("inf"), -0.0],
        "flags": (True, None, "name"),
        3: {"momentum_buffer": np.float32(0.25)},
    }
    back = cr.load(cr.save(obj, tmp_path / "s.crz"))
    assert back["weights"].requires_grad and back["weights"].tolist() == [[0.0, 2.0], [3.0, 5.0]]
    assert not back["frozen"].requires_grad and back["frozen"].dtype == np.int32
    assert back["step"] == 12345678901234567890 and back["lr"] == 0.1
    assert np.isnan(back["odd"][0]) and back["odd"][1] == float("inf") and str(back["odd"][2]) == "-0.0"
    assert back["flags"] == (True, None, "name")
    scalar = back[3]["momentum_buffer"]
    assert type(scalar) is np.float32 and scalar == 0.25


def test_what_cannot_be_saved_without_pickle_is_refused(tmp_path):
    with pytest.raises(cr.CheckpointError, match=r"obj\['model'\] is a Linear.*state_dict\(\), not the model"):
        cr.save({"model": cr.nn.Linear(2, 2)}, tmp_path / "m.crz")
    with pytest.raises(cr.CheckpointError, match="array of Python objects"):
        cr.save(np.array([object()]), tmp_path / "o.crz")
    assert not list(tmp_path.iterdir())  # nothing half-written left behind


def test_a_pickle_inside_a_file_is_never_run(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array([Payload()], dtype=object), allow_pickle=True)
    path = tmp_path / "evil.crz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("chainrule.json", '{"format": "chainrule", "version": 1, "root": {"t": "array", "a": 0}}')
        archive.writestr("arrays/0.npy", buffer.getvalue())
    with pytest.raises(cr.CheckpointError, match="damaged or truncated"):
        cr.load(path)
    assert not marker.exists()


def test_a_crash_during_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "state.crz"
    cr.save({"w": np.ones(3)}, path)
    before = path.read_bytes()
    calls = []
    real = serialization._write_array_data

    def crash_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("power cut")
        return real(*args, **kwargs)

    monkeypatch.setattr(serialization, "_write_array_data", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        cr.save({"w": np.zeros(3), "b": np.zeros(2)}, path)
    assert path.read_bytes() == before
    assert cr.load(path)["w"].tolist() == [1.0, 1.0, 1.0]
    assert sorted(os.listdir(tmp_path)) == ["state.crz"]  # the temporary file is gone


@pytest.mark.parametrize("keep", [0, 10, 100, 0.5, 0.9, -1])
def test_truncated_files_are_clear_errors(tmp_path, keep):
    path = tmp_path / "t.crz"
    cr.save({"w": np.arange(100.0), "b": [np.ones(4)]}, path)
    data = path.read_bytes()
    cut = keep if isinstance(keep, int) and keep >= 0 else int(len(data) * keep) if keep > 0 else len(data) - 1
    path.write_bytes(data[:cut])
    with pytest.raises(cr.CheckpointError, match="damaged or truncated"):
        cr.load(path)


def test_corrupted_bytes_are_caught(tmp_path):
    path = tmp_path / "c.crz"
    cr.save(np.arange(1000.0), path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the array's bytes: the checksum no longer matches
    path.write_bytes(bytes(data))
    with pytest.raises(cr.CheckpointError):
        cr.load(path)


def test_other_files_are_not_taken_for_checkpoints(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("chainrule.json", '{"format": "something else"}')
    with pytest.raises(cr.CheckpointError, match="not a chainrule file"):
        cr.load(path)
    (tmp_path / "text.crz").write_text("hello")
    with pytest.raises(cr.CheckpointError):
        cr.load(tmp_path / "text.crz")
    with pytest.raises(FileNotFoundError):
        cr.load(tmp_path / "missing.crz")
    assert serialization.VERSION == 1


def test_headers_that_lie_and_damaged_flags_are_clear_errors(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (2**37,)})
    path = tmp_path / "liar.crz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("chainrule.json", '{"format": "chainrule", "version": 1, "root": {"t": "array", "a": 0}}')
        archive.writestr("arrays/0.npy", header.getvalue() + b"\\0" * 64)
    with pytest.raises(cr.CheckpointError, match="claims"):
        cr.load(path)
    good = tmp_path / "good.crz"
    cr.save(np.arange(10.0), good)
    data = bytearray(good.read_bytes())
    data[data.index(b"PK\x01\x02") + 8] |= 0x01  # the "encrypted" flag in the first central directory entry
    good.write_bytes(bytes(data))
    with pytest.raises(cr.CheckpointError):
        cr.load(good)
    (tmp_path / "folder").mkdir()
    with pytest.raises(IsADirectoryError):
        cr.load(tmp_path / "folder")


def test_saving_keeps_permissions_and_follows_links(tmp_path):
    target = tmp_path / "real.crz"
    cr.save([1], target)
    os.chmod(target, 0o640)
    link = tmp_path / "link.crz"
    link.symlink_to(target)
    cr.save([2], link)
    assert link.is_symlink() and cr.load(target) == [2]
    assert target.stat().st_mode & 0o777 == 0o640
    fresh = tmp_path / "fresh.crz"
    cr.save([3], fresh)
    umask = os.umask(0)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask


# -- what cr.save writes, cr.load reads back exactly; what it cannot, it refuses before writing ------------------
def _hand_made(path, root, members=(), compression=zipfile.ZIP_STORED):
    """A checkpoint written by hand: ``root`` is the JSON text of the description, ``members`` (name, bytes)."""
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        archive.writestr("chainrule.json", '{"format": "chainrule", "version": 1, "root": ' + root + "}")
        for name, data in members:
            archive.writestr(name, data)
    return path


def _npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


class _Point(collections.namedtuple("_Point", "x y")):
    pass


class _Seconds(int):
    def __str__(self):
        return f"{int(self)} s"


class _Rounded(int):
    def __str__(self):
        return "0"  # would load back as another number


@pytest.mark.parametrize(
    ("value", "where", "type_name"),
    [
        ({"p": collections.namedtuple("Point", "x y")(1, 2)}, r"obj\['p'\]", "Point"),
        ({"p": [_Point(1, 2)]}, r"obj\['p'\]\[0\]", "_Point"),
        ([type("Items", (list,), {})([1])], r"obj\[0\]", "Items"),
        ((type("Pair", (tuple,), {})((1, 2)),), r"obj\[0\]", "Pair"),
        ({"t": _Seconds(3)}, r"obj\['t'\]", "_Seconds"),
        ({"t": [_Rounded(7)]}, r"obj\['t'\]\[0\]", "_Rounded"),
        ({"d": collections.OrderedDict(a=1)}, r"obj\['d'\]", "OrderedDict"),
        ({"s": type("Name", (str,), {})("x")}, r"obj\['s'\]", "Name"),
        ({"m": np.ma.masked_array([1.0, 2.0], mask=[True, False])}, r"obj\['m'\]", "MaskedArray"),
        ({_Seconds(1): 2}, r"obj", "_Seconds"),
        ({"n": 10**5000}, r"obj\['n'\]", "int"),
        ({"e": [enum.IntEnum("Color", "RED")(1)]}, r"obj\['e'\]\[0\]", "Color"),
        ({"x": type("Metres", (np.float64,), {})(1.0)}, r"obj\['x'\]", "Metres, a subclass of float64"),
        ({"x": np.array(["a"], dtype=np.dtypes.StringDType())}, r"obj\['x'\]", "StringDType"),
        ({"x": np.zeros(2, dtype=np.dtype("f8", metadata={"unit": "m"}))}, r"obj\['x'\]", "metadata"),
    ],
)
def test_what_would_not_load_back_as_itself_is_refused_at_save(tmp_path, value, where, type_name):
    with pytest.raises(cr.CheckpointError, match=rf"cr.save: {where}.*{type_name}"):
        cr.save(value, tmp_path / "x.crz")
    assert not list(tmp_path.iterdir())  # refused before anything was written


def test_structured_arrays_with_any_field_names_round_trip(tmp_path):
    array = np.zeros(3, dtype=[("名前", "<i4"), ("é", ">f8"), ("x", "<f4", (2,))])
    array["名前"], array["é"] = [1, 2, 3], [0.5, -1.0, np.inf]
    back = cr.load(cr.save({"a": array, "s": array[1]}, tmp_path / "u.crz"))
    assert back["a"].dtype == array.dtype and back["a"].tobytes() == array.tobytes()
    assert type(back["s"]) is np.void and back["s"].tobytes() == array[1].tobytes()


def _npy_header(descr="<f8", shape=(1,)):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": False, "shape": shape})
    return header.getvalue()


def _npy_v3(header_text, data=b""):
    header = header_text.encode("utf8")
    header += b" " * (-(12 + len(header) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x03\x00" + len(header).to_bytes(4, "little") + header + data


def _array_0(member):
    return '{"t": "array", "a": 0}', [("arrays/0.npy", member)]


@pytest.mark.parametrize(
    ("root", "members"),
    [
        ('{"t": "float", "v": "0x1p99999"}', []),  # was OverflowError
        ('{"t": "array", "a": Infinity}', [("arrays/0.npy", b"")]),  # was OverflowError
        ('{"t": "int", "v": -Infinity}', []),  # was OverflowError
        ('{"t": "float", "v": NaN}', []),
        ('{"t": "int", "v": "' + "9" * 5000 + '"}', []),
        ('{"t": "int", "v": " 1_000 "}', []),
        ('{"t": "bool", "v": "no"}', []),
        ('{"t": "list", "items": {"t": "none"}}', []),
        ('{"t": "dict", "items": [[{"t": "list", "items": []}, {"t": "none"}]]}', []),  # unhashable key
        ('{"t": "dict", "items": [[{"t": "tensor", "a": 0}, {"t": "none"}]]}', [("arrays/0.npy", _npy(np.ones(1)))]),
        ('{"t": "Point", "items": []}', []),
        ("[" * 100000 + "]" * 100000, []),
        _array_0(_npy_header(shape=(2**70,))),  # was OverflowError
        _array_0(_npy_v3("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }")),  # was AttributeError
        _array_0(_npy_v3("{'descr': '<f8', 'fortran_order': False, 'shape': (2**70,), }")),
        _array_0(_npy_v3("{'descr': 'O', 'fortran_order': False, 'shape': (1,), }", b"x" * 8)),
        _array_0(_npy_v3("{'descr': ('<f8', (2,)), 'fortran_order': False, 'shape': (1,), }", b"x" * 16)),
        _array_0(_npy_v3("__import__('os').system('echo ran')")),
        _array_0(_npy_v3("{'descr': '<f8', 'fortran_order': 0, 'shape': (1,), }", b"x" * 8)),
        _array_0(_npy(np.arange(3.0)) + b"trailing"),
        _array_0(b"\x93NUMPY\x04\x00" + b"\0" * 60),
        ('{"t": "tensor", "a": 0, "requires_grad": true}', [("arrays/0.npy", _npy(np.arange(3)))]),  # int tensor
        ('{"t": "scalar", "a": 0}', [("arrays/0.npy", _npy(np.arange(3.0)))]),  # not 0-d
        ('{"t": "array", "a": true}', [("arrays/1.npy", _npy(np.arange(3.0)))]),
    ],
)
def test_hostile_descriptions_and_headers_are_checkpoint_errors(tmp_path, root, members):
    path = _hand_made(tmp_path / "h.crz", root, members)
    with pytest.raises(cr.CheckpointError, match="damaged or truncated"):
        cr.load(path)


def _peak_bytes(action):
    """The peak of memory traced while ``action()`` runs."""
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _refused(path, reason):
    with pytest.raises(cr.CheckpointError, match=reason):
        cr.load(path)


def test_compressed_members_are_refused_before_reading(tmp_path):
    bomb = _npy(np.zeros(50_000_000, dtype=np.uint8))  # 50 MB of zeros deflate to about 50 KB
    path = _hand_made(tmp_path / "bomb.crz", '{"t": "array", "a": 0}', [("arrays/0.npy", bomb)], zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 1_000_000
    assert _peak_bytes(lambda: _refused(path, "compressed")) < 5_000_000


def test_members_claiming_more_than_the_file_holds_are_refused_before_reading(tmp_path):
    claimed = 500_000_000
    header = _npy_header("|u1", (claimed,))
    path = _hand_made(tmp_path / "big.crz", '{"t": "array", "a": 0}', [("arrays/0.npy", header)])
    data = bytearray(path.read_bytes())
    entry = data.rindex(b"PK\x01\x02")  # the central directory entry of the last member, the array
    assert data[entry + 46 : entry + 58] == b"arrays/0.npy"
    size = (len(header) + claimed).to_bytes(4, "little")
    data[entry + 20 : entry + 28] = size + size  # its compressed and uncompressed sizes
    path.write_bytes(bytes(data))
    assert _peak_bytes(lambda: _refused(path, "members claim")) < 50_000_000


def test_an_array_referenced_many_times_is_read_once(tmp_path):
    array = np.arange(131072.0)  # 1 MiB
    root = '{"t": "list", "items": [' + ", ".join(['{"t": "array", "a": 0}'] * 600) + "]}"
    path = _hand_made(tmp_path / "many.crz", root, [("arrays/0.npy", _npy(array))])
    loaded = []
    assert _peak_bytes(lambda: loaded.append(cr.load(path))) < 8 * 2**20
    back = loaded[0]
    assert len(back) == 600 and all(item is back[0] for item in back) and back[0].tobytes() == array.tobytes()


def test_one_array_saved_twice_loads_as_one_distinct_arrays_as_distinct(tmp_path):
    shared, view = np.arange(4.0), np.arange(4.0)
    weight = cr.tensor(np.ones(2), requires_grad=True)
    obj = {"a": shared, "b": [shared], "c": shared.copy(), "d": view[1:], "w": weight, "w_detached": weight.detach()}
    back = cr.load(cr.save(obj, tmp_path / "s.crz"))
    assert back["a"] is back["b"][0]  # one array when saved: one array when loaded
    assert not np.shares_memory(back["a"], back["c"]) and not np.shares_memory(back["a"], back["d"])
    assert back["w"].data is back["w_detached"].data and back["w"].requires_grad
    with zipfile.ZipFile(tmp_path / "s.crz") as archive:
        assert sorted(n for n in archive.namelist() if n.startswith("arrays/")) == [f"arrays/{i}.npy" for i in range(4)]


def test_stale_temporaries_of_the_same_target_are_removed_by_the_next_save(tmp_path):
    target = tmp_path / "state.crz"
    hour_ago = time.time() - 3600
    stale = [tmp_path / ".state.crz.a1b2c3d4.tmp", tmp_path / ".state.crz.k_9x0zqq.tmp"]  # a killed save's
    fresh = tmp_path / ".state.crz.0f0f0f0f.tmp"  # a save running right now in another process
    others = [tmp_path / ".state.crz.b.a1b2c3d4.tmp", tmp_path / ".other.crz.a1b2c3d4.tmp", tmp_path / "keep.tmp"]
    for file in [*stale, fresh, *others]:
        file.write_bytes(b"x" * 1000)
        if file is not fresh:
            os.utime(file, (hour_ago, hour_ago))
    cr.save([1], target)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in [target, fresh, *others])
    assert cr.load(target) == [1]


def test_a_temporary_removed_during_a_save_is_a_clear_error(tmp_path, monkeypatch):
    path = tmp_path / "state.crz"
    cr.save([1], path)
    real = serialization._write_array_data

    def as_if_judged_stale(member, array):
        for temporary in tmp_path.glob(".state.crz.*.tmp"):
            temporary.unlink()
        real(member, array)

    monkeypatch.setattr(serialization, "_write_array_data", as_if_judged_stale)
    with pytest.raises(FileNotFoundError, match="vanished.*save again"):
        cr.save([np.ones(2)], path)
    assert cr.load(path) == [1]


def test_nesting_is_limited_alike_when_saving_and_loading(tmp_path):
    deepest = innermost = []
    for _ in range(serialization.MAX_DEPTH - 1):
        innermost.append([])
        innermost = innermost[0]
    assert cr.load(cr.save(deepest, tmp_path / "deep.crz")) == deepest
    with pytest.raises(cr.CheckpointError, match=r"obj\['x'\](\[0\])+ is nested more than 100 containers deep"):
        cr.save({"x": [deepest]}, tmp_path / "deeper.crz")
    cycle = [1]
    cycle.append({"again": cycle})
    with pytest.raises(cr.CheckpointError, match=r"obj\[1\]\['again'\] contains itself"):
        cr.save(cycle, tmp_path / "cycle.crz")
    nested = '{"t": "list", "items": [' * (serialization.MAX_DEPTH + 1) + "]}" * (serialization.MAX_DEPTH + 1)
    with pytest.raises(cr.CheckpointError, match="nested more than 100"):
        cr.load(_hand_made(tmp_path / "nested.crz", nested))


def test_the_members_are_standard_npy_and_older_files_still_load(tmp_path):
    c_order, f_order = np.arange(6.0).reshape(2, 3), np.asfortranarray(np.arange(6).reshape(2, 3))
    path = cr.save([c_order, f_order, np.zeros(2, dtype=[("名", "<i2")])], tmp_path / "n.crz")
    with zipfile.ZipFile(path) as archive:  # NumPy reads every member
        assert np.load(io.BytesIO(archive.read("arrays/0.npy"))).tolist() == c_order.tolist()
        assert np.load(io.BytesIO(archive.read("arrays/1.npy"))).flags.f_contiguous
        assert np.load(io.BytesIO(archive.read("arrays/2.npy"))).dtype.names == ("名",)
    for version in [(1, 0), (2, 0)]:  # as the earlier chainrule wrote them, with NumPy's own writer
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, f_order, version=version, allow_pickle=False)
        old = _hand_made(tmp_path / "old.crz", '{"t": "array", "a": 0}', [("arrays/0.npy", buffer.getvalue())])
        back = cr.load(old)
        assert back.tolist() == f_order.tolist() and back.dtype == f_order.dtype and back.flags.f_contiguous


# -- randomized: exact round trips of whatever can be saved, and nothing but CheckpointError from damage ----------
_SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)
_DTYPES = (
    hnp.scalar_dtypes()
    | hnp.integer_dtypes(endianness="?")
    | hnp.floating_dtypes(endianness="?")
    | hnp.byte_string_dtypes(max_len=4)
    | hnp.unicode_string_dtypes(max_len=4)
    | hnp.array_dtypes(allow_subarrays=True, max_size=3)  # field names of any characters: .npy version 3.0
)
_LAYOUTS = st.sampled_from([lambda a: a, lambda a: a.T, lambda a: a[::2] if a.ndim else a, np.asfortranarray])
_ARRAYS = st.builds(lambda a, layout: layout(a), _DTYPES.flatmap(lambda dtype: hnp.arrays(dtype, _SHAPES)), _LAYOUTS)
_TEXT = st.text(st.characters(exclude_categories=()), max_size=8)  # lone surrogates too
_KEYS = st.none() | st.booleans() | st.integers() | st.floats() | _TEXT
_LEAVES = (
    _KEYS
    | st.builds(
        lambda digits, sign: sign * (10**digits - 1),
        st.integers(1, serialization.MAX_INT_DIGITS),
        st.sampled_from([1, -1]),
    )
    | _ARRAYS
    | _DTYPES.flatmap(lambda dtype: hnp.arrays(dtype, ())).map(lambda a: a[()])  # NumPy scalars
    | st.builds(
        lambda a, requires_grad: cr.Tensor(a, requires_grad=requires_grad),
        hnp.arrays(hnp.floating_dtypes(sizes=(32, 64)), _SHAPES),
        st.booleans(),
    )
)
_OBJECTS = st.recursive(
    _LEAVES,
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=4).map(tuple)
        | st.dictionaries(_KEYS, children, max_size=4)
    ),
    max_leaves=12,
)


def _assert_same(saved, loaded):
    assert type(loaded) is type(saved)
    if type(saved) is cr.Tensor:
        assert loaded.requires_grad == saved.requires_grad
        saved, loaded = np.asarray(saved.data), np.asarray(loaded.data)
    if isinstance(saved, (np.ndarray, np.generic)):
        assert loaded.dtype == saved.dtype and loaded.shape == saved.shape
        assert np.asarray(loaded).tobytes() == np.asarray(saved).tobytes()
    elif type(saved) is float:
        assert (math.isnan(saved) and math.isnan(loaded)) or loaded.hex() == saved.hex()
    elif type(saved) in (list, tuple):
        assert len(loaded) == len(saved)
        for a, b in zip(saved, loaded):
            _assert_same(a, b)
    elif type(saved) is dict:
        assert len(loaded) == len(saved)
        for (key_a, a), (key_b, b) in zip(saved.items(), loaded.items()):
            _assert_same(key_a, key_b)
            _assert_same(a, b)
    else:
        assert loaded == saved


@settings(max_examples=60)
@given(obj=_OBJECTS)
def test_whatever_is_saved_loads_back_exactly(tmp_path_factory, obj):
    path = tmp_path_factory.mktemp("round_trip") / "x.crz"
    _assert_same(obj, cr.load(cr.save(obj, path)))


@pytest.fixture(scope="module")
def valid_file(tmp_path_factory):
    w = cr.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    obj = {"w": w, "b": np.arange(3, dtype=">i2"), "f": np.arange(4.0).reshape(2, 2).T}
    obj.update(s=np.zeros(2, dtype=[("名", "<i2"), ("x", ">f4", (2,))]), n=[1, 2.5, "x", None, (10**30, np.float16(2))])
    path = cr.save(obj, tmp_path_factory.mktemp("fuzz") / "valid.crz")
    return path.read_bytes()


def _load_is_a_value_or_checkpoint_error(path):
    tracemalloc.start()
    start = time.perf_counter()
    try:
        cr.load(path)
    except cr.CheckpointError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert time.perf_counter() - start < 1 and peak < 10_000_000


_EDITS = st.lists(st.tuples(st.integers(min_value=0), st.integers(1, 255)), min_size=1, max_size=4)


@settings(max_examples=200)
@given(edits=_EDITS, keep=st.none() | st.integers(min_value=0))
def test_damaged_files_load_or_raise_checkpoint_error(tmp_path_factory, valid_file, edits, keep):
    data = bytearray(valid_file)
    for position, flip in edits:
        data[position % len(data)] ^= flip
    path = tmp_path_factory.mktemp("fuzz") / "damaged.crz"
    path.write_bytes(bytes(data[: None if keep is None else keep % len(data)]))
    _load_is_a_value_or_checkpoint_error(path)


@settings(max_examples=200)
@given(member=st.integers(min_value=0), edits=_EDITS, keep=st.none() | st.integers(min_value=0))
def test_damaged_members_with_valid_checksums_load_or_raise_checkpoint_error(
    tmp_path_factory, valid_file, member, edits, keep
):
    # the damage is done before zipping, so the checksums match: the JSON and .npy readers meet it
    with zipfile.ZipFile(io.BytesIO(valid_file)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    name = sorted(members)[member % len(members)]
    data = bytearray(members[name])
    for position, flip in edits:
        data[position % len(data)] ^= flip
    members[name] = bytes(data[: None if keep is None else keep % (len(data) + 1)])
    path = tmp_path_factory.mktemp("fuzz") / "damaged.crz"
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    _load_is_a_value_or_checkpoint_error(path)


def test_version_must_be_the_integer_itself_and_empty_items_are_bounded(tmp_path):
    import json
    import zipfile

    path = tmp_path / "v.crz"
    cr.save({"a": np.ones(2)}, path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(members["chainrule.json"])
    for version in (True, 1.0):
        manifest["version"] = version
        members["chainrule.json"] = json.dumps(manifest).encode()
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)
        with pytest.raises(cr.CheckpointError, match="version"):
            cr.load(path)
    with pytest.raises(cr.CheckpointError):
        cr.save(np.empty((2**25,), dtype="V0"), tmp_path / "empty.crz")
