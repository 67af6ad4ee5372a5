"""`pylon build`: rebuild the runtime artifacts from scratch (build.py)."""

from __future__ import annotations

from collections.abc import Sequence

from pylon_shell.flags import Parser


def main(argv: Sequence[str]) -> int:
    from pylon_shell.build import build_all
    from pylon_shell.progress import TerminalProgress

    Parser(prog="pylon build", description="(Re)build the runtime artifacts.").parse_args(argv)
    cpython, micropython = build_all(TerminalProgress())
    print(f"cpython      {cpython.root}  sha256:{cpython.wasm_sha256}")
    print(f"micropython  {micropython.wasm}  sha256:{micropython.wasm_sha256}")
    return 0
