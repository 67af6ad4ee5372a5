"""Where pylon keeps what it builds and what it remembers.

Build outputs live in the user cache dir (they can always be rebuilt); history
lives in the user data dir (it must survive). PYLON_CACHE_DIR and
PYLON_DATA_DIR override both, so tests and CI can use throwaway locations.
"""

import os
from pathlib import Path

import platformdirs

APP = "pylon"


def cache_dir() -> Path:
    override = os.environ.get("PYLON_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir(APP))


def data_dir() -> Path:
    override = os.environ.get("PYLON_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP))


def history_file() -> Path:
    return data_dir() / "history"
