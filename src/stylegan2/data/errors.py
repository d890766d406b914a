"""The one error class of the data layer, so callers can catch dataset problems specifically."""


class DatasetError(ValueError):
    """A dataset cannot be used as given; the message names the file and the fix."""
