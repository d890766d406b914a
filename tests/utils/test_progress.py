"""Progress: a bar on a terminal; in logs and pipes no carriage-return redraws, only a plain line now and then."""

import bisect
import io
import itertools
import re

import pytest
from tqdm import tqdm
from tqdm._monitor import TMonitor

from stylegan2.utils import progress
from stylegan2.utils.progress import progress_bar


class Terminal(io.StringIO):
    """stderr as a terminal."""

    def isatty(self) -> bool:
        return True


def test_a_bar_is_drawn_on_a_terminal():
    terminal = Terminal()
    with progress_bar(range(3), file=terminal, desc="work") as bar:
        assert not bar.disable
        list(bar)
    assert "work" in terminal.getvalue()


def test_no_bar_is_drawn_into_a_log_or_a_pipe_for_short_work():
    log = io.StringIO()
    with progress_bar(range(3), file=log, desc="work") as bar:
        assert list(bar) == [0, 1, 2]
    assert log.getvalue() == ""


class Clock:
    """A fake clock for tqdm: work advances it, so no test waits."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Log(io.StringIO):
    """A job log that notes the (fake) time each line was written."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock, self.lines = clock, []

    def write(self, text: str) -> int:
        self.lines += [(self.clock.now, line) for line in text.splitlines()]
        return len(text)


class OnePass:
    """The Event of tqdm's monitor thread (its `_test` hook): lets `run()` make one pass, then ends it."""

    def __init__(self) -> None:
        self.waits = 0

    def wait(self, timeout: float | None = None) -> None:
        self.waits += 1

    def is_set(self) -> bool:
        return self.waits > 1

    def set(self) -> None:
        self.waits = 2


@pytest.fixture
def clock(monkeypatch):
    """The fake clock, read by tqdm and by its monitor thread, which a test runs by hand (`monitor_pass`)."""
    clock = Clock()
    monkeypatch.setattr("tqdm.std.time", clock)
    monkeypatch.setitem(TMonitor._test, "time", clock)
    monkeypatch.setitem(TMonitor._test, "Event", OnePass)
    monkeypatch.setattr(TMonitor, "start", lambda self: None)
    monkeypatch.setattr(tqdm, "monitor_interval", 0)  # so no bar starts a monitor that never runs
    return clock


def monitor_pass() -> None:
    """What tqdm's monitor thread does when it wakes: refresh the bars that have not printed for `maxinterval`."""
    TMonitor(tqdm, 10).run()


SECONDS = [0.0625] * 1600 + [2.5] * 100  # a fast phase (100 s), then a slow one (250 s): 350 s in all


def logged(clock: Clock, by_hand: bool, durations: list[float] = SECONDS) -> list[tuple[float, str]]:
    """Run the work of items taking `durations` through a bar into a log, the monitor thread waking before every item,
    and return the lines with their elapsed times."""
    log = Log(clock)
    start = clock.now
    if by_hand:  # as the metrics' passes do: bar.update(batch)
        with progress_bar(total=len(durations), file=log, desc="work", unit="img") as bar:
            for seconds in durations:
                monitor_pass()
                clock.now += seconds
                bar.update(1)
    else:
        def work():
            for i, seconds in enumerate(durations):
                monitor_pass()
                clock.now += seconds
                yield i
        assert list(progress_bar(work(), file=log, total=len(durations), desc="work", unit="img")) == list(range(len(durations)))
    return [(now - start, line) for now, line in log.lines]


@pytest.mark.parametrize("by_hand", [False, True], ids=["iterated", "updated-by-hand"])
def test_each_log_line_states_the_count_rate_and_time_left_of_its_moment(clock, by_hand):
    """A job log repeated the last line's count and rate under a new time when the work slowed (docstruth34 M2)."""
    done_at = list(itertools.accumulate(SECONDS))
    lines = logged(clock, by_hand)
    assert lines
    for elapsed, line in lines:
        match = re.fullmatch(r"work: (\d+)/1700 \(\d+%\) \[(\d\d):(\d\d)<(\d\d):(\d\d), +([\d.]+)img/s\]", line)
        assert match, line
        n, minutes, seconds, left_minutes, left_seconds, rate = map(float, match.groups())
        assert n == bisect.bisect_right(done_at, elapsed + 1e-9), line  # the images done by then
        assert minutes * 60 + seconds == int(elapsed), line
        assert rate == pytest.approx(n / elapsed, abs=0.006), line  # the average so far
        assert left_minutes * 60 + left_seconds == pytest.approx((1700 - n) * elapsed / n, abs=1), line


@pytest.mark.parametrize("by_hand", [False, True], ids=["iterated", "updated-by-hand"])
def test_a_log_gets_one_line_each_interval_and_a_last_one_at_the_end(clock, by_hand):
    """Lines skipped a minute, or came twice in one, when the work slowed (docstruth34 M2)."""
    lines = logged(clock, by_hand)
    assert [int(elapsed // 60) for elapsed, _line in lines] == [1, 2, 3, 4, 5, 5]
    assert lines[-1][0] == pytest.approx(350) and lines[-1][1].startswith("work: 1700/1700 (100%) [05:50<00:00, ")


def test_slow_items_still_give_a_line_in_each_interval_one_of_them_ends_in(clock):
    """Lines late by an item's time must not push the next ones late until a minute goes without a line."""
    lines = logged(clock, by_hand=False, durations=[50.0] * 12)  # items end at 00:50, 01:40, 02:30, ... 10:00
    assert [int(elapsed // 60) for elapsed, _line in lines] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10]


def test_work_of_unknown_size_gets_lines_without_a_total(clock):
    log = Log(clock)

    def work():
        for i in range(200):
            clock.now += 0.5
            yield i
    assert list(progress_bar(work(), file=log, desc="download", unit="B")) == list(range(200))
    assert [line for _now, line in log.lines] == ["download: 120 [01:00,  2.00B/s]", "download: 200 [01:40,  2.00B/s]"]


def test_no_bar_is_drawn_when_not_asked_for_even_on_a_terminal():
    terminal = Terminal()
    with progress_bar(total=3, show=False, file=terminal) as bar:
        bar.update(3)
    assert terminal.getvalue() == ""


def test_quiet_draws_no_bar_even_on_a_terminal_and_ends_with_its_block():
    """--quiet: one switch for every bar of the command, downloads' included (cliux M1)."""
    terminal = Terminal()
    with progress.quiet():
        assert progress.is_quiet()
        with progress_bar(range(3), file=terminal, desc="work") as bar:
            assert list(bar) == [0, 1, 2]
    assert terminal.getvalue() == "" and not progress.is_quiet()
    with progress.quiet(False):
        assert not progress.is_quiet()


def test_a_quiet_training_terminal_shows_its_warnings_and_drops_its_progress():
    terminal = io.StringIO()
    stream = progress.WarningsOnly(terminal)
    for text in ("tick 0    kimg 0.032", "\n", "note: non-finite gradients", "\n", "Saved network-snapshot-000000.safetensors\n",
                 "Interrupted: writing a final snapshot before exiting\nDone.\n", "note: Metric fid50k failed: ",
                 "no space left\nResume auto: passed over 00001-cats-cpu: --gamma 8, not --gamma 2: ...\n"):
        stream.write(text)
    assert terminal.getvalue().splitlines() == ["note: non-finite gradients", "Interrupted: writing a final snapshot before exiting",
                                                "note: Metric fid50k failed: no space left",
                                                "Resume auto: passed over 00001-cats-cpu: --gamma 8, not --gamma 2: ..."]
