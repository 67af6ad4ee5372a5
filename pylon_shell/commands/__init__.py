"""The subcommands (`pylon plan`, `caps`, `trace`, `build`, `store`): a module each,
whose main(argv) returns the exit status; cli.py imports one only when it is named."""
