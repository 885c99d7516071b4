"""Where prox reads and writes: local paths or any fsspec URL (s3://, gs://, hf://datasets/..., ...).

Every location is a string. Local paths stay plain paths; a URL is opened through fsspec (and datatrove's
`DataFolder`, which prox's readers and writers use), with errors that name the location and what to set or
install when a file system's package or credentials are missing.
"""

from __future__ import annotations

import os
import posixpath
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
