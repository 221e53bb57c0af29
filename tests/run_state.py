"""What a test compares to show that a command left a run directory exactly as it was."""

import hashlib
import pathlib


def directory_state(directory: pathlib.Path) -> dict:
    """{path: (modification time in ns, sha256 of a file's bytes)} of the directory and
    everything under it: a file added, removed, rewritten or merely touched shows up."""
    paths = [directory, *sorted(directory.rglob("*"))]
    return {str(path.relative_to(directory)): (
        path.stat().st_mtime_ns,
        hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None)
        for path in paths}
