"""Non-finite gradients: the fused verdict, NVIDIA's replacement, verdicts read a step late, and the stop of a phase
whose gradients stay non-finite."""

import pytest
import torch

from stylegan2.training.finite import MAX_NON_FINITE_STEPS, FiniteWatch, NonFiniteError, finite_flag, replace_non_finite_


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


def test_non_finite_gradients_are_replaced_as_nvidias_loop_replaces_them():
    """NVIDIA: misc.nan_to_num(param.grad, nan=0, posinf=1e5, neginf=-1e5, out=param.grad) before each opt.step()."""
    grads = [torch.tensor([1.0, float("nan"), float("inf"), -float("inf"), 3e38]), torch.zeros(0), torch.tensor([[2.0, float("nan")]])]
    expected = [torch.nan_to_num(g, nan=0.0, posinf=1e5, neginf=-1e5) for g in grads]
    watch = FiniteWatch()
    watch.watch("phase Gmain", grads)
    for g, e in zip(grads, expected):
        assert torch.equal(g, e)
    assert grads[0].tolist() == torch.tensor([1.0, 0.0, 1e5, -1e5, 3e38]).tolist()  # in place; finite entries kept however large
    watch.check()
    assert watch.take_replaced() == [(0, "phase Gmain")] and watch.take_replaced() == []


def test_replacement_keeps_a_channels_last_gradient_in_place():
    grad = torch.randn(2, 3, 4, 4).to(memory_format=torch.channels_last)
    grad[1, 2, 3, 0] = float("nan")
    storage = grad.data_ptr()
    replace_non_finite_([grad])
    assert grad.data_ptr() == storage and grad.is_contiguous(memory_format=torch.channels_last) and grad[1, 2, 3, 0] == 0


def test_check_reads_only_the_steps_before_and_stops_a_phase_that_stays_non_finite():
    nan = float("nan")
    streak = range(4, 4 + MAX_NON_FINITE_STEPS)
    watch = watched({3: [("phase Gmain", 1.0), ("phase Dmain", 1.0)],
                     **{step: [("phase Gmain", 1.0), ("phase Dmain", nan)] for step in streak}})
    watch.check(before=streak[-1])  # one step short of the limit: the steps are replaced, the run goes on
    assert watch.take_replaced() == [(step, "phase Dmain") for step in streak[:-1]]
    with pytest.raises(NonFiniteError, match=rf"^non-finite loss or gradients in phase Dmain in {MAX_NON_FINITE_STEPS} "
                                             r"of its steps in a row$") as err:
        watch.check()
    assert err.value.step == 4  # where the streak began
    watch.check()  # what was pending is dropped with the error: a stopped run is not checked twice


def test_a_finite_step_ends_a_streak_and_phases_count_apart():
    nan = float("nan")
    steps = {}
    for step in range(3 * MAX_NON_FINITE_STEPS):
        gmain = nan if step % MAX_NON_FINITE_STEPS else 1.0  # never MAX in a row: a finite step in between
        dreg = nan if step % 4 == 0 else None  # a lazy phase, bad every time it runs, but not yet MAX times
        lazy = dreg is not None and step < 4 * (MAX_NON_FINITE_STEPS - 1)
        steps[step] = [("phase Gmain", gmain)] + ([("phase Dreg", dreg)] if lazy else [])
    watch = watched(steps)
    watch.check()
    assert len(watch.take_replaced()) == sum(1 for entries in steps.values() for _, v in entries if v != 1.0)


def test_the_verdict_of_the_step_under_way_stays_pending_until_read():
    watch = watched({step: [("phase Dreg", float("inf"))] for step in range(MAX_NON_FINITE_STEPS)})
    watch.check(before=MAX_NON_FINITE_STEPS - 1)  # the last bad step is the one under way
    with pytest.raises(NonFiniteError) as err:
        watch.check()
    assert err.value.step == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA's multi-tensor norm kernel: needs a CUDA GPU")
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_finite_flag_on_cuda_finds_a_bad_entry_in_large_tensors(bad):
    """On CUDA _foreach_norm is a multi-block kernel with its own reductions: NaN must survive every stage of them."""
    for n in (7, 65_537, 4_000_003):
        for position in (0, n // 2, n - 1):
            t = torch.zeros(n, device="cuda")
            t[position] = bad
            assert not bool(finite_flag([torch.ones(3, device="cuda"), t])), (n, position)
