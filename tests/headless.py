"""The HTML report tests' helpers: headless Chromium loads a page as a browser does (failing on console errors
and resources that do not load) and returns its DOM or a screenshot; embedded_images checks that a page is
self-contained and decodes its plots."""
from __future__ import annotations

import base64
import io
import re
import subprocess
import shutil
from pathlib import Path

from PIL import Image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _flags(profile: Path) -> list[str]:
    return [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0"]


def rendered_dom(page: Path, profile: Path) -> str:
    """The DOM of ``page`` after headless Chromium rendered it; ``profile``: a fresh folder."""
    dom = subprocess.run([*_flags(profile), "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Uncaught" not in dom.stderr and "Failed to load resource" not in dom.stderr
    return dom.stdout


def screenshot(page: Path, profile: Path, shot: Path, size: str) -> None:
    """A PNG of ``page`` at window size ``size`` ("W,H") written to ``shot``."""
    run = subprocess.run([*_flags(profile), f"--window-size={size}", f"--screenshot={shot}", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and shot.is_file()


def embedded_images(html: str) -> list[Image.Image]:
    """The page's PNGs, decoded from its data: URIs, after checking it is self-contained (no script, nothing
    fetched from elsewhere) and that each PNG is well-formed."""
    assert "<script" not in html
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", html)  # nothing fetched from elsewhere
    images = []
    for b64 in re.findall(r'src="data:image/png;base64,([^"]+)"', html):
        img = Image.open(io.BytesIO(base64.b64decode(b64)))
        img.verify()
        images.append(img)
    return images
