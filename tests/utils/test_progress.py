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
