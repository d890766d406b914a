"""OptionError: an argument that is wrong in itself (exit status 2 on the command line), of whatever kind it was."""

import pytest

from stylegan2.data.errors import DatasetError, DatasetOptionError
from stylegan2.data.tool import convert_dataset
from stylegan2.utils.device import DeviceError, select_device
from stylegan2.utils.errors import OptionError


def test_an_option_error_of_the_data_layer_is_caught_as_a_dataset_error():
    with pytest.raises(DatasetError, match="^--max-images must be >= 1, got 0$") as raised:
        convert_dataset("builtin:shapes", "out.zip", max_images=0)
    assert isinstance(raised.value, OptionError) and type(raised.value) is DatasetOptionError


def test_a_device_name_that_names_none_is_an_option_error():
    with pytest.raises(DeviceError, match="--device gpu: not a device") as raised:
        select_device("gpu")
    assert isinstance(raised.value, OptionError)
