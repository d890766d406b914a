"""E and G run NHWC activations on CPU (oneDNN's faster layout) without changing their outputs or their outputs' layout."""

import pytest
import torch

from stylegan2.models import SwapEncoder, SwapGenerator, swap_encoder, swap_generator


def tiny_networks() -> tuple[SwapEncoder, SwapGenerator]:
    torch.manual_seed(0)
    codes = dict(spatial_code_ch=4, global_code_ch=16)
    E = SwapEncoder(img_resolution=16, img_channels=3, channel_base=256, channel_max=16, num_downsampling_sp=2, num_downsampling_gl=1,
                    **codes)
    G = SwapGenerator(img_resolution=16, img_channels=3, num_upsampling=2, channel_base=256, channel_max=16, use_noise=False, **codes)
    return E, G


def run(E: SwapEncoder, G: SwapGenerator, img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    structure, texture = E(img)
    return structure, texture, G(structure, texture.roll(1, dims=0))


def test_activations_are_channels_last_on_cpu(one_thread) -> None:
    E, G = tiny_networks()
    layouts = []

    def record(module, inputs, output) -> None:
        if output.ndim == 4 and output.shape[1] > 1 and output.shape[2] > 1:
            layouts.append((type(module).__name__, output.is_contiguous(memory_format=torch.channels_last)))

    blocks = [*E.DownToSpatialCode, *(getattr(G, name) for name in G.block_names)]
    for block in blocks:
        block.register_forward_hook(record)
    run(E, G, torch.rand(4, 3, 16, 16) * 2 - 1)
    assert len(layouts) == len(blocks) and all(nhwc for _, nhwc in layouts), layouts


def test_outputs_match_contiguous_layout(one_thread, monkeypatch: pytest.MonkeyPatch) -> None:
    E, G = tiny_networks()
    img = torch.rand(4, 3, 16, 16) * 2 - 1
    fast = run(E, G, img)
    for module in (swap_encoder, swap_generator):
        monkeypatch.setattr(module, "compute_memory_format", lambda *args, **kwargs: torch.contiguous_format)
    reference = run(E, G, img)
    for a, b in zip(fast, reference):
        assert a.is_contiguous()  # callers get plain NCHW tensors
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
