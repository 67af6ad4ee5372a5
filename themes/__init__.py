"""Textual themes and matching Pygments styles (installed as pylon_shell.themes).

Each pylon theme pairs a Textual theme (the screen's colours) with the
Pygments style the REPL highlights code in, so code stays readable on the
background: a dark style on the dark theme, a light one on the light.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.theme import Theme


@dataclass(frozen=True)
class PylonTheme:
    textual: Theme
    #: The Pygments style for highlighted code and tracebacks.
    pygments: str


THEMES: dict[str, PylonTheme] = {
    "dark": PylonTheme(
        Theme(
            name="pylon-dark",
            primary="#4EA1FF",
            secondary="#9A7CFF",
            accent="#FFB454",
            warning="#FFB454",
            error="#FF6B6B",
            success="#7FD962",
            foreground="#E6E6E6",
            background="#121418",
            surface="#1A1D23",
            panel="#232730",
            dark=True,
        ),
        "monokai",
    ),
    "light": PylonTheme(
        Theme(
            name="pylon-light",
            primary="#0B63C5",
            secondary="#6A4BD8",
            accent="#A65300",
            warning="#A65300",
            error="#C62828",
            success="#2E7D32",
            foreground="#1F2328",
            background="#FAFAF7",
            surface="#FFFFFF",
            panel="#ECEEF1",
            dark=False,
        ),
        "friendly",
    ),
}
DEFAULT = "dark"


def by_textual_name(name: str) -> PylonTheme | None:
    return next((t for t in THEMES.values() if t.textual.name == name), None)
