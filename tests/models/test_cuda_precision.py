"""The networks' CUDA paths: fp16 and bf16 layers (with conv_clamp and channels_last) agree with the fp32 math on CPU.

On CPU the fp16 layers run in fp32 (as NVIDIA's do), so the CPU output of the same weights is the reference;
fp16 storage and accumulation bound the difference to a few parts in a thousand of the output's range.
These tests run wherever torch sees a GPU and skip elsewhere.
"""

import copy

import pytest
import torch

from stylegan2.models import Discriminator, Generator

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA paths: needs a CUDA GPU")

PRECISION = {"num_fp16_res": 2, "conv_clamp": 256}


def generator(**synthesis) -> Generator:
    return Generator(z_dim=32, c_dim=0, w_dim=32, img_resolution=32, img_channels=3, mapping_kwargs={"num_layers": 2},
                     synthesis_kwargs={"channel_base": 512, "channel_max": 32, **synthesis}).eval()


def discriminator(**precision) -> Discriminator:
    return Discriminator(c_dim=0, img_resolution=32, img_channels=3, channel_base=512, channel_max=32, **precision)


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return ((actual.float().cpu() - expected).abs().max() / expected.abs().max()).item()


def test_fp32_generator_on_cuda_matches_cpu():
    G = generator()
    z = torch.randn(4, 32)
    expected = G(z, None, noise_mode="const")
    actual = copy.deepcopy(G).cuda()(z.cuda(), None, noise_mode="const")
    torch.testing.assert_close(actual.cpu(), expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("channels_last", [False, True])
def test_fp16_generator_on_cuda_is_close_to_its_fp32_math(channels_last):
    G = generator(**PRECISION, fp16_channels_last=channels_last)
    z = torch.randn(4, 32)
    expected = G(z, None, noise_mode="const")
    actual = copy.deepcopy(G).cuda()(z.cuda(), None, noise_mode="const")
    assert actual.dtype == torch.float32 and torch.isfinite(actual).all()
    assert relative_error(actual, expected) < 2e-2


@pytest.mark.parametrize("channels_last", [False, True])
def test_fp16_discriminator_on_cuda_is_close_and_its_gradients_finite(channels_last):
    D = discriminator(**PRECISION, block_kwargs={"fp16_channels_last": channels_last})
    img = torch.randn(4, 3, 32, 32)
    expected = D(img, None)
    D_cuda = copy.deepcopy(D).cuda()
    img_cuda = img.cuda().requires_grad_(True)
    logits = D_cuda(img_cuda, None)
    assert logits.dtype == torch.float32
    assert relative_error(logits.detach(), expected) < 2e-2
    (grad,) = torch.autograd.grad(logits.sum(), img_cuda, create_graph=True)  # R1 takes this double backward
    grad.square().sum().backward()
    assert torch.isfinite(grad).all()
    assert all(torch.isfinite(p.grad).all() for p in D_cuda.parameters() if p.grad is not None)


def test_conv_clamp_keeps_fp16_activations_finite_for_huge_inputs():
    D = discriminator(**PRECISION).cuda()
    logits = D(torch.full((2, 3, 32, 32), 1e4, device="cuda"), None)
    assert torch.isfinite(logits).all()


def test_bf16_networks_on_cuda_are_close_to_their_fp32_math():
    G = generator(num_fp16_res=2, half_dtype="bfloat16")
    z = torch.randn(4, 32)
    expected = G(z, None, noise_mode="const", force_fp32=True)
    actual = copy.deepcopy(G).cuda()(z.cuda(), None, noise_mode="const")
    assert actual.dtype == torch.float32 and relative_error(actual, expected) < 3e-2
    D = discriminator(num_fp16_res=2, block_kwargs={"half_dtype": "bfloat16"})
    img = torch.randn(4, 3, 32, 32)
    img_cuda = img.cuda().requires_grad_(True)
    logits = copy.deepcopy(D).cuda()(img_cuda, None)
    assert relative_error(logits.detach(), D(img, None, force_fp32=True)) < 3e-2
    (grad,) = torch.autograd.grad(logits.sum(), img_cuda, create_graph=True)
    grad.square().sum().backward()
    assert torch.isfinite(grad).all()
