"""The streamed answer on a terminal, replaced by the final one.

The pipeline may change an answer after generation (markers placed, echoed instructions
removed, a refusal after verification), so the text the CLI leaves on screen is always the
final ``Answer.text``: on a terminal the tokens are shown as they come, then erased (ANSI:
cursor up, clear to the end of the screen) and the final text is printed once; elsewhere
(a pipe, a file, a test runner) only the final text is printed.

    live = LiveAnswer(write, live=stream.isatty(), columns=80)
    for piece in tokens:
        live.token(piece)
    live.finish(answer.text)
"""

from __future__ import annotations

import re
import unicodedata
from typing import Callable

__all__ = ["LiveAnswer", "rows_taken", "terminal_is_live"]

# C0/C1 control characters a model could emit (escape sequences included), except \n and \t
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_UP = "\x1b[{n}A"
_CLEAR_BELOW = "\x1b[J"


def _width(char: str) -> int:
    """Terminal columns ``char`` takes (wide East Asian characters two, combining none)."""
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def rows_taken(text: str, columns: int) -> int:
    """Terminal rows that ``text`` (no tabs), written from the start of a row, spans: a
    character that does not fit on the row goes to the next one."""
    columns = max(2, columns)
    rows = 0
    for line in text.split("\n"):
        rows, col = rows + 1, 0
        for char in line:
            width = _width(char)
            if col + width > columns:
                rows, col = rows + 1, 0
            col += width
    return rows


def terminal_is_live(stream: object, term: str | None) -> bool:
    """Whether ``stream`` is a terminal that understands cursor movement."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and (term or "").lower() not in ("", "dumb")


class LiveAnswer:
    """Shows tokens as they stream when ``live``, then leaves only the final text."""

    def __init__(self, write: Callable[[str], None], *, live: bool, columns: int = 80,
                 max_rows: int = 1000) -> None:
        self._write = write
        self._live = live
        self._columns = columns
        self._max_rows = max_rows  # the terminal's height: rows above it cannot be reached
        self._shown = ""

    @property
    def shown(self) -> str:
        """What is on screen so far (the streamed tokens, control characters removed)."""
        return self._shown

    def token(self, piece: str) -> None:
        if not self._live:
            return
        if not self._shown:
            piece = piece.lstrip()
        piece = _CONTROL.sub("", piece).replace("\t", " ")  # tabs: the rows stay countable
        if piece:
            self._shown += piece
            self._write(piece)

    def finish(self, final: str) -> None:
        """Erase what was streamed and print ``final`` (and a newline) once."""
        self._erase()
        self._write(_CONTROL.sub("", final) + "\n")

    def abandon(self) -> None:
        """The stream stopped without a final text (an error): erase what it showed."""
        self._erase()

    def _erase(self) -> None:
        if self._shown:
            up = min(rows_taken(self._shown, self._columns), self._max_rows) - 1
            self._write("\r" + (_UP.format(n=up) if up > 0 else "") + _CLEAR_BELOW)
            self._shown = ""
