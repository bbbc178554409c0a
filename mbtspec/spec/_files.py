"""Read a text file the spec names, refusing what is not a regular file of reasonable size.

A path can name a device (``/dev/zero``, ``/dev/urandom``: endless), a FIFO (blocks until
someone writes), a directory or a huge file. Each would make ``mbtspec lint`` hang or eat the
machine's memory; they are refused from their ``stat`` before anything is opened, and at most
the size limit (plus one byte, to notice a file that grew) is ever read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MIB = 1024 * 1024
#: The largest spec file mbtspec reads: real ones are a few KiB.
MAX_SPEC_BYTES = 10 * MIB
#: The largest OpenAPI document (or file a ``$ref`` points into) mbtspec reads: the largest
#: public API descriptions are around 10 MiB.
MAX_DOCUMENT_BYTES = 50 * MIB


class FileReadError(Exception):
    """The file cannot be read as text; ``message`` says why and what to do (no path in it)."""

    def __init__(self, message: str, missing: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.missing = missing


def read_text(path: Path, limit: int, *, encoding: str = "utf-8") -> str:
    """The text of the regular file at ``path``, at most ``limit`` bytes; raises
    ``FileReadError``."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FileReadError("no such file", missing=True) from None
    except NotADirectoryError:
        raise FileReadError("no such file (a part of the path is not a folder)",
                            missing=True) from None
    except (OSError, ValueError) as err:  # ValueError: a NUL byte in the path
        raise FileReadError(f"cannot read it ({getattr(err, 'strerror', None) or err})"
                            ) from None
    if stat.S_ISDIR(info.st_mode):
        raise FileReadError("is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode)
                else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
                else "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file")
        raise FileReadError(f"is {kind}, not a regular file; mbtspec reads regular files "
                            "only: save the content to a file and name that")
    if info.st_size > limit:
        raise FileReadError(f"is {_size(info.st_size)}, more than the {_size(limit)} mbtspec "
                            "reads; is this the right file?")
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as err:
        raise FileReadError(f"cannot read it ({err.strerror or err})") from None
    if len(data) > limit:  # it grew since stat
        raise FileReadError(f"is more than the {_size(limit)} mbtspec reads; is this the "
                            "right file?")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        raise FileReadError(f"is not UTF-8 text ({err.reason} at byte {err.start})") from None


def _size(count: int) -> str:
    if count >= MIB:
        return f"{count / MIB:,.1f} MiB".replace(".0 MiB", " MiB")
    return f"{count:,} bytes"
