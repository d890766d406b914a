"""Generator behaviour: shapes, architectures, truncation, w_avg tracking, noise modes."""

import copy

import pytest
import torch

from stylegan2.models import Generator


def tiny_generator(**overrides) -> Generator:
    kwargs = dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3,
                  mapping_kwargs={"num_layers": 2}, synthesis_kwargs={"channel_base": 128, "channel_max": 16})
    kwargs.update(overrides)
    return Generator(**kwargs)


def test_an_unknown_architecture_names_the_known_ones():
    with pytest.raises(ValueError, match="synthesis architecture must be one of orig, skip, resnet, got 'unet'"):
        tiny_generator(synthesis_kwargs={"channel_base": 128, "channel_max": 16, "architecture": "unet"})


@pytest.mark.parametrize("architecture", ["skip", "orig", "resnet"])
@pytest.mark.parametrize("channels", [1, 3])
def test_every_architecture_makes_images_of_the_right_shape(architecture, channels):
    G = tiny_generator(img_channels=channels, synthesis_kwargs={"channel_base": 128, "channel_max": 16, "architecture": architecture})
    img = G(torch.randn(2, 16), None)
    assert img.shape == (2, channels, 16, 16)
    assert torch.isfinite(img).all()


@pytest.mark.parametrize("resolution,num_ws", [(4, 2), (8, 4), (32, 8), (1024, 18)])
def test_num_ws_follows_the_resolution(resolution, num_ws):
    G = tiny_generator(img_resolution=resolution, synthesis_kwargs={"channel_base": 4096, "channel_max": 4})
    assert G.num_ws == num_ws


def test_invalid_resolution_is_rejected_with_the_rule():
    with pytest.raises(ValueError, match="power of two from 4 to 1024"):
        tiny_generator(img_resolution=48)


def test_truncation_psi_zero_gives_w_avg_everywhere():
    G = tiny_generator().eval()
    with torch.no_grad():
        G.mapping.w_avg.normal_()
        ws = G.mapping(torch.randn(3, 16), None, truncation_psi=0)
    torch.testing.assert_close(ws, G.mapping.w_avg.expand(3, G.num_ws, 16))


def test_truncation_cutoff_only_truncates_the_first_ws():
    G = tiny_generator().eval()
    z = torch.randn(2, 16)
    with torch.no_grad():
        full = G.mapping(z, None)
        cut = G.mapping(z, None, truncation_psi=0.0, truncation_cutoff=2)
    torch.testing.assert_close(cut[:, 2:], full[:, 2:])
    torch.testing.assert_close(cut[:, :2], G.mapping.w_avg.expand(2, 2, 16))


def test_w_avg_is_updated_only_when_asked():
    G = tiny_generator()
    z = torch.randn(8, 16)
    G.mapping(z, None)
    assert torch.count_nonzero(G.mapping.w_avg) == 0
    ws = G.mapping(z, None, update_emas=True)
    torch.testing.assert_close(G.mapping.w_avg, ws[:, 0].mean(0) * (1 - 0.995))


def test_noise_modes():
    G = tiny_generator().eval()
    with torch.no_grad():
        for name, buf in G.named_parameters():
            if name.endswith("noise_strength"):
                buf.fill_(0.5)
        ws = G.mapping(torch.randn(2, 16), None)
        const = [G.synthesis(ws, noise_mode="const") for _ in range(2)]
        rand = [G.synthesis(ws, noise_mode="random") for _ in range(2)]
        none = G.synthesis(ws, noise_mode="none")
    torch.testing.assert_close(const[0], const[1])
    assert not torch.allclose(rand[0], rand[1])
    assert not torch.allclose(none, const[0])
    with pytest.raises(ValueError, match="noise_mode"):
        G.synthesis(ws, noise_mode="fixed")


def test_fused_and_non_fused_generators_agree_with_gradients():
    G = tiny_generator()
    ws = G.mapping(torch.randn(2, 16), None).detach().requires_grad_(True)
    a = G.synthesis(ws, noise_mode="const", fused_modconv=True)
    b = G.synthesis(ws, noise_mode="const", fused_modconv=False)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    ga, = torch.autograd.grad(a.sum(), ws)
    gb, = torch.autograd.grad(b.sum(), ws)
    torch.testing.assert_close(ga, gb, rtol=1e-4, atol=1e-4)


def test_conditional_generator_needs_a_label_of_the_right_size():
    G = tiny_generator(c_dim=5)
    c = torch.nn.functional.one_hot(torch.tensor([0, 3]), 5).float()
    assert G(torch.randn(2, 16), c).shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match=r"c \(class label\) must have shape \[batch, 5\]"):
        G(torch.randn(2, 16), None)


def test_fp16_layers_run_in_fp32_on_cpu_and_keep_clamped_outputs_finite():
    G = tiny_generator(synthesis_kwargs={"channel_base": 128, "channel_max": 16, "num_fp16_res": 2, "conv_clamp": 256})
    img = G(torch.randn(2, 16), None)
    assert img.dtype == torch.float32 and torch.isfinite(img).all()


def test_init_kwargs_rebuild_an_identical_network():
    G = tiny_generator(c_dim=2)
    G2 = type(G)(*G.init_args, **G.init_kwargs)  # as NVIDIA's code rebuilds its networks
    G2.load_state_dict(G.state_dict())
    z, c = torch.randn(2, 16), torch.eye(2)
    torch.testing.assert_close(G.eval()(z, c, noise_mode="const"), G2.eval()(z, c, noise_mode="const"))


def test_a_float64_or_float16_generator_runs_as_nvidias_does():
    """G.double() (a numerics check) and G.half() on CPU failed in demodulation: float32 styles @ float64 weights."""
    G = tiny_generator().eval()
    z = torch.randn(2, 16)
    with torch.no_grad():
        reference = G(z, None, noise_mode="const")
        torch.testing.assert_close(copy.deepcopy(G).double()(z, None, noise_mode="const").float(), reference,
                                   atol=1e-5, rtol=0)
        half = copy.deepcopy(G).half()(z, None, noise_mode="const")
    assert torch.isfinite(half).all() and (half.float() - reference).abs().max() < 0.05
