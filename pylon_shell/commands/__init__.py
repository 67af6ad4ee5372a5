"""Subcommands that live outside cli.py."""
