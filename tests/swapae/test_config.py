"""SwapAE's training options: the checks it shares with the GAN trainer's."""

from __future__ import annotations

import pytest

from stylegan2.swapae.config import SwapAEOptions, validate_swapae_options
from stylegan2.training.config import check_batch_split
from stylegan2.utils.errors import OptionError


@pytest.mark.parametrize("batch, batch_gpu, num_gpus, message", [
    (6, 2, 4, r"^--batch 6 must be a multiple of the number of GPUs/processes \(4\)$"),
    (8, 3, 2, r"^--batch-gpu 3 must divide the per-process batch 4 \(--batch / processes\)$"),
    (8, 8, 2, r"^--batch-gpu 8 must divide the per-process batch 4 \(--batch / processes\)$"),
])
def test_swapae_refuses_a_batch_split_as_the_gan_trainer_does(batch, batch_gpu, num_gpus, message):
    with pytest.raises(OptionError, match=message):
        check_batch_split(batch, batch_gpu, num_gpus)
    options = SwapAEOptions(data="builtin:shapes", batch=batch, batch_gpu=batch_gpu, num_gpus=num_gpus)
    with pytest.raises(OptionError, match=message):
        validate_swapae_options(options)


def test_an_even_split_passes():
    check_batch_split(8, 2, 2)
    validate_swapae_options(SwapAEOptions(data="builtin:shapes", batch=8, batch_gpu=2, num_gpus=2))
