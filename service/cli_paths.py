"""Output folders of the ``kohtaanto`` commands: checked before the work, one line if unusable.

A folder that cannot be created or written (no permission, a read-only file system, a part
of the path that is a file) is reported as ``--out PATH: cannot write there: REASON`` with
exit status 2, before minutes of work are spent, instead of a traceback at the end.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console

__all__ = ["fail", "output_problem", "reason_of", "unwritable", "writable_dir"]

_console = Console(stderr=False)


def output_problem(path: Path) -> str | None:
    """Why ``path`` cannot be used as an output folder, or None (it exists afterwards)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return "it is a file, not a folder"
    except NotADirectoryError:
        return "a part of the path is a file, not a folder"
    except OSError as error:
        return reason_of(error)
    # os.access answers for the real user and not for root, nor for read-only mounts; a
    # file actually created (and removed at once) answers for every case.
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        return reason_of(error)
    return None


def reason_of(error: OSError) -> str:
    """A short reason for a failed write, without the path (the message names it)."""
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if error.errno == errno.EROFS:
        return "the file system is read-only"
    return error.strerror or os.strerror(error.errno or 0) or type(error).__name__


def fail(message: object, code: int = 2) -> NoReturn:
    """Print ``message`` as one red line and exit with ``code`` (2: the command could not run).

    Taken literally, never as Rich markup: messages quote paths, names and URLs, which may
    hold "[...]" (an IPv6 host, a folder called "[x]").
    """
    _console.print(str(message), style="red", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def unwritable(path: Path, option: str, reason: str) -> NoReturn:
    """Print ``OPTION PATH: cannot write there: REASON`` (literally) and exit 2."""
    fail(f"{option} {path}: cannot write there: {reason}")


def writable_dir(path: Path, option: str) -> Path:
    """``path``, created if missing, when this process can write files into it; else exit 2."""
    reason = output_problem(path)
    if reason is not None:
        unwritable(path, option, reason)
    return path
