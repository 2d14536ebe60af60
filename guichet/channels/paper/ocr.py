"""OCR of scanned letters: Tesseract (French + English) in a subprocess with limits.

A scan is hostile input until proven otherwise (RELIABILITY F05, F06): PDF pages are rasterised by
poppler's `pdftoppm` and images read by `tesseract`, each in its own process with a wall-clock
timeout, a memory cap (RLIMIT_AS), a CPU-time cap and a cap on the size of files it may write.
Images are checked with Pillow (header only) before any decoder runs: page count and pixels.
Any failure raises `OcrFailed` with a short reason; the caller keeps the scan.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

PDF = "application/pdf"
IMAGE_TYPES = ("image/jpeg", "image/png", "image/tiff")
ACCEPTED_TYPES = (PDF, *IMAGE_TYPES)
MAX_PAGE_PIXELS = 80_000_000  # an A4 page at 600 dpi is 35 MP; anything far above is a bomb
RASTER_DPI = 300
LANGUAGES = "fra+eng"
MAX_WRITTEN_BYTES = 512 * 1024 * 1024


class OcrFailed(Exception):
    """OCR could not read the scan; the message says why in a few words (stored, shown)."""


@dataclass(frozen=True)
class OcrLimits:
    timeout_seconds: int = 120
    memory_mb: int = 1024
    max_pages: int = 50


@dataclass(frozen=True)
class OcrResult:
    text: str
    pages: int
    seconds: float


def ocr_available() -> bool:
    return shutil.which("tesseract") is not None and shutil.which("pdftoppm") is not None


def _limiter(limits: OcrLimits) -> Callable[[], None]:
    memory = limits.memory_mb * 1024 * 1024

    def apply() -> None:  # runs in the child between fork and exec
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        cpu = limits.timeout_seconds + 5
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_WRITTEN_BYTES, MAX_WRITTEN_BYTES))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _run(args: list[str], limits: OcrLimits, deadline: float, cwd: str) -> bytes:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise OcrFailed("timeout")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "OMP_THREAD_LIMIT": "1",  # one core per page: pages of a batch run side by side instead
        "LC_ALL": "C.UTF-8",
    }
    try:
        done = subprocess.run(  # noqa: S603 - fixed program and arguments
            args,
            capture_output=True,
            timeout=remaining,
            preexec_fn=_limiter(limits),
            env=env,
            cwd=cwd,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise OcrFailed("timeout") from None
    except OSError as exc:
        raise OcrFailed(f"cannot run {args[0]}: {exc.strerror}") from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = detail[-1][:200] if detail else f"exit status {done.returncode}"
        raise OcrFailed(f"{Path(args[0]).name}: {reason}")
    return done.stdout


def _check_image(path: Path, limits: OcrLimits) -> int:
    """Pages of an image file, refusing bombs before any full decode."""
    try:
        with Image.open(path) as image:
            pages = getattr(image, "n_frames", 1)
            if pages > limits.max_pages:
                raise OcrFailed(f"too many pages ({pages} > {limits.max_pages})")
            for index in range(pages):
                image.seek(index)
                width, height = image.size
                if width * height > MAX_PAGE_PIXELS:
                    raise OcrFailed(f"page {index + 1} is too large ({width}x{height} pixels)")
    except OcrFailed:
        raise
    except Exception as exc:  # Pillow raises many kinds on broken files
        raise OcrFailed(f"unreadable image: {type(exc).__name__}") from None
    return pages


def _tesseract(path: Path, limits: OcrLimits, deadline: float, cwd: str) -> str:
    out = _run(["tesseract", str(path), "stdout", "-l", LANGUAGES], limits, deadline, cwd)
    return out.decode("utf-8", "replace")


def ocr_bytes(content: bytes, content_type: str, limits: OcrLimits | None = None) -> OcrResult:
    """Recognise the text of a scan (PDF, JPEG, PNG or TIFF, any number of pages)."""
    limits = limits or OcrLimits()
    if content_type not in ACCEPTED_TYPES:
        raise OcrFailed(f"unsupported file type {content_type}")
    started = time.monotonic()
    deadline = started + limits.timeout_seconds
    with tempfile.TemporaryDirectory(prefix="guichet-ocr-") as work:
        source = Path(work) / "scan"
        source.write_bytes(content)
        texts: list[str] = []
        if content_type == PDF:
            _run(
                [
                    "pdftoppm",
                    "-r",
                    str(RASTER_DPI),
                    "-gray",
                    "-png",
                    "-l",
                    str(limits.max_pages),
                    str(source),
                    str(Path(work) / "page"),
                ],
                limits,
                deadline,
                work,
            )
            pages = sorted(Path(work).glob("page*.png"))
            if not pages:
                raise OcrFailed("the PDF has no page")
            for page in pages:
                _check_image(page, limits)
                texts.append(_tesseract(page, limits, deadline, work))
            count = len(pages)
        else:
            count = _check_image(source, limits)
            texts.append(_tesseract(source, limits, deadline, work))
    text = "\n\n".join(t.strip() for t in texts if t.strip())
    return OcrResult(text=text, pages=count, seconds=time.monotonic() - started)
