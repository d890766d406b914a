"""Small text helpers of messages: counts with their noun, number lists in the CLI's range syntax."""

import pytest

from stylegan2.utils.text import number_ranges, plural


@pytest.mark.parametrize("numbers, text", [([], ""), ([3], "3"), ([0, 1, 2, 5], "0-2,5"), ([4, 5, 7, 8, 9], "4-5,7-9")])
def test_number_ranges_are_what_seeds_read(numbers, text):
    assert number_ranges(numbers) == text


def test_plural_counts_with_their_noun():
    assert (plural(1, "cell"), plural(4, "cell"), plural(10_000, "image")) == ("1 cell", "4 cells", "10,000 images")
