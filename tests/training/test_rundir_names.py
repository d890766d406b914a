"""Float options in a run's name read back as the value given: a name is copied into commands."""

from stylegan2.training.config import resolve_options
from stylegan2.training.rundir import run_desc, run_kind


def test_a_float_option_is_named_in_full():
    options = resolve_options("builtin:shapes?n=64", "cpu", 16, 1, {"gamma": 1.23456789, "glr": 0.00123456789, "kimg": 1000})
    desc = run_desc("shapes", options)
    assert desc == "shapes-cpu-gamma1.23456789-kimg1000-glr0.00123456789"
    assert run_kind("shapes", "cpu").fullmatch(desc)
