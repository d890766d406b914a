"""`info` spells float options as they were given: its `given:` line is copied into commands."""

from stylegan2.io.info import _as_options, _as_pairs


def test_float_options_are_spelled_in_full():
    values = {"gamma": 1.23456789, "glr": 0.00123456789, "kimg": 1000.0, "target": 0.7, "lr": 1e-05}
    assert _as_options(values) == "--gamma 1.23456789 --glr 0.00123456789 --kimg 1000 --target 0.7 --lr 1e-05"
    assert _as_pairs(values) == "gamma=1.23456789 glr=0.00123456789 kimg=1000 target=0.7 lr=1e-05"
