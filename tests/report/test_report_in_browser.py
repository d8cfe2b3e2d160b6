"""The report page opens in a real browser and every figure decodes (headless Chromium).

Needs Debian's `chromium` package (apt-get install -y chromium); skipped with that reason without it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hyperprune.report import write_report

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and Path(p).is_file()), None)

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed "
                                                          "(apt-get install -y chromium)")


def dump_dom(page: Path, profile: Path) -> str:
    """The DOM after load, with the page's scripts run (the virtual time budget waits for the load event)."""
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom", page.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("fixture", ["complete_run", "running_run"])
def test_every_figure_loads_in_chromium(fixture, request, tmp_path):
    run = request.getfixturevalue(fixture)
    files = write_report(run)
    dom = dump_dom(files.index, tmp_path / "chromium-profile")
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    loaded = re.search(r'data-images-loaded="(\d+)"', body.group(1))
    total = re.search(r'data-images-total="(\d+)"', body.group(1))
    assert loaded and total, f"the page's load script did not run: {body.group(0)}"
    assert int(total.group(1)) == len(files.figures) > 0
    assert int(loaded.group(1)) == len(files.figures)
