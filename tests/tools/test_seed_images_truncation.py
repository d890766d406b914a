"""seed_images says, as generate_images does, that truncating a file without an average w uses an estimate."""

import pytest
import torch

from stylegan2.tools.generate import seed_images


def test_seed_images_truncating_a_rosinality_file_says_the_average_w_is_estimated(tiny_generator, tmp_path,
                                                                                   rosinality_layout):
    G = tiny_generator()
    torch.save({"g_ema": rosinality_layout.generator_state(G)}, tmp_path / "ros.pt")  # a training file: no latent_avg
    with pytest.warns(UserWarning, match=r"ros.pt: stores no average w; truncation pulls toward one estimated"):
        seed_images(tmp_path / "ros.pt", [0], truncation_psi=0.7)
