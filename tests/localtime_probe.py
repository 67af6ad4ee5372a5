"""Run by tests/test_localtime.py twice with the same TZ: in the guest (pylon)
and in the host's CPython (glibc, TZDIR at the same tzdata). Prints one JSON
document of everything local time touches; the two must be equal."""

import datetime
import email.utils
import json
import logging
import os
import time

INSTANTS = [
    -1_000_000_000, 0, 500_000_000, 1_000_000_000,
    1_704_110_400, 1_720_000_000, 4_102_444_800, 4_118_000_000,
]
# each side of the 2024 transitions of the zones tested
for edge in (1_711_846_800, 1_729_990_800, 1_710_054_000, 1_730_613_600,
             1_712_419_200, 1_728_144_000, 1_711_846_799):
    INSTANTS += [edge - 3601, edge - 1, edge, edge + 1, edge + 3599]

WALLS = []
for ymd in ((2024, 1, 15), (2024, 7, 15), (2024, 3, 31), (2024, 10, 27), (2024, 3, 10),
            (2024, 11, 3), (2024, 4, 7), (2024, 10, 6), (2024, 13, 40), (2023, 0, 0)):
    for hour, minute in ((0, 30), (1, 30), (2, 0), (2, 30), (3, 0), (3, 30), (12, 0), (25, 61)):
        for isdst in (-1, 0, 1):
            WALLS.append((*ymd, hour, minute, 0, 0, 0, isdst))


def struct(t):
    return list(t) + [t.tm_zone, t.tm_gmtoff]


def snapshot():
    out = {
        "names": [list(time.tzname), time.timezone, time.altzone, time.daylight],
        "localtime": [struct(time.localtime(t)) for t in INSTANTS],
        "strftime": [time.strftime("%Y-%m-%d %H:%M:%S %Z %z", time.localtime(t))
                     for t in INSTANTS],
        "ctime": [time.ctime(t) for t in INSTANTS[:8]],
        "mktime": [time.mktime(w) for w in WALLS],
        "round": [time.mktime(time.localtime(t)) == t for t in INSTANTS],
        "tuples": [time.strftime("%Z|%z", (2024, m, 1, 0, 0, 0, 0, 1, d))
                   for m in (1, 7) for d in (-1, 0, 1)],
        "fromtimestamp": [repr(datetime.datetime.fromtimestamp(t)) for t in INSTANTS],
        "astimezone": [datetime.datetime.fromtimestamp(t).astimezone().isoformat()
                       + " " + str(datetime.datetime.fromtimestamp(t).astimezone().tzname())
                       for t in INSTANTS],
        "timestamp": [datetime.datetime(*w[:6]).timestamp()
                      for w in WALLS[::3] if 1 <= w[1] <= 12 and w[2] >= 1 and w[3] < 24],
        "email": email.utils.localtime(datetime.datetime(2024, 7, 1, 12)).isoformat(),
        "logging": logging.Formatter("%(asctime)s").formatTime(
            logging.makeLogRecord({"created": 1_720_000_000.0}), "%H:%M %Z"),
    }
    now = time.time()
    out["now"] = abs(datetime.datetime.now().timestamp() - now) < 60
    out["today"] = datetime.date.today() in (
        datetime.date(*time.localtime(now - 5)[:3]), datetime.date(*time.localtime(now + 5)[:3]))
    return out


report = {"start": snapshot()}
os.environ["TZ"] = "Australia/Sydney"
time.tzset()
report["tzset"] = snapshot()
print(json.dumps(report, sort_keys=True))
