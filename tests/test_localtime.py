"""Local time follows TZ in the CPython guest (issue 14 item 3): the guest's
answers for every function local time touches equal the host CPython's on
glibc with the same TZ and the same zone data (TZDIR at the tzdata package
the launcher preopens). Real pylon, real host Python."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from pylon_shell.runtimes.base import tzdata_dir

PROBE = Path(__file__).with_name("localtime_probe.py")

ZONES = (
    "Europe/Paris",
    "America/New_York",
    "Australia/Sydney",  # DST in the southern summer
    "Europe/Dublin",  # negative DST: winter is the isdst=1 time
    "Asia/Kolkata",
    "America/Sao_Paulo",  # DST abolished in 2019
    ":Europe/Paris",
    "CET-1CEST,M3.5.0,M10.5.0/3",
    "EST5EDT",
    "CET-1CEST",  # a DST name and no rule: glibc's default rule
    "UTC0",
    "<+03>-3",
    "",
    "Foo/Bar",  # unknown: UTC named Foo, as glibc
)

needs_glibc = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc" or tzdata_dir() is None,
    reason="the reference is the host CPython on glibc with the tzdata package",
)


def host_report(tz: str) -> dict:
    env = {**os.environ, "TZ": tz, "TZDIR": str(tzdata_dir())}
    out = subprocess.run(
        [sys.executable, str(PROBE)], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout)


@needs_glibc
@pytest.mark.parametrize("tz", ZONES)
def test_local_time_is_the_hosts_for_the_same_tz(pylon, tz):
    result = pylon("--env", f"TZ={tz}", str(PROBE))
    assert (result.status, result.stderr) == (0, "")
    guest, host = json.loads(result.stdout), host_report(tz)
    for phase in ("start", "tzset"):
        for key, value in host[phase].items():
            assert guest[phase][key] == value, (phase, key)


def test_without_tz_local_time_is_utc_and_datetime_stays_c(pylon):
    code = (
        "import time, datetime, os\n"
        "print('TZ' in os.environ, time.tzname, time.timezone, time.strftime('%Z %z'))\n"
        "print(time.localtime(0)[:6], time.mktime((1970, 1, 1, 1, 0, 0, 0, 1, -1)))\n"
        "print(datetime.datetime.fromtimestamp(0).astimezone().isoformat())\n"
        "print(type(datetime.datetime.now()).__module__, hasattr(datetime, 'datetime_CAPI'))\n"
    )
    result = pylon("-c", code)
    assert result.stdout == (
        "False ('UTC', 'UTC') 0 UTC +0000\n(1970, 1, 1, 0, 0, 0) 3600.0\n"
        "1970-01-01T00:00:00+00:00\ndatetime True\n"
    ), result.stderr


def test_tzset_after_start_moves_time_and_datetime(pylon):
    code = (
        "import os, time, datetime, logging, zoneinfo\n"
        "os.environ['TZ'] = 'Asia/Tokyo'\n"
        "time.tzset()\n"
        "print(time.tzname, time.localtime(0).tm_hour, time.ctime(0))\n"
        "print(datetime.datetime.fromtimestamp(0), datetime.datetime(1970, 1, 1, 9).timestamp())\n"
        "print(datetime.datetime(2024, 1, 1, tzinfo=zoneinfo.ZoneInfo('Europe/Paris'))"
        ".astimezone().isoformat())\n"
        "print(logging.Formatter().formatTime(logging.makeLogRecord({'created': 0.0}), '%H %Z'))\n"
    )
    result = pylon("-c", code)
    assert result.stdout == (
        "('JST', 'JST') 9 Thu Jan  1 09:00:00 1970\n1970-01-01 09:00:00 0.0\n"
        "2024-01-01T08:00:00+09:00\n09 JST\n"
    ), result.stderr


def test_time_functions_keep_their_c_behaviour(pylon):
    """The replacements still look and fail as the C functions do."""
    code = (
        "import time\n"
        "class F: convert = time.localtime\n"
        "print(F().convert(0).tm_hour, time.localtime)\n"
        "for bad in ('x', float('nan')):\n"
        "    try: time.localtime(bad)\n"
        "    except Exception as e: print(type(e).__name__)\n"
        "try: time.mktime((1, 2))\n"
        "except TypeError as e: print('TypeError')\n"
    )
    result = pylon("--env", "TZ=Europe/Paris", "-c", code)
    assert result.stdout == (
        "1 <built-in function localtime>\nTypeError\nValueError\nTypeError\n"
    ), result.stderr
