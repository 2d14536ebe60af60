"""OCR on scans generated here from known French text; limits and failures."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from guichet.channels.paper.ocr import OcrFailed, OcrLimits, ocr_bytes
from tests.channels.paper.conftest import encode, render_page

LETTER = [
    "Madame, Monsieur,",
    "Je souhaite résilier mon contrat d’électricité à Besançon.",  # noqa: RUF001
    "Veuillez agréer mes salutations distinguées.",
]


def test_french_accents_are_recognised_from_png():
    result = ocr_bytes(encode(render_page(LETTER), "PNG"), "image/png")
    for word in ("résilier", "contrat", "électricité", "Besançon", "agréer", "distinguées"):
        assert word in result.text, result.text
    assert result.pages == 1


def test_two_page_pdf_is_rasterised_and_read():
    first = render_page(["Première page : réclamation"], height=600)
    second = render_page(["Deuxième page : facture erronée"], height=600)
    buffer = io.BytesIO()
    first.save(buffer, "PDF", resolution=300, save_all=True, append_images=[second])
    result = ocr_bytes(buffer.getvalue(), "application/pdf")
    assert result.pages == 2
    assert "réclamation" in result.text and "erronée" in result.text


def test_timeout_fails_cleanly():
    with pytest.raises(OcrFailed, match="timeout"):
        # Far too little time for any page: the process is killed, nothing is left running.
        ocr_bytes(encode(render_page(LETTER), "PNG"), "image/png", OcrLimits(timeout_seconds=0))


def test_memory_cap_fails_cleanly():
    with pytest.raises(OcrFailed):
        ocr_bytes(encode(render_page(LETTER), "PNG"), "image/png", OcrLimits(memory_mb=8))


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_broken_and_bomb_images_fail_before_decoding():
    with pytest.raises(OcrFailed, match="unreadable"):
        ocr_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png")
    bomb = encode(Image.new("1", (12_000, 12_000), 1), "PNG")  # 144 MP, a few kB
    with pytest.raises(OcrFailed, match="too large"):
        ocr_bytes(bomb, "image/png")
    with pytest.raises(OcrFailed, match="too many pages"):
        frames = [Image.new("L", (50, 50), 255) for _ in range(3)]
        buffer = io.BytesIO()
        frames[0].save(buffer, "TIFF", save_all=True, append_images=frames[1:])
        ocr_bytes(buffer.getvalue(), "image/tiff", OcrLimits(max_pages=2))
    with pytest.raises(OcrFailed, match="pdftoppm"):
        ocr_bytes(b"%PDF-1.7\nnot really a pdf", "application/pdf")
