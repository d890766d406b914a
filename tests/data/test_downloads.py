"""NVIDIA's dataset sources: MNIST's idx files and CIFAR-10's python tarball are read; LSUN's LMDB folders are named.

The CIFAR-10 batches are written here byte by byte as Python 2's cPickle wrote them (protocol 2, str keys,
NumPy's _reconstruct); a test checks that NumPy's own unpickler reads them as the real files.
"""

import gzip
import io
import pickle
import struct
import tarfile

import numpy as np
import pytest
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.data import DatasetError, convert_dataset, open_dataset
from stylegan2.data.downloads import idx_labels_path
from stylegan2.data.sources import open_source


def write_idx(path, array: np.ndarray, *, gzipped: bool = True) -> None:
    """A uint8 array in MNIST's idx format: bytes 0, 0, 8, ndim, the big-endian sizes, the values."""
    data = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    path.write_bytes(gzip.compress(data) if gzipped else data)


@pytest.fixture
def mnist_idx(tmp_path, mnist_path):
    """The first 20 MNIST digits as train-images-idx3-ubyte.gz, with train-labels-idx1-ubyte.gz beside it."""
    raw = np.load(mnist_path)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", raw["x_train"][:20])
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", raw["y_train"][:20])
    return tmp_path / "train-images-idx3-ubyte.gz"


def test_mnist_idx_converts_as_its_npz_does(tmp_path, mnist_idx, mnist_path):
    summary = convert_dataset(mnist_idx, tmp_path / "idx.zip", resolution=32)
    convert_dataset(mnist_path, tmp_path / "npz.zip", resolution=32, max_images=20)
    assert (summary.num_images, summary.num_channels, summary.has_labels) == (20, 1, True)
    from_idx, from_npz = open_dataset(tmp_path / "idx.zip", use_labels=True), open_dataset(tmp_path / "npz.zip", use_labels=True)
    for i in range(20):
        np.testing.assert_array_equal(from_idx[i][0], from_npz[i][0])
        np.testing.assert_array_equal(from_idx[i][1], from_npz[i][1])


def test_mnist_idx_trains_directly_with_its_labels(mnist_idx, mnist_path):
    data = open_dataset(mnist_idx, resolution=32, use_labels=True)
    assert (len(data), data.image_shape, data.label_dim) == (20, (1, 32, 32), 10)
    assert data[3][1].argmax() == np.load(mnist_path)["y_train"][3]


def test_uncompressed_idx_files_are_read(tmp_path, mnist_path):
    digits = np.load(mnist_path)["x_train"][:3]
    write_idx(tmp_path / "t10k-images.idx3-ubyte", digits, gzipped=False)
    np.testing.assert_array_equal(open_source(tmp_path / "t10k-images.idx3-ubyte").load(2)[..., 0], digits[2])


def test_labels_file_is_named_as_mnist_names_it(tmp_path):
    assert idx_labels_path(tmp_path / "t10k-images-idx3-ubyte.gz").name == "t10k-labels-idx1-ubyte.gz"
    assert idx_labels_path(tmp_path / "train-images.idx3-ubyte").name == "train-labels.idx1-ubyte"


def test_mnist_idx_without_its_labels_file_has_no_labels(tmp_path, mnist_idx):
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    assert not convert_dataset(mnist_idx, tmp_path / "out.zip", resolution=32).has_labels
    with pytest.raises(DatasetError, match=r"has no labels; put train-labels-idx1-ubyte\.gz beside it, or pass "
                                           r"use_labels=False$"):
        open_dataset(mnist_idx, resolution=32, use_labels=True)


@pytest.mark.parametrize("data, message", [
    (b"\x00\x00\x08\x01" + struct.pack(">I", 3) + bytes(3), "not an idx3-ubyte file"),  # a labels file
    (b"\x00\x00\x08\x03" + struct.pack(">3I", 2, 4, 4) + bytes(20), r"ends after 20 of the 32 bytes its header declares"),
    (b"\x00\x00\x08\x03" + struct.pack(">3I", 1, 4, 4) + bytes(17), "holds more than the 16 bytes its header declares"),
    (b"\x00\x00\x08\x03" + struct.pack(">3I", 0, 4, 4), r"declares an empty array \[0, 4, 4\]"),
    (b"\x00\x00\x08\x03" + struct.pack(">3I", 2**32 - 1, 2**16, 2**16), "declares .* bytes, more than the file can hold"),
    (b"not gzip at all", "cannot read"),
])
def test_bad_idx_files_are_refused_in_one_line(tmp_path, data, message):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(data if data == b"not gzip at all" else gzip.compress(data))
    with pytest.raises(DatasetError, match=message) as caught:
        open_source(path)
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_labels_that_do_not_match_the_images_are_refused(tmp_path, mnist_idx):
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(19, np.uint8))
    with pytest.raises(DatasetError, match=r"train-labels-idx1-ubyte\.gz has 19 labels for the 20 images in .*download the matching pair"):
        open_source(mnist_idx)


