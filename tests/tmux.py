"""Drive a real terminal: run pylon in tmux, send keys, read the screen."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid

import pytest


class Terminal:
    def __init__(
        self, args: list[str], width: int = 100, height: int = 30, env: dict[str, str] | None = None
    ) -> None:
        if shutil.which("tmux") is None:
            # CI installs tmux (.ci/run): there a missing tmux is a failure,
            # never a quiet skip of the terminal tests.
            if os.environ.get("PYLON_CI"):
                pytest.fail("tmux is not installed, and CI needs it for the terminal tests")
            pytest.skip("tmux is not installed")
        self.name = f"pylon-test-{uuid.uuid4().hex[:8]}"
        command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "pylon_shell", *args])
        # -e, not the client's environment: a tmux server that is already
        # running would not see it.
        passed = {k: v for k, v in os.environ.items() if k.startswith("PYLON_")}
        passed.update(env or {})
        exports = [arg for k, v in passed.items() for arg in ("-e", f"{k}={v}")]
        subprocess.run(
            [
                "tmux",
                "new-session",
                "-d",
                "-s",
                self.name,
                "-x",
                str(width),
                "-y",
                str(height),
                *exports,
                command,
            ],
            check=True,
            env={**os.environ, "TERM": "xterm-256color"},
        )

    def send(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def type(self, text: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, "-l", text], check=True)

    def screen(self) -> str:
        result = subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True
        )
        return result.stdout

    def wait_for(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared on screen:\n{self.screen()}")

    def wait_for_line(self, line: str, timeout: float = 60) -> str:
        """Wait until the last line with text on screen (where the cursor's
        input is) is exactly `line`: text further up, such as an earlier
        echo of the same input, does not count."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            lines = [row.rstrip() for row in screen.splitlines() if row.strip()]
            if lines and lines[-1] == line:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"the input line never became {line!r}:\n{self.screen()}")

    def alive(self) -> bool:
        return (
            subprocess.run(["tmux", "has-session", "-t", self.name], capture_output=True).returncode
            == 0
        )

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)
