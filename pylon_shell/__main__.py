"""`python -m pylon_shell` is the same as the `pylon` command."""

from pylon_shell.cli import main

main()
