"""Small text helpers of messages and logs: durations, counts with their noun, number lists in the CLI's range syntax."""

import pytest

from stylegan2.utils.text import format_time, number_ranges, plural


@pytest.mark.parametrize("numbers, text", [([], ""), ([3], "3"), ([0, 1, 2, 5], "0-2,5"), ([4, 5, 7, 8, 9], "4-5,7-9")])
def test_number_ranges_are_what_seeds_read(numbers, text):
    assert number_ranges(numbers) == text


def test_plural_counts_with_their_noun():
    assert (plural(1, "cell"), plural(4, "cell"), plural(10_000, "image")) == ("1 cell", "4 cells", "10,000 images")


@pytest.mark.parametrize("seconds,text", [(42, "42s"), (59.6, "1m 00s"), (187, "3m 07s"), (7500, "2h 05m 00s"),
                                          (86399, "23h 59m 59s"), (266_400, "3d 02h 00m"), (136_000_000, "1574d 01h 46m")])
def test_durations_are_written_as_nvidia_logs_write_them(seconds, text):
    """One format for the tick line, its ETA and a metric's time: rounded, and in days past one (a 25,000 kimg ETA on
    the wrong device was '37777h 46m'; in days it shows at once)."""
    assert format_time(seconds) == text
