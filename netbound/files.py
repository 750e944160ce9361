"""Reading the bytes of a file a user named, with one-line messages for every failure."""

from __future__ import annotations

from pathlib import Path

from netbound.errors import NetworkFileError


def read_bytes(path: Path) -> bytes:
    """The bytes of a network file; a missing or unreadable file is a NetworkFileError."""
    name = str(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NetworkFileError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise NetworkFileError(f"{name}: is a directory, not a network file") from None
    except OSError as exc:
        raise NetworkFileError(f"{name}: cannot read the file ({exc.strerror})") from None
