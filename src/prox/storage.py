"""Where prox reads and writes: local paths or any fsspec URL (s3://, gs://, hf://datasets/..., ...).

Every location is a string. Local paths stay plain paths; a URL is opened through fsspec (and datatrove's
`DataFolder`, which prox's readers and writers use), with errors that name the location and what to set or
install when a file system's package or credentials are missing. Whole folders (a lite model) are copied up
from a local folder, or down into a local cache, in one go.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import os
import posixpath
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from datatrove.io import DataFolder, get_datafolder

# The package each protocol needs, for the error that says what to install.
_PACKAGES = {
    "s3": "s3fs (pip install 'prox[s3]')",
    "s3a": "s3fs (pip install 'prox[s3]')",
    "gs": "gcsfs (pip install gcsfs)",
    "gcs": "gcsfs (pip install gcsfs)",
    "hf": "huggingface_hub (pip install huggingface_hub)",
    "az": "adlfs (pip install adlfs)",
    "abfs": "adlfs (pip install adlfs)",
}
_CREDENTIALS = {
    "s3": "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), and AWS_ENDPOINT_URL for an "
    "S3-compatible store other than AWS",
    "gs": "set GOOGLE_APPLICATION_CREDENTIALS or log in with gcloud",
    "hf": "set HF_TOKEN or log in with `hf auth login`",
}


def is_remote(location: str) -> bool:
    """Whether `location` is a URL of a file system other than the local one."""
    return "://" in location and not location.startswith("file://")


def protocol_of(location: str) -> str:
    return location.split("://", 1)[0] if is_remote(location) else "file"


def join(location: str, *parts: str) -> str:
    """`location` with path parts appended, for local paths and URLs alike."""
    return posixpath.join(location, *parts) if is_remote(location) else os.path.join(location, *parts)


def list_folder(location: str) -> list[str]:
    """The files directly in a folder, as locations, sorted; none when there is no such folder."""
    fs, path = filesystem(location)
    if not fs.isdir(path):
        return []
    return sorted(
        join(location, posixpath.basename(entry["name"].rstrip("/")))
        for entry in fs.ls(path, detail=True)
        if entry["type"] == "file"
    )


def filesystem(location: str) -> tuple[Any, str]:
    """(fsspec file system, path within it) for a location; errors say which package is missing."""
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(location)
    except ImportError as error:
        package = _PACKAGES.get(protocol_of(location), "the fsspec implementation for it")
        raise ValueError(f"{location}: reading or writing there needs {package} ({error})") from None
    except ValueError as error:
        raise ValueError(f"{location}: {error}") from None
    # fsspec shares one instance per store and caches its listings; other processes (the run's workers) write
    # there too, so what this process listed before may be stale.
    fs.invalidate_cache()
    return fs, path


def folder(location: str) -> DataFolder:
    """A datatrove `DataFolder` for a folder location (made on first write for local folders)."""
    filesystem(location)  # the clear error for a missing package (and a fresh listing), before datatrove's
    return get_datafolder(location)


def explain(location: str, error: Exception) -> str:
    """A one-line reason for a storage error at `location`, with what to set when it looks like credentials."""
    text = f"{type(error).__name__}: {error}"
    protocol = protocol_of(location)
    hints = ("credential", "access denied", "forbidden", "403", "401", "signature", "token", "nosuchbucket")
    if protocol in _CREDENTIALS and any(hint in text.lower() for hint in hints):
        return f"{location}: {text}; {_CREDENTIALS[protocol]}"
    if protocol == "s3" and "connect" in text.lower():
        return f"{location}: {text}; check the endpoint (AWS_ENDPOINT_URL) and the network"
    if "bucket does not exist" in text.lower():
        return f"{location}: {text}; create the bucket or check its name"
    return f"{location}: {text}"


def exists(location: str) -> bool:
    fs, path = filesystem(location)
    return fs.exists(path)


def is_dir(location: str) -> bool:
    fs, path = filesystem(location)
    return fs.isdir(path)


def read_text(location: str) -> str:
    fs, path = filesystem(location)
    with fs.open(path, "rb") as handle:
        return handle.read().decode("utf-8")


def write_text(location: str, text: str) -> None:
    """Write a whole (small) text file, making its folder when the file system has folders."""
    fs, path = filesystem(location)
    if not is_remote(location):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with fs.open(path, "wb") as handle:
        handle.write(text.encode("utf-8"))


def remove(location: str, recursive: bool = False) -> None:
    fs, path = filesystem(location)
    fs.rm(path, recursive=recursive)


def size(location: str) -> int:
    fs, path = filesystem(location)
    return int(fs.size(path))


def list_tree(location: str) -> list[str]:
    """Every file under a folder, at any depth, as locations; none when there is no such folder."""
    fs, path = filesystem(location)
    if not fs.isdir(path):
        return []
    root = path.rstrip("/")
    return sorted(join(location, found[len(root) + 1 :]) for found in fs.find(path))


@contextmanager
def storage_errors(location: str, missing: str = "no such file") -> Iterator[None]:
    """Storage failures inside the block as one-line errors naming `location`; `missing` says what a
    FileNotFoundError means there."""
    try:
        yield
    except ValueError:
        raise  # prox's own, already naming what is wrong
    except FileNotFoundError as error:
        # s3fs names only the path for a missing key, and says so when the bucket is what is missing
        reason = str(error)
        if reason and filesystem(location)[1].rstrip("/") not in reason:
            raise FileNotFoundError(explain(location, error)) from None
        raise FileNotFoundError(f"{location}: {missing}") from None
    except Exception as error:  # the file systems' clients raise their own kinds (botocore, aiohttp, ...)
        raise ValueError(explain(location, error)) from None


def require_file(location: str) -> None:
    """Returns when `location` is an existing file (local or remote); raises FileNotFoundError or ValueError."""
    if not is_remote(location):
        if not os.path.exists(location):
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), location)
        return
    fs, path = filesystem(location)
    with storage_errors(location):
        kind = fs.info(path)["type"]
    if kind != "file":
        raise ValueError(f"{location} is a folder, not a file")


def require_output_place(location: str) -> None:
    """Returns when a remote `location`, or a folder above it (at least its bucket), exists, so that writing
    there can succeed; a local location always can (its folders are made)."""
    if not is_remote(location):
        return
    fs, path = filesystem(location)
    place = path.rstrip("/")
    with storage_errors(location):
        while place:
            try:
                fs.info(place)
                return
            except FileNotFoundError:
                above = posixpath.dirname(place)
                place = "" if above == place else above
    raise FileNotFoundError(f"{location}: neither it nor a folder above it exists (is the bucket's name right?)")


def upload_folder(local: Path, location: str) -> None:
    """Copy the files directly in the local folder `local` to the folder `location`, byte for byte."""
    fs, path = filesystem(location)
    with storage_errors(location, missing="cannot be written (no such bucket or folder)"):
        for file in sorted(local.iterdir()):
            if file.is_file():
                fs.put_file(str(file), posixpath.join(path.rstrip("/"), file.name))


@functools.lru_cache(maxsize=16)
def local_copy(location: str, cache: Path) -> Path:
    """A local folder holding the files directly in the remote folder `location`, fetched at most once per
    process and kept in `cache` under a key of the URL and the files' listing (names, sizes and the checksums
    or times the storage reports), so a changed folder is fetched again and an unchanged one is not."""
    fs, path = filesystem(location)
    with storage_errors(location, missing="no such folder"):
        files = sorted((entry for entry in fs.ls(path, detail=True) if entry["type"] == "file"), key=_name)
    listing = json.dumps([{key: str(value) for key, value in entry.items()} for entry in files], sort_keys=True)
    key = hashlib.sha256(f"{location}\0{listing}".encode()).hexdigest()[:32]
    target = cache / key
    if target.is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    # Fetched beside the target and renamed into place, so a reader never sees a partial copy, and of two
    # processes fetching at once, one copy wins and the other is dropped.
    staging = Path(tempfile.mkdtemp(prefix=".fetching-", dir=cache))
    try:
        with storage_errors(location, missing="no such folder"):
            for entry in files:
                fs.get_file(entry["name"], str(staging / posixpath.basename(_name(entry))))
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def cache_folder(name: str) -> Path:
    """prox's cache folder for `name`: under $XDG_CACHE_HOME, or ~/.cache, in `prox/`."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "prox" / name


def _name(entry: dict) -> str:
    return entry["name"].rstrip("/")
