"""Fetch one file from its canonical URL into the cache, keeping it only if its sha256 matches."""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

TIMEOUT_S = 30.0
_CHUNK = 1 << 20


class DownloadFailed(Exception):
    """Why a download did not produce a verified file; `location` turns it into the user's message."""


def fetch(url: str, dest: Path, sha256: str, timeout: float = TIMEOUT_S) -> None:
    """Download `url` to `dest` via a temp file in the same folder, renamed only once verified,
    so an interrupted or tampered download never leaves a file that looks complete."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    except OSError as exc:
        raise DownloadFailed(f"cannot write to the cache folder '{dest.parent}' ({exc.strerror})") from None
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            raise DownloadFailed(f"{url} gave sha256 {digest.hexdigest()}, expected {sha256} (not kept)")
        os.replace(tmp, dest)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DownloadFailed(f"download of {url} failed ({reason})") from None
    finally:
        tmp.unlink(missing_ok=True)
