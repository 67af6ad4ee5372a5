"""The live grants table: checks, toggles, prompts, audit mode and the events."""

from __future__ import annotations

import threading

import pytest

from pylon_shell.caps.grants import (
    CapCallEvent,
    CapDenied,
    Event,
    GrantChanged,
    Grants,
    denial_message,
)


def recorded(grants: Grants) -> list[Event]:
    events: list[Event] = []
    grants.subscribe(events.append)
    return events


def test_a_granted_call_runs_and_is_timed():
    grants = Grants(["sqlite"])
    events = recorded(grants)
    with grants.call("sqlite", "execute", "/db/x.db"):
        pass
    [event] = events
    assert isinstance(event, CapCallEvent)
    assert (event.cap, event.operation, event.target, event.granted) == (
        "sqlite",
        "execute",
        "/db/x.db",
        True,
    )
    assert event.decided_by == "grant"
    assert event.duration >= 0


def test_a_denied_call_raises_permission_error_naming_cap_and_resource():
    grants = Grants()
    events = recorded(grants)
    ran = []
    with pytest.raises(PermissionError) as raised:
        with grants.call("duckdb", "connect", ":memory:"):
            ran.append(True)
    assert isinstance(raised.value, CapDenied)
    assert ran == []
    assert str(raised.value) == (
        "the duckdb cap is not granted (connect :memory:); grant it with --cap duckdb"
    )
    assert events[-1].granted is False and events[-1].decided_by == "deny"


def test_a_toggle_applies_to_the_next_call():
    grants = Grants(["duckdb"])
    with grants.call("duckdb", "execute", "q"):
        pass
    grants.revoke("duckdb")
    with pytest.raises(CapDenied):
        with grants.call("duckdb", "execute", "q"):
            pass
    grants.grant("duckdb")
    with grants.call("duckdb", "execute", "q"):
        pass


def test_grant_changed_is_published_only_on_a_change():
    grants = Grants(["sqlite"])
    events = recorded(grants)
    grants.grant("sqlite")
    grants.revoke("sqlite")
    grants.revoke("sqlite")
    assert events == [GrantChanged("sqlite", False)]


def test_audit_mode_allows_and_says_so():
    grants = Grants(audit=True)
    events = recorded(grants)
    assert grants.request("sqlite", "import", "sqlite3") is True
    assert events[-1].decided_by == "audit"
    assert not grants.is_granted("sqlite")


@pytest.mark.parametrize(
    ("answer", "allowed", "granted_after"),
    [("once", True, False), ("session", True, True), ("deny", False, False)],
)
def test_the_prompter_decides_what_the_table_refuses(answer, allowed, granted_after):
    asked = []

    def prompter(cap: str, operation: str, target: str) -> str:
        asked.append((cap, operation, target))
        return answer

    grants = Grants(prompter=prompter)
    events = recorded(grants)
    assert grants.request("duckdb", "import", "duckdb") is allowed
    assert asked == [("duckdb", "import", "duckdb")]
    assert grants.is_granted("duckdb") is granted_after
    assert events[-1].decided_by == f"prompt-{answer}"


def test_a_session_grant_is_not_asked_again():
    asked = []
    grants = Grants(prompter=lambda *request: asked.append(request) or "session")
    grants.request("sqlite", "import", "sqlite3")
    with grants.call("sqlite", "execute", "select 1"):
        pass
    assert len(asked) == 1


def test_unsubscribe_stops_events():
    grants = Grants()
    events: list[Event] = []
    unsubscribe = grants.subscribe(events.append)
    unsubscribe()
    unsubscribe()  # twice is harmless
    grants.grant("fs")
    assert events == []


def test_toggles_from_another_thread_are_seen():
    """A toggle made on another thread while this one keeps checking is seen by
    the next check here, while that thread is still alive (not only after a
    join has synchronised the two)."""
    grants = Grants()
    granted, release = threading.Event(), threading.Event()

    def toggle() -> None:
        grants.grant("duckdb")
        granted.set()
        release.wait(30)
        grants.revoke("duckdb")
        granted.clear()

    thread = threading.Thread(target=toggle)
    assert not grants.is_granted("duckdb")
    thread.start()
    try:
        assert granted.wait(30)
        assert thread.is_alive()
        assert grants.is_granted("duckdb")
        with grants.call("duckdb", "execute", "select 1") as how:
            assert how == "grant"
    finally:
        release.set()
        thread.join(30)
    assert grants.granted == frozenset()


def test_denial_message_without_target():
    assert denial_message("fs", "open", "") == (
        "the fs cap is not granted (open); grant it with --cap fs"
    )
