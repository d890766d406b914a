"""Swapping Autoencoder networks survive our checkpoint format: same classes, same outputs."""

import torch

import stylegan2.io
from stylegan2.models import CooccurrenceDiscriminator, SwapEncoder, SwapGenerator


def test_save_then_load_gives_identical_outputs(tmp_path):
    E = SwapEncoder(img_resolution=16, img_channels=3, channel_base=128, channel_max=16, num_downsampling_sp=2,
                    num_downsampling_gl=1, spatial_code_ch=4, global_code_ch=24)
    G = SwapGenerator(img_resolution=16, img_channels=3, spatial_code_ch=4, global_code_ch=24, num_upsampling=2,
                      channel_base=128, channel_max=16)
    Dpatch = CooccurrenceDiscriminator(img_channels=3, patch_size=8, channel_base=64, channel_max=16)
    with torch.no_grad():  # non-zero noise strengths, so the stored constant noise matters
        for layer in G.modules():
            if hasattr(layer, "noise_strength"):
                layer.noise_strength.fill_(0.3)
    path = stylegan2.io.save_network(tmp_path / "swapae.safetensors", {"E": E, "G": G, "Dpatch": Dpatch})

    loaded = stylegan2.io.load_network(path)
    checkpoint = stylegan2.io.load_checkpoint(path)
    assert set(loaded) == {"E", "G", "Dpatch"}
    assert type(checkpoint.networks["G"]) is SwapGenerator
    E2, G2, Dpatch2 = loaded["E"], loaded["G"], loaded["Dpatch"]
    assert (type(E2), type(G2), type(Dpatch2)) == (SwapEncoder, SwapGenerator, CooccurrenceDiscriminator)

    E.eval(), G.eval(), Dpatch.eval()
    img = torch.rand(2, 3, 16, 16) * 2 - 1
    patches, reference = torch.randn(2, 3, 3, 8, 8), torch.randn(2, 2, 3, 8, 8)
    with torch.no_grad():
        for a, b in zip(E(img), E2(img)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
        torch.testing.assert_close(G(*E(img)), G2(*E2(img)), rtol=0, atol=0)
        torch.testing.assert_close(Dpatch(patches, reference), Dpatch2(patches, reference), rtol=0, atol=0)


def test_info_describes_a_swapae_checkpoint(tmp_path):
    from stylegan2.io.info import checkpoint_info, format_info

    E = SwapEncoder(img_resolution=16, img_channels=3, channel_base=128, channel_max=16, num_downsampling_sp=2,
                    num_downsampling_gl=1, spatial_code_ch=4, global_code_ch=24)
    G = SwapGenerator(img_resolution=16, img_channels=3, spatial_code_ch=4, global_code_ch=24, num_upsampling=2,
                      channel_base=128, channel_max=16)
    path = stylegan2.io.save_network(tmp_path / "swapae.safetensors", {"E": E, "G": G})
    info = checkpoint_info(path)
    assert (info["resolution"], info["img_channels"], info["structure_code"], info["texture_code"]) == (16, 3, [4, 4, 4], 24)
    assert "codes:       structure 4x4x4, texture 24" in format_info(info)
