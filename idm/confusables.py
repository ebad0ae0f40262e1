"""Unicode's confusable skeleton (UTS #39, section 4): what a string looks like.

Two strings that a reader cannot tell apart, such as "admin" with a Latin
"a" and the same word with a Cyrillic one, or with a dotless i instead of "i",
have the same skeleton. validation.username_key is built on it, so that
such usernames count as one account.

Why this source: the mapping is Unicode's own data file, confusables.txt,
shipped verbatim next to this module (idm/confusables.txt; its header names
the Unicode version). It is the table UTS #39 defines the skeleton with,
maintained by the Unicode Consortium with every Unicode release and the one
ICU, browsers and compilers use. The Python packages on PyPI either ship a
reworked copy that loses the direction of each mapping (confusable-homoglyphs
keeps pairs both ways, which cannot give a skeleton), are years behind, or
bundle all of ICU as native code (tens of MiB) for this one function. A
plain text file plus the twenty lines below has no native dependency and
can be read and diffed against unicode.org. ``scripts/update-confusables.sh``
fetches a new release; a new table can change the key of existing usernames,
so a refresh ships with a migration that recomputes ``users.username_key``
(as revision 79f102aab640 does) and reports clashes.

The table is read on first use (not at import): about 4,700 mappings and
4,400 default-ignorables, under 1 MiB per process.
"""

import unicodedata
from functools import cache
from importlib import resources

DATA_FILE = "confusables.txt"

# Default_Ignorable_Code_Point (Unicode's DerivedCoreProperties.txt), which
# UTS #39 removes before mapping. Python's unicodedata does not carry the
# property; the ranges are stable across Unicode versions.
DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)


def is_default_ignorable(char):
    point = ord(char)
    return any(first <= point <= last for first, last in DEFAULT_IGNORABLE)


def skeleton(text):
    """UTS #39 skeleton: NFD, drop default-ignorables, map each character, NFD."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", decomposed.translate(translation()))


@cache
def translation():
    """One ``str.translate`` table: default-ignorables to nothing, the rest to prototypes.

    One pass does both steps: no prototype contains a default-ignorable.
    """
    table = prototypes()
    for first, last in DEFAULT_IGNORABLE:
        table.update(dict.fromkeys(range(first, last + 1)))
    return table


def prototypes():
    """{code point: its prototype string}, read from the shipped table.

    Only characters that survive NFD can be met (skeleton maps NFD text),
    so the others are left out.
    """
    text = resources.files(__package__).joinpath(DATA_FILE).read_text(encoding="utf-8-sig")
    table = {}
    for line in text.splitlines():
        # "0430 ;\t0061 ;\tMA\t# ( … ) CYRILLIC SMALL LETTER A → LATIN SMALL LETTER A"
        fields = line.split("#", 1)[0].split(";")
        if len(fields) < 2:
            continue
        source = chr(int(fields[0], 16))
        if unicodedata.normalize("NFD", source) == source:
            table[ord(source)] = "".join(chr(int(point, 16)) for point in fields[1].split())
    return table


def data_version():
    """The Unicode version named in the header of the shipped table."""
    text = resources.files(__package__).joinpath(DATA_FILE).read_text(encoding="utf-8-sig")
    for line in text.splitlines()[:20]:
        if line.startswith("# Version:"):
            return line.split(":", 1)[1].strip()
    return None
