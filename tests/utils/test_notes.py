"""Library warnings point at the user's own line, however deep in the package they are raised."""

import warnings

import numpy as np
import PIL.Image

from stylegan2.data import open_dataset
from stylegan2.utils.notes import warn


def test_a_library_warning_names_the_callers_line(tmp_path):
    for i in range(2):
        PIL.Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / f"{i}.png")
    (tmp_path / "photo.heic").write_bytes(b"not read here")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        open_dataset(tmp_path)  # the note is raised several calls down, in stylegan2.data.files
    assert [w.filename for w in caught] == [__file__], [(w.filename, str(w.message)) for w in caught]
    assert "photo.heic" not in str(caught[0].message) and "1 .heic file(s)" in str(caught[0].message)


def test_warn_called_from_outside_the_package_names_that_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn("a note", DeprecationWarning)
    assert caught[0].filename == __file__ and caught[0].category is DeprecationWarning
