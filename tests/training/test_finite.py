"""The non-finite check: the fused verdict, and reading verdicts a step late, in order, once each."""

import pytest
import torch

from stylegan2.training.finite import FiniteWatch, NonFiniteError, finite_flag


def per_tensor_finite(tensors: list[torch.Tensor]) -> bool:
    """The check written the plain way, one tensor at a time."""
    return all(bool(torch.isfinite(t).all()) for t in tensors)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_finite_flag_finds_one_bad_entry_anywhere(bad):
    gen = torch.Generator().manual_seed(0)
    tensors = [torch.randn(shape, generator=gen) for shape in ((7, 3, 3, 3), (5,), (1,), (4, 9))]
    assert bool(finite_flag(tensors)) and per_tensor_finite(tensors)
    for which, tensor in enumerate(tensors):
        for position in (0, tensor.numel() // 2, tensor.numel() - 1):
            poisoned = [t.clone() for t in tensors]
            poisoned[which].view(-1)[position] = bad
            assert not bool(finite_flag(poisoned)) and not per_tensor_finite(poisoned), (which, position)


def test_finite_flag_takes_empty_tensors_huge_values_and_mixed_dtypes():
    assert bool(finite_flag([]))
    assert bool(finite_flag([torch.zeros(0), torch.zeros(0, 3)]))
    assert bool(finite_flag([torch.full((3,), 3e38), torch.full((2,), -3e38)]))  # finite, however large
    half = torch.randn(6).to(torch.bfloat16)
    assert bool(finite_flag([torch.randn(4), half, torch.zeros(0)]))
    half[3] = float("nan")
    assert not bool(finite_flag([torch.randn(4), half, torch.zeros(0)]))
    assert finite_flag([torch.randn(4)]).shape == () and finite_flag([torch.randn(4)]).dtype == torch.bool


def watched(steps: dict[int, list[tuple[str, float]]]) -> FiniteWatch:
    """A watch given, per step, (what, value) pairs as one-entry gradients."""
    watch = FiniteWatch()
    for step, entries in steps.items():
        watch.step = step
        for what, value in entries:
            watch.watch(what, [torch.ones(2), torch.tensor([value])])
    return watch


def test_check_reads_only_the_steps_before_and_names_the_first_bad_phase():
    nan = float("nan")
    watch = watched({3: [("phase Gmain", 1.0), ("phase Dmain", 1.0)], 4: [("phase Gmain", 1.0), ("phase Dmain", nan)],
                     5: [("phase Gmain", nan)]})
    watch.check(before=4)  # step 3 is finite; steps 4 and 5 are not read yet
    with pytest.raises(NonFiniteError, match=r"^non-finite loss or gradients in phase Dmain$") as err:
        watch.check(before=5)
    assert err.value.step == 4
    watch.check()  # what was pending is dropped with the error: a stopped run is not checked twice


def test_check_of_everything_finds_the_newest_step_and_each_verdict_is_read_once():
    watch = watched({7: [("phase Dreg", float("inf"))]})
    watch.check(before=7)  # the step under way stays pending
    with pytest.raises(NonFiniteError) as err:
        watch.check()
    assert err.value.step == 7
    watch = watched({0: [("phase Gmain", 1.0)], 1: [("phase Gmain", 1.0)]})
    watch.check()
    watch.step = 2
    watch.watch("phase Gmain", [torch.tensor([float("nan")])])
    with pytest.raises(NonFiniteError) as err:
        watch.check()
    assert err.value.step == 2
