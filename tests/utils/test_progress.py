"""Progress bars: on a terminal only, so that logs and pipes get no carriage-return redraws."""

import io

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


def test_no_bar_is_drawn_into_a_log_or_a_pipe():
    log = io.StringIO()
    with progress_bar(range(3), file=log, desc="work") as bar:
        assert bar.disable
        assert list(bar) == [0, 1, 2]
    assert log.getvalue() == ""


def test_no_bar_is_drawn_when_not_asked_for_even_on_a_terminal():
    terminal = Terminal()
    with progress_bar(total=3, show=False, file=terminal) as bar:
        bar.update(3)
    assert terminal.getvalue() == ""
