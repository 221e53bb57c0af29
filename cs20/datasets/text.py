"""A user's text file, read whole and checked: the corpora of lectures 5a and 11."""

from __future__ import annotations

import pathlib
import zipfile


def read_text(path: str | pathlib.Path) -> str:
    """The text of a plain file, or of the first member of a .zip (text8.zip).

    A file that is empty, contains NUL bytes (binary data) or is not valid UTF-8 is an
    error naming the file and the byte offset, never decoded with silent replacements.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"corpus {path} does not exist")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if not names:
                raise ValueError(f"corpus {path} is an empty zip archive")
            raw = archive.read(names[0])
    else:
        raw = path.read_bytes()
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise ValueError(f"corpus {path} looks binary (NUL byte at offset {nul}); "
                         f"pass a plain-text file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"corpus {path} is not UTF-8 text (invalid byte at offset "
                         f"{error.start}); convert it, e.g. with iconv -f latin1 -t utf-8") from None
