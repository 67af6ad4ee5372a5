"""`pylon caps`: every cap pylon knows, and what serves it (caps/describe.py)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from pylon_shell.flags import Parser


def main(argv: Sequence[str]) -> int:
    import json

    from pylon_shell.caps.describe import catalog_json, catalog_text

    parser = Parser(prog="pylon caps", description="Every cap pylon knows, and what serves it.")
    parser.add_argument("--json", action="store_true", help="print the catalog as JSON")
    args = parser.parse_args(argv)
    if args.json:
        print(json.dumps(catalog_json(), indent=2))
    else:
        sys.stdout.write(catalog_text())
    return 0
