from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"


def render_page(lines: list[str], height: int = 1100) -> Image.Image:
    """A scan made here: the lines in DejaVu Serif at about 14 pt, 300 dpi, A4 width."""
    font = ImageFont.truetype(FONT, 42)
    image = Image.new("L", (2480, height), 255)
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((200, 150 + index * 90), line, font=font, fill=0)
    return image


def encode(image: Image.Image, kind: str, **extra) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, dpi=(300, 300), **extra)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def _plain_static(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
