"""Small operating-system helpers shared by the stages: a file's digest, a free port."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks (deliveries run to gigabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (a race with other programs is possible but rare)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
