"""Textual themes and matching Pygments styles (installed as pylon_shell.themes)."""
