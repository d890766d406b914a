"""The ADA controller and the --aug modes: p follows D's overfitting, clamps, resumes, syncs processes."""

import json
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from stylegan2.training.ada import AdaController, AugmentConfig, ada_step, build_augmentation
from stylegan2.training.augment import AugmentPipe, augment_pipe_from_preset
from stylegan2.training.diffaugment import DiffAugment

BATCH = 64
STEP = ada_step(BATCH)  # 64 * 4 / 500_000


def logits_with_rate(r_t: float, n: int = 100) -> torch.Tensor:
    """Synthetic D outputs on reals whose mean sign is `r_t`."""
    positive = round(n * (1 + r_t) / 2)
    return torch.cat([torch.full([positive], 2.5), torch.full([n - positive], -1.5)])


def controller(p: float = 0.0, **kwargs) -> AdaController:
    return AdaController(augment_pipe_from_preset("bgc", p=p), **kwargs)


def run_interval(ctrl: AdaController, logits: torch.Tensor, first_batch: int = 1) -> None:
    """Four minibatches (one ADA interval), each with D scoring `logits` on reals."""
    for batch_idx in range(first_batch, first_batch + 4):
        ctrl.accumulate(logits)
        ctrl.adjust(batch_idx, BATCH)


def test_step_size_is_batch_times_interval_over_ada_kimg():
    assert STEP == pytest.approx(64 * 4 / (500 * 1000))


def test_p_rises_when_d_is_confident_on_reals():
    ctrl = controller(p=0.3)
    run_interval(ctrl, logits_with_rate(0.9))
    assert ctrl.r_t == pytest.approx(0.9)
    assert ctrl.p == pytest.approx(0.3 + STEP)


def test_p_falls_when_d_is_unsure_on_reals():
    ctrl = controller(p=0.3)
    run_interval(ctrl, logits_with_rate(0.2))
    assert ctrl.p == pytest.approx(0.3 - STEP)


def test_p_stays_when_r_t_equals_the_target():
    ctrl = controller(p=0.3)
    run_interval(ctrl, logits_with_rate(0.6))
    assert ctrl.p == pytest.approx(0.3)


def test_p_changes_only_every_ada_interval_minibatches():
    ctrl = controller(p=0.3)
    for batch_idx in range(1, 4):
        ctrl.accumulate(logits_with_rate(1.0))
        assert not ctrl.adjust(batch_idx, BATCH)
        assert ctrl.p == pytest.approx(0.3) and ctrl.r_t is None
    ctrl.accumulate(logits_with_rate(1.0))
    assert ctrl.adjust(4, BATCH)


def test_r_t_is_the_mean_sign_over_the_interval():
    ctrl = controller()
    for batch_idx, rate in enumerate([1.0, 1.0, -1.0, 0.2], start=1):
        ctrl.accumulate(logits_with_rate(rate))
        ctrl.adjust(batch_idx, BATCH)
    assert ctrl.r_t == pytest.approx((1 + 1 - 1 + 0.2) / 4)


def test_batches_without_real_logits_are_ignored():
    ctrl = controller(p=0.3)
    for batch_idx in range(1, 5):
        ctrl.accumulate(None)
        ctrl.adjust(batch_idx, BATCH)
    assert ctrl.p == pytest.approx(0.3) and ctrl.r_t is None


def test_p_clamps_at_zero():
    ctrl = controller(p=0.0)
    run_interval(ctrl, logits_with_rate(-1.0))
    assert ctrl.p == 0.0


def test_p_clamps_at_one():
    ctrl = controller(p=1.0 - STEP / 2)
    run_interval(ctrl, logits_with_rate(1.0))
    assert ctrl.p == 1.0


def test_p_settles_where_d_meets_the_target():
    """A D whose confidence drops as augmentation grows (r_t = 1 - 2p) balances at p = 0.2."""
    ctrl = controller(p=0.0, ada_kimg=2)  # batches of 4: steps of 4 * 4 / 2000 = 0.008
    history = []
    for interval in range(200):
        logits = logits_with_rate(1 - 2 * ctrl.p, n=1000)
        for batch_idx in range(interval * 4 + 1, interval * 4 + 5):
            ctrl.accumulate(logits)
            ctrl.adjust(batch_idx, 4)
        history.append(ctrl.p)
    assert all(abs(p - 0.2) <= 0.02 for p in history[-50:])


