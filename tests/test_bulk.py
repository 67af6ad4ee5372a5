"""Large bulk values cross as files in a session's private directory; the
guest cannot use that to make the host read anything else."""

from __future__ import annotations

import os

import pytest

from pylon_shell.caps.bulk import THRESHOLD, BulkChannel
from pylon_shell.caps.values import ProviderError


@pytest.fixture
def channel():
    channel = BulkChannel()
    yield channel
    channel.close()


def test_small_values_are_base64_and_large_ones_files_read_once(channel):
    assert channel.decode(channel.encode(b"small")) == b"small"
    big = bytes(range(256)) * (THRESHOLD // 256 + 1)
    text = channel.encode(big)
    assert text.startswith("@h")
    assert (channel.dir / text[1:]).read_bytes() == big
    # The guest's files are g<n>; the host reads and removes them.
    (channel.dir / "g1").write_bytes(big)
    assert channel.decode("@g1") == big
    assert not (channel.dir / "g1").exists()


@pytest.mark.parametrize("name", ["../etc/passwd", "h1", "g1/../../x", "/etc/passwd", "g"])
def test_only_the_guests_own_file_names_are_read(channel, name):
    with pytest.raises(ProviderError, match="not a bulk value of the guest's"):
        channel.decode("@" + name)


def test_links_out_of_the_directory_are_refused(channel, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("host data")
    os.symlink(secret, channel.dir / "g1")
    with pytest.raises(ProviderError):
        channel.decode("@g1")
    # A hard link (here to a file beside it; WASI keeps the guest's inside).
    other = channel.dir / "other"
    other.write_text("not the guest's value")
    os.link(other, channel.dir / "g2")
    with pytest.raises(ProviderError, match="not a plain file"):
        channel.decode("@g2")
    assert secret.read_text() == "host data"


def test_the_directory_goes_when_the_session_closes():
    channel = BulkChannel()
    channel.encode(b"x" * THRESHOLD)
    channel.close()
    assert not channel.dir.exists()


ATTEMPT = """
import os
from wit_world.imports import compression
open("/.pylon-bulk/g901", "wb").close()
for target in ("/python/os.py", "/etc/passwd", "../../../../etc/passwd", "g901"):
    try:
        os.symlink(target, "/.pylon-bulk/g900")
    except OSError as error:
        print("symlink refused:", type(error).__name__)
        continue
    try:
        compression.compress(1, "@g900", -1)
    except Exception as error:
        print("host refused:", type(error).__name__)
    finally:
        os.remove("/.pylon-bulk/g900")
"""


def test_guest_code_cannot_point_the_host_at_other_files(pylon):
    result = pylon("--cap", "compression", "-c", ATTEMPT)
    assert result.status == 0, result.stderr
    for line in result.stdout.splitlines():
        assert line in ("symlink refused: PermissionError", "host refused: Err"), line
    assert result.stdout.count("\n") == 4
