"""The tools on a generator trained on clusters (--clusters): the cluster comes from the seed unless --class picks it."""

import pytest
import torch
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.explore.settings import SettingsError, parse_gan_settings
from stylegan2.io import save_checkpoint
from stylegan2.models import Generator
from stylegan2.tools.common import seed_latent, seed_ws
from stylegan2.tools.generate import seed_images, synthesize

PRIOR = [0.4, 0.3, 0.2, 0.1]


@pytest.fixture
def clustered_G() -> Generator:
    torch.manual_seed(0)
    return Generator(z_dim=16, c_dim=4, w_dim=16, img_resolution=16, img_channels=3,
                     mapping_kwargs={"num_layers": 2, "c_prior": PRIOR},
                     synthesis_kwargs={"channel_base": 128, "channel_max": 16}).eval()


def test_seeds_draw_their_cluster_and_class_pins_it(clustered_G):
    G = clustered_G
    z = seed_latent(G, 7)
    redrawn, drawn = G.mapping.draw_labels(z)
    torch.testing.assert_close(seed_ws(G, 7), G.mapping(redrawn, drawn), rtol=0, atol=0)
    image = seed_images(G, [7])
    assert (image == synthesize(G, G.mapping(redrawn, drawn), noise_seed=7)).all()
    other = (int(drawn.argmax()) + 1) % 4
    pinned = seed_images(G, [7], class_idx=other)
    assert (pinned == synthesize(G, G.mapping(z, torch.eye(4)[[other]]), noise_seed=7)).all()
    assert not (pinned == image).all()
    clusters = {int(G.mapping.draw_labels(seed_latent(G, s))[1].argmax()) for s in range(40)}
    assert len(clusters) >= 3  # different seeds land in different clusters


def test_generate_cli_needs_no_class_for_a_clustered_network(clustered_G, tmp_path):
    save_checkpoint(tmp_path / "g.safetensors", {"G_ema": clustered_G})
    for extra in ([], ["--class", "2"]):
        out = tmp_path / f"out{len(extra)}"
        result = CliRunner().invoke(main, ["generate", "--network", str(tmp_path / "g.safetensors"), "--seeds", "0-2",
                                           "--outdir", str(out), "--device", "cpu", *extra])
        assert result.exit_code == 0, result.output
        assert len(list(out.glob("seed*.png"))) == 3
    result = CliRunner().invoke(main, ["generate", "--network", str(tmp_path / "g.safetensors"), "--seeds", "0",
                                       "--outdir", str(tmp_path / "x"), "--class", "4", "--device", "cpu"])
    assert result.exit_code != 0 and "--class 4 is out of range: this network has classes 0..3" in result.output


def test_the_explorer_makes_the_cluster_optional_only_for_clustered_networks():
    assert parse_gan_settings({"seed": "3"}, num_ws=6, c_dim=4, num_directions=0, draws_labels=True).class_idx is None
    assert parse_gan_settings({"seed": "3", "class": "1"}, num_ws=6, c_dim=4, num_directions=0, draws_labels=True).class_idx == 1
    with pytest.raises(SettingsError, match="class: missing; this network is conditional"):
        parse_gan_settings({"seed": "3"}, num_ws=6, c_dim=4, num_directions=0)
