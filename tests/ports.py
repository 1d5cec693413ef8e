"""Servers tests start on loopback: a free port, and whether a Streamlit server is up."""

from __future__ import annotations

import socket
import urllib.request


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def streamlit_healthy(base_url: str) -> bool:
    """Whether the Streamlit server at ``base_url`` answers its health check with ``ok``."""
    try:
        with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as answer:
            return bool(answer.read() == b"ok")
    except OSError:
        return False
