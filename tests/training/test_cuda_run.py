"""A training run on CUDA with the official precision settings (fp16 layers, conv_clamp, channels_last), and in bf16.

A few minibatches end to end: the loss phases, lazy regularization, ADA, EMA and the snapshot all take the
GPU path; the snapshot loads back and generates finite images. Runs wherever torch sees a GPU, skips elsewhere.
"""

import pytest
import torch

from stylegan2.io import load_checkpoint
from stylegan2.training.config import resolve_options
from stylegan2.training.loop import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA training: needs a CUDA GPU")


@pytest.mark.parametrize("loss, precision", [("stylegan2", "fp16"), ("r3gan", "fp16"), ("stylegan2", "bf16")])
def test_a_mixed_precision_run_on_cuda_trains_and_snapshots(tmp_path, loss, precision):
    options = resolve_options("builtin:shapes?n=32", "cpu", 32, 1, dict(
        outdir=str(tmp_path), clusters=0, pack=1, batch=8, workers=0, aug="ada", kimg=1, tick=1, grid=(2, 2),
        cbase=512, cmax=32, precision=precision, nhwc=True, loss=loss))
    lines: list[str] = []
    run_dir = train(options, device="cuda", max_steps=4, log=lines.append)
    log = "\n".join(lines)
    assert "on 1 x cuda" in log and "gpumem" in log
    snapshot = sorted(run_dir.glob("network-snapshot-*.safetensors"))[-1]
    networks = load_checkpoint(snapshot).networks
    G = networks["G_ema"].cuda().eval()
    assert G.init_kwargs["synthesis_kwargs"]["num_fp16_res"] == 4
    with torch.no_grad():
        img = G(torch.randn(4, G.z_dim, device="cuda"), None)
    assert img.shape == (4, 3, 32, 32) and torch.isfinite(img).all()
    for name in ("G", "D"):
        assert all(torch.isfinite(p).all() for p in networks[name].parameters()), name


@pytest.mark.parametrize("aug, clusters, most", [
    ("noaug", 0, 1),  # the previous step's non-finite verdict
    # with augmentation, also the geometric transforms' padding, read once per D call (Gmain 1, Dmain 2, Dreg 1), as
    # NVIDIA's pipe reads it; p and which images drew a transform are not read (the whole batch is transformed)
    ("fixed", 4, 5),
])
def test_a_training_step_on_cuda_waits_for_the_gpu_only_where_it_must(tmp_path, monkeypatch, aug, clusters, most):
    """Statistics stay on the GPU until the tick, images and labels go up without a wait (pinned), and the values read
    back per step are the previous step's non-finite verdict and the augmentation's padding
    (docs/experiments/speed.md#syncs-per-step). Clusters make the labels real (not [N, 0]) uploads."""
    import warnings

    from stylegan2.training.session import TrainingSession

    counts: list[int] = []
    step = TrainingSession._step

    def counted(self, hooks):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                step(self, hooks)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        counts.append(sum("synchronizing" in str(w.message) for w in caught))

    monkeypatch.setattr(TrainingSession, "_step", counted)
    options = resolve_options("builtin:shapes?n=32", "cpu", 32, 1, dict(
        outdir=str(tmp_path), clusters=clusters, pack=1, batch=8, workers=0, aug=aug, p=0.5 if aug == "fixed" else None,
        kimg=1, tick=1, grid=(2, 2), cbase=512, cmax=32, precision="fp16", nhwc=True))
    train(options, device="cuda", max_steps=18, log=lambda line: None)
    assert len(counts) == 18 and max(counts[1:]) <= most, counts
    if aug == "noaug":
        assert counts[0] == 0
