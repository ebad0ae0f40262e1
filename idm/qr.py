"""QR codes for the pages: inline SVG drawn by segno, in memory.

A link's QR code holds its JWT, which opens the subject's enrolment; so
it is drawn for the one answer that shows it (a page answered with
``Cache-Control: no-store``, idm/headers.py) and never written to a file
that another request could serve, as the original frontend's PNGs under
``public/tmp`` were.

What segno writes fits the pages' Content-Security-Policy
(``style-src 'self'``, no inline script): an ``<svg>`` of two ``<path>``
elements whose colours are SVG presentation attributes (``fill``,
``stroke``), which the policy does not govern, with no ``style`` attribute
and no ``<style>`` or ``<script>`` element. tests/test_subject_pages.py
checks it. Size and place come from the stylesheet (``.qr svg``): the SVG
has only a ``viewBox``, so it scales to the screen without blurring.
"""

import segno
from markupsafe import Markup

# Medium error correction: a code on a screen or a print-out still reads
# with part of it glared or smudged; the link JWT fits either way.
ERROR = "m"


def svg(text, title):
    """``<svg>`` markup of a QR code holding *text*; *title* names it for screen readers."""
    code = segno.make_qr(text, error=ERROR, boost_error=False)
    # Black on white with segno's quiet zone of 4 modules: what scanners expect.
    markup = code.svg_inline(
        scale=1, omitsize=True, title=title, svgclass="qr-code", lineclass=None,
        dark="#000", light="#fff",
    )  # fmt: skip
    # Safe as markup: segno escapes the title, and the rest is its own
    # drawing (numbers and the fixed colours above), nothing of the request.
    return Markup(markup.replace("<svg ", '<svg role="img" ', 1))  # noqa: S704
