"""Fetch one file from its canonical URL into the cache, keeping it only if its sha256 matches."""

from __future__ import annotations

import hashlib
import http.client
import urllib.error
import urllib.request
from pathlib import Path

from hyperprune.files import atomic_file

TIMEOUT_S = 30.0
_CHUNK = 1 << 20


class DownloadFailed(Exception):
    """Why a download did not produce a verified file; `location` turns it into the user's message."""


def fetch(url: str, dest: Path, sha256: str, timeout: float = TIMEOUT_S) -> None:
    """Download `url` to `dest` via a temp file in the same folder, renamed only once verified,
    so an interrupted or tampered download never leaves a file that looks complete."""
    try:
        with atomic_file(dest) as out, urllib.request.urlopen(url, timeout=timeout) as response:
            digest = hashlib.sha256()
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
            if digest.hexdigest() != sha256:     # raised inside the block: the file is not kept
                raise DownloadFailed(f"{url} gave sha256 {digest.hexdigest()}, expected {sha256} (not kept)")
    except DownloadFailed:
        raise
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        # An OSError naming a file in the cache folder is ours (no permission, disk full), not the network's.
        ours = (isinstance(exc, OSError) and not isinstance(exc, urllib.error.URLError)
                and exc.filename is not None and Path(exc.filename).parent == dest.parent)
        if ours:
            raise DownloadFailed(f"cannot write to the cache folder '{dest.parent}' ({exc.strerror})") from None
        reason = getattr(exc, "reason", None) or exc
        raise DownloadFailed(f"download of {url} failed ({reason})") from None
