"""Progress: a bar on a terminal; in logs and pipes no carriage-return redraws, only a plain line now and then."""

import io

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


def test_long_work_writes_plain_lines_into_a_log(monkeypatch):
    """A metrics run of hours in a job log showed nothing until its result (cliux M1, retest)."""
    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.0)
    log = io.StringIO()
    with progress_bar(range(3), file=log, desc="work", unit="img") as bar:
        assert list(bar) == [0, 1, 2]
    lines = log.getvalue().splitlines()
    assert lines and "\r" not in log.getvalue() and lines[-1].startswith("work: 3/3 (100%) [")
    unsized = io.StringIO()
    with progress_bar(iter(range(2)), file=unsized, desc="download") as bar:
        list(bar)
    assert unsized.getvalue().splitlines()[-1].startswith("download: 2 [")


def test_no_bar_is_drawn_when_not_asked_for_even_on_a_terminal():
    terminal = Terminal()
    with progress_bar(total=3, show=False, file=terminal) as bar:
        bar.update(3)
    assert terminal.getvalue() == ""