def py2_string(value: bytes) -> bytes:
    """Python 2's str as protocol 2 writes it: SHORT_BINSTRING or BINSTRING."""
    return b"U" + bytes([len(value)]) + value if len(value) < 256 else b"T" + struct.pack("<i", len(value)) + value


def py2_int(value: int) -> bytes:
    """A small int as protocol 2 writes it: BININT1 or BININT2."""
    return b"K" + bytes([value]) if value < 256 else b"M" + struct.pack("<H", value)


def py2_array(rows: np.ndarray, dtype: bytes = b"u1", data: bytes | None = None) -> bytes:
    """A NumPy array as Python 2's NumPy pickled it: _reconstruct(ndarray, (0,), 'b'), then BUILD with its state
    (shape, dtype, bytes: `data` in place of the array's own, to craft a mismatch)."""
    dtype_op = (b"cnumpy\ndtype\n" + py2_string(dtype) + b"K\x00K\x01\x87R(K\x03" + py2_string(b"|")
                + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")
    shape = b"".join(py2_int(n) for n in rows.shape) + b"\x86"
    return (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + py2_string(b"b") + b"\x87R"
            + b"(K\x01" + shape + dtype_op + b"\x89" + py2_string(rows.tobytes() if data is None else data) + b"tb")


def py2_batch(rows: np.ndarray, labels: list[int], *, array: bytes | None = None) -> bytes:
    """A CIFAR-10 batch as its files hold it: {'batch_label', 'data', 'labels'} pickled by Python 2 (protocol 2)."""
    labels_op = b"](" + b"".join(py2_int(v) for v in labels) + b"e"
    return (b"\x80\x02}(" + py2_string(b"batch_label") + py2_string(b"training batch")
            + py2_string(b"data") + (array or py2_array(rows)) + py2_string(b"labels") + labels_op + b"u.")


def write_tar(path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def cifar(tmp_path):
    """cifar-10-python.tar.gz with 2 noise images per batch (labels 2 * batch + i), batches stored out of order;
    returns (path, images uint8 [10, 32, 32, 3])."""
    images = np.random.default_rng(0).integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
    rows = images.transpose(0, 3, 1, 2).reshape(10, 3072)  # CIFAR's rows: the red plane, then green, then blue
    members = {f"cifar-10-batches-py/data_batch_{b}": py2_batch(rows[2 * b - 2 : 2 * b], [2 * b - 2, 2 * b - 1])
               for b in (5, 3, 1, 2, 4)}
    path = tmp_path / "cifar-10-python.tar.gz"
    write_tar(path, {"cifar-10-batches-py/batches.meta": b"\x80\x02}.", **members})
    return path, images


def test_the_batches_written_here_are_what_numpy_reads(cifar):
    rows = np.arange(3072, dtype=np.uint8)[None]
    batch = pickle.loads(py2_batch(rows, [7]), encoding="bytes")  # our own bytes: NumPy's view of the format
    np.testing.assert_array_equal(batch[b"data"], rows)
    assert batch[b"labels"] == [7]


def test_cifar10_tarball_converts_with_its_labels(tmp_path, cifar):
    path, images = cifar
    summary = convert_dataset(path, tmp_path / "cifar10.zip")
    assert (summary.num_images, summary.width, summary.num_channels, summary.has_labels) == (10, 32, 3, True)
    data = open_dataset(tmp_path / "cifar10.zip", use_labels=True)
    for i in range(10):
        np.testing.assert_array_equal(data[i][0], images[i].transpose(2, 0, 1))
        assert data[i][1].argmax() == i


def test_cifar10_tarball_trains_directly(cifar):
    data = open_dataset(cifar[0], use_labels=True)
    assert (len(data), data.image_shape, data.name) == (10, (3, 32, 32), "cifar-10-python")


@pytest.mark.parametrize("batch, message", [
    (b"\x80\x02cposix\nsystem\n" + py2_string(b"touch PWNED") + b"\x85R.", r"it names posix\.system, which a CIFAR-10 batch does not hold"),
    (b"\x80\x02cnumpy\ndtype\n}U\x08__init__Nsb.", r"BUILD on a class or function"),
    (py2_batch(np.zeros((1, 3072), np.uint8), [0], array=py2_array(np.zeros((1, 384), np.float64), b"f8")),
     r"its 'data' is not a uint8 array of 32x32x3 rows"),
    (py2_batch(np.zeros((1, 3072), np.uint8), [0], array=py2_array(np.zeros((1, 3072), np.uint8), data=bytes(100))),
     r"numpy array of shape \[1, 3072\] holds 100 values"),
    (py2_batch(np.zeros((1, 3072), np.uint8), [10]), r"'labels' is not a list of one class \(0 to 9\) per image"),
    (py2_batch(np.zeros((2, 3072), np.uint8), [0]), r"'labels' is not a list of one class"),
    (py2_batch(np.zeros((1, 1024), np.uint8), [0]), r"'data' is not a uint8 array of 32x32x3 rows"),
    (b"\x80\x02T\xff\xff\xff\x7f.", r"claims 2,147,483,647 bytes"),
])
def test_hostile_cifar_batches_are_refused_without_running(tmp_path, monkeypatch, cifar, batch, message):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "cifar-10-python.tar.gz"
    write_tar(path, {"cifar-10-batches-py/data_batch_1": batch})
    with pytest.raises(DatasetError, match=message) as caught:
        open_source(path)
    assert str(caught.value).startswith(f"{path}/cifar-10-batches-py/data_batch_1: not a CIFAR-10 batch (")
    assert "\n" not in str(caught.value) and not (tmp_path / "PWNED").exists()


def test_a_refused_batch_leaves_the_reader_as_it_was(tmp_path, cifar):
    path, images = cifar
    bad = tmp_path / "bad.tar.gz"
    write_tar(bad, {"cifar-10-batches-py/data_batch_1": b"\x80\x02cnumpy\ndtype\n}U\x08__init__Nsb."})
    with pytest.raises(DatasetError):
        open_source(bad)
    np.testing.assert_array_equal(open_source(path).load(9), images[9])


def test_other_tarballs_are_named_as_such(tmp_path):
    path = tmp_path / "photos.tar.gz"
    write_tar(path, {"photos/a.png": b"png"})
    with pytest.raises(DatasetError, match=r"photos\.tar\.gz: a tar archive, but not CIFAR-10's python version .*; "
                                           "extract it and pass the folder of images"):
        open_source(path)


def test_a_tarball_entry_claiming_too_much_stops_the_reading(tmp_path):
    path = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/huge")
        info.size = 2**40  # the header only: reading it through would take hours
        tar.addfile(info)
    with pytest.raises(DatasetError, match="not CIFAR-10's python version"):
        open_source(path)


@pytest.mark.parametrize("files", [("data.mdb", "lock.mdb"), ()])
def test_lsun_lmdb_folders_are_named_with_how_to_export_them(tmp_path, files):
    folder = tmp_path / "cat_lmdb"
    folder.mkdir()
    for name in files:
        (folder / name).write_bytes(b"")
    message = (rf"{folder}: an LMDB database \(LSUN's or rosinality's prepare_data\.py format\), which is not read here; "
               r"pass the folder of images it was made from \(rosinality's prepare_data\.py reads one\), or export "
               rf"LSUN's images with their tool \(github\.com/fyu/lsun: python data\.py export {folder} --out_dir DIR\)")
    with pytest.raises(DatasetError, match=message):
        open_source(folder)
    if files:
        with pytest.raises(DatasetError, match=message):
            open_source(folder / "data.mdb")


def test_the_cli_names_an_lmdb_folder_in_one_line(tmp_path):
    (tmp_path / "cat_lmdb").mkdir()
    result = CliRunner().invoke(main, ["dataset", "--source", str(tmp_path / "cat_lmdb"), "--dest", str(tmp_path / "c.zip")])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert result.output.startswith("Error: ") and "an LMDB database (LSUN's or rosinality's" in result.output
