"""Reading QR codes back, as the study's app would: zxing-cpp, a decoder
independent of segno, which drew them.

``read_svg`` reads the modules out of the SVG a page holds (segno's path:
one horizontal run of dark modules per ``h``), draws them as pixels and
decodes those; ``read_png`` decodes a screenshot (Chromium's rendering).
"""

import io
import re

import zxingcpp
from PIL import Image

SCALE = 4  # pixels per module


def dark_modules(svg):
    """({(column, row)} of the dark modules, size in modules) of segno's SVG."""
    size = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))
    path = re.search(r'<path[^>]*stroke="#000"[^>]*\bd="([^"]+)"', svg).group(1)
    dark, x, y = set(), 0.0, 0.0
    for command, numbers in re.findall(r"([MmHh])([-\d. ]+)", path):
        values = [float(value) for value in numbers.split()]
        if command in "Mm":
            dx, dy = values
            x, y = (dx, dy) if command == "M" else (x + dx, y + dy)
        else:
            end = values[0] if command == "H" else x + values[0]
            dark.update((column, int(y)) for column in range(int(x), int(end)))
            x = end
    return dark, size


def read_svg(svg):
    """The text of the QR code in *svg*, or AssertionError when none decodes."""
    dark, size = dark_modules(svg)
    width = size * SCALE
    pixels = bytearray(b"\xff" * width * width)
    for column, row in dark:
        for dy in range(SCALE):
            start = (row * SCALE + dy) * width + column * SCALE
            pixels[start : start + SCALE] = b"\x00" * SCALE
    return decoded(memoryview(pixels).cast("B", (width, width)))


def read_png(png):
    return decoded(Image.open(io.BytesIO(png)).convert("L"))


def decoded(image):
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1, f"{len(found)} QR codes found"
    return found[0].text
