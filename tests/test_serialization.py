"""cr.save / cr.load: exact round trips, no pickle, atomic writes, clear errors for damaged files."""

import io
import os
import zipfile

import numpy as np
import pytest

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
    real = np.lib.format.write_array

    def crash_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("power cut")
        return real(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", crash_on_second)
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
