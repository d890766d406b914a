"""bfloat16 layers (`half_dtype="bfloat16"`, what `--precision bf16` builds) on the CPU.

They compute in bfloat16 where NVIDIA's fp16 layers would, and stay close to the float32 math of the same
weights: bfloat16 keeps 8 bits of mantissa, so outputs and gradients agree to a few parts in a hundred.
"""

import pytest
import torch

from stylegan2.models import Discriminator, Generator

BF16 = {"num_fp16_res": 2, "half_dtype": "bfloat16"}  # the 16 and 32 px blocks of a 32 px network


def generator(**synthesis) -> Generator:
    torch.manual_seed(0)
    return Generator(z_dim=32, c_dim=0, w_dim=32, img_resolution=32, img_channels=3, mapping_kwargs={"num_layers": 2},
                     synthesis_kwargs={"channel_base": 512, "channel_max": 32, **synthesis}).eval()


def discriminator(block_kwargs: dict | None = None, **precision) -> Discriminator:
    torch.manual_seed(0)
    return Discriminator(c_dim=0, img_resolution=32, img_channels=3, channel_base=512, channel_max=32,
                         block_kwargs=block_kwargs, **precision)


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return ((actual - expected).abs().max() / expected.abs().max()).item()


def input_dtypes(module: torch.nn.Module, names: list[str]) -> dict[str, torch.dtype]:
    """Register hooks that record the dtype each named submodule's input arrives in."""
    seen: dict[str, torch.dtype] = {}

    def record(name: str):
        def hook(module: torch.nn.Module, args: tuple) -> None:
            seen.setdefault(name, args[0].dtype)
        return hook

    for name in names:
        module.get_submodule(name).register_forward_pre_hook(record(name))
    return seen


def test_bfloat16_generator_computes_its_top_blocks_in_bfloat16_close_to_float32():
    reference, G = generator(num_fp16_res=2), generator(**BF16)
    seen = input_dtypes(G.synthesis, ["b4.conv1", "b8.conv1", "b16.conv1", "b32.conv0", "b32.conv1", "b32.torgb"])
    z = torch.randn(4, 32)
    expected = reference(z, None, noise_mode="const")
    actual = G(z, None, noise_mode="const")
    assert seen == {"b4.conv1": torch.float32, "b8.conv1": torch.float32, "b16.conv1": torch.bfloat16,
                    "b32.conv0": torch.bfloat16, "b32.conv1": torch.bfloat16, "b32.torgb": torch.bfloat16}
    assert actual.dtype == torch.float32
    assert relative_error(actual, expected) < 3e-2
    torch.testing.assert_close(G(z, None, noise_mode="const", force_fp32=True), expected, rtol=0, atol=0)


def test_bfloat16_discriminator_logits_and_r1_gradients_are_close_to_float32():
    reference, D = discriminator(num_fp16_res=2), discriminator(num_fp16_res=2, block_kwargs={"half_dtype": "bfloat16"})
    seen = input_dtypes(D, ["b32.conv0", "b16.conv1", "b8.conv0"])
    img = torch.randn(8, 3, 32, 32)
    grads = []
    for net in (reference, D):
        x = img.clone().requires_grad_(True)
        logits = net(x, None)
        (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)  # R1 takes this double backward
        grad.square().sum().backward()
        grads.append((logits.detach(), grad.detach(), {n: p.grad for n, p in net.named_parameters() if p.grad is not None}))
    assert seen == {"b32.conv0": torch.bfloat16, "b16.conv1": torch.bfloat16, "b8.conv0": torch.float32}
    (logits32, grad32, params32), (logits16, grad16, params16) = grads
    assert logits16.dtype == grad16.dtype == torch.float32
    assert relative_error(logits16, logits32) < 3e-2
    assert torch.nn.functional.cosine_similarity(grad16.flatten(), grad32.flatten(), dim=0) > 0.99
    assert params16.keys() == params32.keys() and len(params32) > 10
    for name, p32 in params32.items():  # some are exactly zero in both (biases that do not move R1's gradient)
        assert (params16[name] - p32).norm() <= 0.05 * p32.norm() + 1e-6, name


def test_an_unknown_half_dtype_is_refused_by_name():
    with pytest.raises(ValueError, match="half_dtype must be one of float16, bfloat16, got 'float8'"):
        generator(num_fp16_res=2, half_dtype="float8")
    with pytest.raises(ValueError, match="half_dtype must be one of"):
        discriminator(num_fp16_res=2, block_kwargs={"half_dtype": "int8"})
