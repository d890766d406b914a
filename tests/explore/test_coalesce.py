"""LatestOnly: one render at a time; of one client's calls that wait meanwhile only the newest runs."""

import threading
import time

import pytest

from stylegan2.explore import LatestOnly, Superseded


def run_behind_a_render(names: list[str]) -> tuple[list[str], dict[str, str]]:
    """Calls named CLIENT+N (the first letter is the client) on one LatestOnly: names[0] renders while the others
    arrive, in order; (the calls that ran, in order; each call's outcome)."""
    runner = LatestOnly()
    release, started = threading.Event(), threading.Event()
    ran: list[str] = []
    outcome: dict[str, str] = {}

    def first() -> None:
        started.set()
        release.wait(5)
        ran.append(names[0])

    def call(name: str, work) -> None:
        try:
            runner.run(work, client=name[0])
            outcome[name] = "ran"
        except Superseded:
            outcome[name] = "superseded"

    threads = [threading.Thread(target=call, args=(names[0], first))]
    threads[0].start()
    assert started.wait(5)
    for name in names[1:]:
        thread = threading.Thread(target=call, args=(name, lambda name=name: ran.append(name)))
        thread.start()
        threads.append(thread)
        time.sleep(0.05)
    release.set()
    for thread in threads:
        thread.join(5)
    return ran, outcome


def test_calls_that_wait_behind_a_render_are_dropped_except_the_newest():
    ran, outcome = run_behind_a_render(["a0", "a1", "a2", "a3"])
    assert ran == ["a0", "a3"]
    assert outcome == {"a0": "ran", "a1": "superseded", "a2": "superseded", "a3": "ran"}


def test_waiting_calls_of_other_clients_all_run_in_arrival_order():
    """Three tabs on one server: a tab's waiting request is never dropped for another tab's."""
    ran, outcome = run_behind_a_render(["a0", "b1", "c1", "b2", "a1"])
    assert ran == ["a0", "c1", "b2", "a1"]
    assert outcome == {"a0": "ran", "b1": "superseded", "c1": "ran", "b2": "ran", "a1": "ran"}


def test_a_call_on_an_idle_runner_runs_at_once_and_errors_pass_through():
    runner = LatestOnly()
    assert runner.run(lambda: 5) == 5
    with pytest.raises(ZeroDivisionError):
        runner.run(lambda: 1 / 0)
    assert runner.run(lambda: 6) == 6  # a failed render leaves the runner free
