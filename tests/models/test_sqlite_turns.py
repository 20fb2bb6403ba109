"""SQLite write turns: readers never wait, and a writer in another process gets the lock as soon
as it is free rather than after SQLite's sleep-and-poll (up to 100 ms per sleep)."""

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from sqlmodel import select

from loyalflow.models.db import get_engine, read_scope, session_scope, upgrade_database
from loyalflow.models.tables import Member


def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'turns.db'}"
    upgrade_database(url)
    return url


def test_a_reader_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    with session_scope(url) as session:
        session.add(Member(id="M-1", email="a@example.com"))
    writing, done = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:
        with session_scope(url) as session:
            member = session.get(Member, "M-1")
            assert member is not None
            member.points = 10
            session.add(member)
            session.flush()
            writing.set()
            done.wait(10)

    writer = threading.Thread(target=hold_the_write_lock)
    writer.start()
    try:
        assert writing.wait(10)
        began = time.monotonic()
        with read_scope(url) as session:
            points = session.exec(select(Member.points).where(Member.id == "M-1")).one()
        assert time.monotonic() - began < 1
        assert points == 0  # the committed state: the writer has not committed yet
    finally:
        done.set()
        writer.join()
    with read_scope(url) as session:
        assert session.exec(select(Member.points).where(Member.id == "M-1")).one() == 10


HOLD_SECONDS = 1.5  # past SQLite's short first sleeps

OTHER_PROCESS = textwrap.dedent(
    """
    import sys, time
    from loyalflow.models.db import session_scope
    from loyalflow.models.tables import Member
    with session_scope(sys.argv[1]) as session:
        session.add(Member(id=sys.argv[3], email="o@example.com"))
        session.flush()
        print("holding", flush=True)
        time.sleep(float(sys.argv[2]))
    print(time.time(), flush=True)
    """
)


def handover_delay(url: str, member_id: str) -> float:
    """Seconds between the other process's commit and this process's BEGIN IMMEDIATE."""
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER_PROCESS, url, str(HOLD_SECONDS), member_id],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert other.stdout is not None
    try:
        assert other.stdout.readline().strip() == "holding"
        with session_scope(url) as session:
            session.connection()  # BEGIN IMMEDIATE: queued behind the other process
            got_turn = time.time()
            session.add(Member(id=f"{member_id}-after", email="m@example.com"))
        committed = float(other.stdout.readline())
    finally:
        other.wait(10)
    assert other.returncode == 0
    return got_turn - committed


def test_a_writer_gets_its_turn_as_soon_as_another_process_commits(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    delays = sorted(handover_delay(url, f"M-{i}") for i in range(3))
    # SQLite's busy handler alone sleeps up to 100 ms between tries after a second of waiting,
    # so it would hand over about 50 ms late on average.
    assert delays[1] < 0.02, delays
    with read_scope(url) as session:
        assert len(session.exec(select(Member.id)).all()) == 6
    get_engine(url).dispose()
