"""Editing rules shared by the TUI's input and the line REPL: when Enter runs
the input, how the next line is indented, what Backspace removes in leading
whitespace, which of the guest's completions are shown. Written once so
that both front ends edit Python the same way
(the way ptpython and IDLE do): an indent level is four spaces, a block opens
after `:`, and a line that ends one (`return`, `pass`, `raise`, `break`,
`continue`) dedents the next.
"""

from __future__ import annotations

import re
from collections.abc import Callable

INDENT = "    "
#: Completions shown at most, and characters of one.
MAX_WORDS = 500
MAX_WORD = 200
#: A statement after which nothing more runs in its block.
_ENDS_BLOCK = re.compile(r"(return|pass|raise|break|continue)\b")


def should_accept(text: str, is_complete: Callable[[str], object]) -> bool:
    """Enter runs the input when it is complete; an empty line always ends a block."""
    if not text.strip():
        return True
    lines = text.split("\n")
    if len(lines) > 1 and not lines[-1].strip():
        return True
    return bool(is_complete(text))


def _dedent(indent: str) -> str:
    """One level less than `indent` (a tab, or back to the previous multiple of 4)."""
    if indent.endswith("\t"):
        return indent[:-1]
    spaces = len(indent) - len(indent.rstrip(" "))
    return indent[: len(indent) - (spaces % len(INDENT) or min(spaces, len(INDENT)))]


def next_indent(text: str) -> str:
    """Indentation for the line after `text`'s last one: one more after a
    block opener, one less after a statement that ends its block."""
    last = text.split("\n")[-1]
    indent = last[: len(last) - len(last.lstrip())]
    code = last.split("#", 1)[0].strip()
    if code.endswith(":"):
        return indent + INDENT
    if indent and _ENDS_BLOCK.match(code):
        return _dedent(indent)
    return indent


def backspace_width(line_before_cursor: str) -> int:
    """How many characters Backspace removes: one indent level when only
    whitespace is left of the cursor (`····|` goes back to column 0, `······|`
    to column 4), else one."""
    if not line_before_cursor or line_before_cursor.strip(" \t"):
        return 1
    return len(line_before_cursor) - len(_dedent(line_before_cursor))


def clean_words(words: object) -> list[str]:
    """The guest's completions as a list of distinct, printable, bounded
    words: the guest is hostile, and what it answers is shown to the user."""
    found: list[str] = []
    if not isinstance(words, list):
        return found
    for word in words[:MAX_WORDS]:
        if isinstance(word, str) and word and word.isprintable() and len(word) <= MAX_WORD:
            if word not in found:
                found.append(word)
    return found
