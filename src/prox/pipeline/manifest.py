"""The run manifest (`OUT/logs/prox-run.json`): what a run is, written before any task starts.

A rerun into the same OUT resumes only when its manifest matches: the same prox version, refiner (model
identities included), policy, stages, tasks, layout, format, keys and input files (by size). Anything else
would mix two runs in one folder (a different `--tasks` splits the files differently, so finished tasks
would be skipped for the wrong files), so it stops before touching OUT and says what differs.
"""

from __future__ import annotations

import json
import posixpath
import shutil
from collections.abc import Collection, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from prox import __version__, storage
from prox.pipeline.readers import InputFiles

MANIFEST_NAME = "prox-run.json"
# Fields that describe the run but do not decide its output.
_NOT_COMPARED = ("created",)
# How a manifest field is set on the command line, for the message that says what differs.
_FLAGS = {
    "prox_version": "prox version",
    "command": "command",
    "refiner": "--refiner",
    "policy": "--policy",
    "stages": "--stages",
    "tasks": "--tasks",
    "layout": "--layout",
    "output_format": "--output-format",
    "text_key": "--text-key",
    "id_key": "--id-key",
    "max_doc_chars": "--max-doc-chars",
    "chunk_budget": "--chunk-budget",
    "source": "the replayed folder",
    "inputs": "inputs",
}


class ManifestMismatch(ValueError):
    """OUT holds a run with other settings; the message says what differs and what to do."""


def input_listing(files: InputFiles) -> dict:
    """The input files with their sizes, relative to their common root."""
    listed = [(path, "jsonl") for path in files.jsonl] + [(path, "parquet") for path in files.parquet]
    fs, root = storage.filesystem(files.root)
    return {
        "root": files.root,
        "files": [
            {"path": path, "format": kind, "bytes": _size(fs, posixpath.join(root, path))}
            for path, kind in sorted(listed)
        ],
    }


def located_listing(locations: Sequence[str]) -> dict:
    """Input files named by their locations as given (a synth command's), with their sizes."""
    files = []
    for location in locations:
        fs, path = storage.filesystem(location)
        files.append({"path": location, "bytes": _size(fs, path)})
    return {"root": "", "files": files}


def _size(fs: Any, path: str) -> int:
    try:
        return int(fs.size(path))
    except OSError:
        return -1


def build_manifest(command: str, settings: dict, inputs: dict) -> dict:
    """A manifest for `command` (refine, execute, a synth command) with the settings that decide its output and
    its `inputs` (`input_listing` or `located_listing`)."""
    return (
        {"prox_version": __version__, "command": command}
        | settings
        | {"inputs": inputs, "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    )


def manifest_path(output: str) -> str:
    return storage.join(output, "logs", MANIFEST_NAME)


def read_manifest(output: str) -> dict | None:
    """The manifest of the run in `output` (a local folder or a URL), or None when there is none."""
    path = manifest_path(output)
    if not storage.exists(path):
        return None
    return json.loads(storage.read_text(path))


def differences(before: dict, now: dict) -> list[str]:
    """What differs between two manifests, one short phrase each, in the terms of the command line."""
    found = []
    for key in dict.fromkeys([*before, *now]):
        if key in _NOT_COMPARED or before.get(key) == now.get(key):
            continue
        flag = _FLAGS.get(key, key)
        if key == "inputs":
            found.append(_input_difference(before.get(key) or {}, now.get(key) or {}))
        elif key == "refiner" and (before.get(key) or {}).get("name") != (now.get(key) or {}).get("name"):
            found.append(f"{flag}: {before[key].get('name')} before, {now[key].get('name')} now")
        elif isinstance(before.get(key), dict) and isinstance(now.get(key), dict):
            inner = [
                f"{flag} {name}: {before[key].get(name)!r} before, {now[key].get(name)!r} now"
                for name in dict.fromkeys([*before[key], *now[key]])
                if before[key].get(name) != now[key].get(name)
            ]
            found.extend(inner)
        else:
            found.append(f"{flag}: {_show(before.get(key))} before, {_show(now.get(key))} now")
    return found


def _show(value: object) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return repr(value) if isinstance(value, str) else str(value)


def _input_difference(before: dict, now: dict) -> str:
    if before.get("root") != now.get("root"):
        return f"inputs: under {before.get('root')} before, {now.get('root')} now"
    old = {item["path"]: item["bytes"] for item in before.get("files", [])}
    new = {item["path"]: item["bytes"] for item in now.get("files", [])}
    if set(old) != set(new):
        gone, added = sorted(set(old) - set(new)), sorted(set(new) - set(old))
        parts = [f"{len(old)} files before, {len(new)} now"]
        if gone:
            parts.append(f"missing now: {', '.join(gone[:3])}{' …' if len(gone) > 3 else ''}")
        if added:
            parts.append(f"new: {', '.join(added[:3])}{' …' if len(added) > 3 else ''}")
        return "inputs: " + "; ".join(parts)
    changed = sorted(path for path in old if old[path] != new[path])
    return f"inputs: {changed[0]} changed size ({old[changed[0]]:,} bytes before, {new[changed[0]]:,} now)"


def prepare_output(output: str, manifest: dict, overwrite: bool = False, keep: Collection[str] = ()) -> bool:
    """Make OUT ready for the run `manifest` describes; True when an earlier run of it is resumed.

    With `overwrite`, an earlier prox run in OUT is cleared first, but for the files of OUT/logs named in `keep`
    (a request cache), which belong to no run. A different earlier run raises `ManifestMismatch` (nothing in OUT
    is touched); so does a non-empty OUT that is not a prox run.
    """
    out = str(output)
    earlier = read_manifest(out)
    logs = storage.join(out, "logs")
    kept = {storage.join(logs, name) for name in keep}
    has_run = any(location not in kept for location in storage.list_tree(logs))
    if overwrite and (earlier is not None or storage.is_dir(logs)):
        clear_output(out, keep)
        earlier, has_run = None, False
    if earlier is None and has_run:
        raise ManifestMismatch(
            f"{out} holds a run without a manifest (made by an older prox, or damaged); add --overwrite to clear "
            "it and start over, or choose another -o"
        )
    if earlier is not None:
        found = differences(earlier, manifest)
        if found:
            raise ManifestMismatch(
                f"{out} holds a run with other settings ({'; '.join(found)}); run the same command as before to "
                "resume it, add --overwrite to clear it and start over, or choose another -o"
            )
        return True
    storage.write_text(manifest_path(out), json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return False


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry)
    else:
        entry.unlink()


def clear_output(out: str, keep: Collection[str] = ()) -> None:
    """Remove everything in a prox output folder but the files of OUT/logs named in `keep` (the folder itself
    stays, where folders exist)."""
    if not storage.is_remote(out):
        for entry in Path(out).iterdir():
            if entry.name == "logs" and keep and entry.is_dir():
                for inner in entry.iterdir():
                    if inner.name not in keep:
                        _remove(inner)
            else:
                _remove(entry)
        return
    kept = {storage.join(out, "logs", name) for name in keep}
    for location in storage.list_tree(out):
        if location not in kept:
            storage.remove(location)
