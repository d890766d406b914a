"""Errors in the arguments themselves, told apart from failures: the command line exits 2 for these (a usage error, as
click does for its own checks) and 1 for a file that cannot be read, a failed download or a network that does not fit."""


class OptionError(ValueError):
    """An option or argument that is wrong whatever any file holds (a backwards range, a missing companion option)."""
