"""`pylon store add FILE | list | gc`: the content store of components by digest."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from pylon_shell.flags import Parser


def main(argv: Sequence[str]) -> int:
    from pylon_shell import store

    parser = Parser(
        prog="pylon store", description="Components by SHA-256 digest, in the user cache."
    )
    sub = parser.add_subparsers(dest="action", required=True, parser_class=Parser)
    add = sub.add_parser("add", help="put a component file into the store")
    add.add_argument("file", type=Path)
    sub.add_parser("list", help="what the store holds")
    sub.add_parser("gc", help="delete damaged entries and pylon's stale builds")
    args = parser.parse_args(list(argv))
    if args.action == "add":
        entry = store.add(args.file)
        print(f"sha256:{entry.digest}  {entry.size} bytes  {_shown(str(args.file))}")
        print(f"digest as PlanV1 writes it: {list(bytes.fromhex(entry.digest))}".replace(",", ""))
        return 0
    if args.action == "list":
        for entry in store.entries():
            label = f"pylon's {entry.kind}" if entry.kind else _shown(entry.name or "")
            print(f"sha256:{entry.digest}  {entry.size:>10} bytes  {label}")
        return 0
    removed = store.gc()
    for name in removed:
        print(f"removed {name}")
    print(f"pylon store gc: removed {len(removed)} entries", file=sys.stderr)
    return 0


def _shown(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