def test_state_round_trips_for_an_exact_resume():
    ctrl = controller(p=0.3)
    run_interval(ctrl, logits_with_rate(0.9))
    ctrl.accumulate(logits_with_rate(0.7))  # one batch of a new interval is pending
    ctrl.adjust(5, BATCH)
    state = json.loads(json.dumps(ctrl.state_dict()))

    resumed = controller(p=0.0)
    resumed.load_state_dict(state)
    assert resumed.p == ctrl.p and resumed.r_t == ctrl.r_t
    for c in (ctrl, resumed):
        for batch_idx in range(6, 9):
            c.accumulate(logits_with_rate(0.1))
            c.adjust(batch_idx, BATCH)
    assert resumed.r_t == ctrl.r_t == pytest.approx((0.7 + 3 * 0.1) / 4)
    assert resumed.p == ctrl.p


def test_config_defaults_are_the_official_ones():
    config = AugmentConfig()
    assert (config.mode, config.augpipe, config.p, config.target, config.ada_kimg, config.ada_interval) == ("ada", "bgc", 0.0, 0.6, 500, 4)


@pytest.mark.parametrize("field, value, message", [
    ("mode", "auto", "--aug must be one of"),
    ("augpipe", "bgcx", "--augpipe must be one of"),
    ("p", 1.5, "--p must be between 0 and 1"),
    ("target", -0.1, "--target must be between 0 and 1"),
    ("ada_kimg", 0, "--ada-kimg must be positive"),
    ("ada_interval", 0, "ada_interval"),
])
def test_config_rejects_bad_options_by_name(field, value, message):
    with pytest.raises(ValueError, match=message):
        AugmentConfig(**{field: value})


def test_noaug_builds_no_pipe():
    aug = build_augmentation(AugmentConfig(mode="noaug"))
    assert aug.pipe is None and aug.controller is None and aug.p == 0.0 and aug.r_t is None


def test_fixed_keeps_p_whatever_d_does():
    aug = build_augmentation(AugmentConfig(mode="fixed", augpipe="bg", p=0.35))
    assert isinstance(aug.pipe, AugmentPipe) and aug.controller is None
    for batch_idx in range(1, 9):
        aug.accumulate(logits_with_rate(1.0))
        aug.adjust(batch_idx, BATCH)
    assert aug.p == pytest.approx(0.35) and aug.r_t is None


def test_ada_builds_the_preset_with_a_controller():
    aug = build_augmentation(AugmentConfig(mode="ada", augpipe="bgcf", p=0.1, target=0.5))
    assert isinstance(aug.pipe, AugmentPipe) and aug.pipe.imgfilter == 1 and aug.pipe.hue == 1
    assert aug.controller.target == 0.5 and aug.p == pytest.approx(0.1)
    assert not aug.pipe.p.requires_grad


def test_diffaug_builds_diffaugment():
    aug = build_augmentation(AugmentConfig(mode="diffaug"))
    assert isinstance(aug.pipe, DiffAugment) and aug.controller is None and aug.p == 1.0


def test_augmentation_state_round_trips():
    aug = build_augmentation(AugmentConfig(mode="ada", p=0.2))
    for batch_idx in range(1, 6):
        aug.accumulate(logits_with_rate(1.0))
        aug.adjust(batch_idx, BATCH)
    resumed = build_augmentation(AugmentConfig(mode="ada"))
    resumed.load_state_dict(json.loads(json.dumps(aug.state_dict())))
    assert resumed.p == aug.p and resumed.r_t == aug.r_t
    assert resumed.controller.state_dict() == aug.controller.state_dict()


def _distributed_worker(rank: int, store: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        ctrl = controller(p=0.3)
        rate = 1.0 if rank == 0 else 0.0  # rank 0 sees r_t = 1, rank 1 sees 0: together 0.5 < 0.6
        run_interval(ctrl, logits_with_rate(rate))
        torch.save({"p": ctrl.p, "r_t": ctrl.r_t}, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_processes_pool_their_signs_and_move_p_together(tmp_path):
    mp.spawn(_distributed_worker, args=(str(tmp_path / "store"), str(tmp_path)), nprocs=2, join=True)
    results = [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(2)]
    assert results[0] == results[1]
    assert results[0]["r_t"] == pytest.approx(0.5)
    assert results[0]["p"] == pytest.approx(0.3 - STEP)
