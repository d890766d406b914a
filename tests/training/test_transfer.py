"""Transfer learning: `--resume` with another implementation's network file starts from its weights and architecture.

One training step from NVIDIA's pickle fixture and from a small rosinality checkpoint: the snapshot keeps
the file's architecture, its weights have moved from the file's by at most about one Adam step, and the
official fine-tuning adjustments are on.
"""

from __future__ import annotations

import argparse
import json
import types
from pathlib import Path

import pytest
import torch

from stylegan2.io import load_checkpoint
from stylegan2.models import Discriminator, Generator
from stylegan2.training.config import resolve_options
from stylegan2.training.loop import train
from stylegan2.training.networks import keep_file_architecture
from stylegan2.training.resume import _check_continuation

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures"


def fine_tune_one_step(tmp_path: Path, network: Path, resolution: int) -> tuple[Path, list[str]]:
    """One minibatch of transfer learning on builtin:shapes with the cpu preset, unpacked (the file's D takes one image)."""
    options = resolve_options("builtin:shapes?n=16", "cpu", resolution, 1, dict(
        outdir=str(tmp_path / "runs"), resume=str(network), clusters=0, pack=1, batch=4, workers=0, aug="ada", kimg=1, tick=1, grid=(2, 2)))
    lines: list[str] = []
    run_dir = train(options, device="cpu", max_steps=1, log=lines.append)
    return run_dir, lines


def resume_notes(run_dir: Path, network: Path | str) -> list[str]:
    """The run's notes on its --resume file, as its log.txt holds them (stderr shows the same lines)."""
    start = f"note: --resume {network}: "
    return [line.removeprefix(start) for line in (run_dir / "log.txt").read_text().splitlines() if line.startswith(start)]


def check_started_from(run_dir: Path, lines: list[str], network: Path) -> None:
    assert f"Resuming from {network}: transfer learning from its weights" in "\n".join(lines)
    options = json.loads((run_dir / "training_options.json").read_text())
    assert options["ema_rampup"] is None and options["ada_kimg"] == 100  # the official fine-tuning adjustments
    source = load_checkpoint(network).networks
    (snapshot,) = run_dir.glob("network-snapshot-*.safetensors")
    trained = load_checkpoint(snapshot).networks
    assert set(trained) == {"G", "D", "G_ema"}
    for name in ("G", "D", "G_ema"):
        assert trained[name].init_kwargs == source[name].init_kwargs, name  # the file's architecture
        pairs = zip(trained[name].parameters(), source[name].parameters())  # buffers such as w_avg are tracked, not stepped
        moved = max((a - b).abs().max().item() for a, b in pairs)
        assert moved <= 3 * max(options["glr"], options["dlr"]), name  # a step of Adam moves a weight by at most ~1.4 lr (two for D)
    changed = [not torch.equal(a, b) for a, b in zip(trained["G"].parameters(), source["G"].parameters())]
    assert any(changed)  # and it did train


def test_transfer_learning_from_an_nvidia_pickle(tmp_path):
    network = FIXTURES / "official_small.pkl"
    if not network.is_file():
        pytest.skip(f"{network} not found: the reference fixtures live in the team's shared directory")
    run_dir, lines = fine_tune_one_step(tmp_path, network, resolution=32)  # the fixture is 32 px, 3 channels
    check_started_from(run_dir, lines, network)


def rosinality_checkpoint(path: Path, layout: types.ModuleType) -> Path:
    """A 16 px rosinality stylegan2-pytorch training checkpoint (g, g_ema, d, args) of small random networks."""
    torch.manual_seed(0)
    G = Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 2},
                  synthesis_kwargs={"channel_base": 64, "channel_max": 8})
    D = Discriminator(c_dim=0, img_resolution=16, img_channels=3, channel_base=64, channel_max=8)
    with torch.no_grad():
        for value in [*G.parameters(), *D.parameters()]:
            value.add_(0.1 * torch.randn_like(value))
    g = layout.generator_state(G)
    torch.save({"g": g, "g_ema": g, "d": layout.discriminator_state(D),
                "args": argparse.Namespace(size=16, latent=8, n_mlp=2, arch="stylegan2")}, path)
    return path


def test_transfer_learning_from_a_rosinality_checkpoint(tmp_path, rosinality_layout):
    network = rosinality_checkpoint(tmp_path / "550000.pt", rosinality_layout)
    run_dir, lines = fine_tune_one_step(tmp_path, network, resolution=16)
    check_started_from(run_dir, lines, network)
    notes = resume_notes(run_dir, network)
    assert any("w_avg estimated from 10,000 mapped z" in note for note in notes)  # rosinality files store no w average


def test_a_generator_only_file_trains_a_new_d_as_wide_as_its_g_and_says_so(tmp_path, rosinality_layout):
    """rosinality's convert_weight.py writes g_ema and latent_avg only: D was built at the preset's widths while the
    run recorded (and noted) the file's."""
    full = torch.load(rosinality_checkpoint(tmp_path / "550000.pt", rosinality_layout), weights_only=False)
    network = tmp_path / "converted.pt"
    torch.save({"g_ema": full["g_ema"], "latent_avg": torch.zeros(8)}, network)
    run_dir, _ = fine_tune_one_step(tmp_path, network, resolution=16)
    assert "the file holds no discriminator: D starts from random weights, as wide as the file's G" in resume_notes(run_dir, network)
    saved = json.loads((run_dir / "training_options.json").read_text())
    (snapshot,) = run_dir.glob("network-snapshot-*.safetensors")
    D = load_checkpoint(snapshot).networks["D"]
    assert (D.init_kwargs["channel_base"], D.init_kwargs["channel_max"]) == (saved["cbase"], saved["cmax"]) == (64, 8)


def test_resume_takes_precision_and_memory_format_from_the_command_line(tmp_path):
    """As NVIDIA's resume (weights copied into networks built from the options): --precision, --nhwc and --aug follow the new command."""
    common = dict(clusters=0, pack=1, batch=4, workers=0, aug="noaug", kimg=1, tick=1, grid=(2, 2), cbase=256, cmax=16)
    first = train(resolve_options("builtin:shapes?n=16", "cpu", 16, 1, dict(common, outdir=str(tmp_path / "a"))),
                  device="cpu", max_steps=1, log=lambda m: None)
    (snapshot,) = first.glob("network-snapshot-*.safetensors")
    assert load_checkpoint(snapshot).networks["G"].init_kwargs["synthesis_kwargs"]["num_fp16_res"] == 0  # the cpu preset: --precision fp32
    options = resolve_options("builtin:shapes?n=16", "cpu", 16, 1, dict(common, outdir=str(tmp_path / "b"), resume=str(snapshot),
                                                                        precision="fp16", nhwc=True, aug="ada"))
    second = train(options, device="cpu", max_steps=1, log=lambda m: None)
    notes = resume_notes(second, snapshot)
    assert "its run trained with --precision fp32, this one with --precision fp16" in notes
    assert "its run trained with --aug noaug, this one with --aug ada; pass --aug noaug to keep it" in notes
    resumed = load_checkpoint(sorted(second.glob("network-snapshot-*.safetensors"))[-1]).networks
    for name in ("G", "G_ema"):
        synthesis = resumed[name].init_kwargs["synthesis_kwargs"]
        assert (synthesis["num_fp16_res"], synthesis["conv_clamp"], synthesis["fp16_channels_last"]) == (4, 256, True), name
    D = resumed["D"].init_kwargs
    assert (D["num_fp16_res"], D["conv_clamp"], D["block_kwargs"]["fp16_channels_last"]) == (4, 256, True)
    saved = load_checkpoint(snapshot).networks
    for name in ("G", "D", "G_ema"):  # everything else is the snapshot's
        precision = ("synthesis_kwargs", "num_fp16_res", "conv_clamp", "block_kwargs")
        keep = {k: v for k, v in saved[name].init_kwargs.items() if k not in precision}
        assert {k: resumed[name].init_kwargs[k] for k in keep} == keep, name


def test_a_bf16_run_trains_and_a_resume_to_another_precision_drops_the_bfloat16_layers(tmp_path):
    common = dict(clusters=0, pack=1, batch=4, workers=0, aug="noaug", kimg=1, tick=1, grid=(2, 2), cbase=256, cmax=16)
    lines: list[str] = []
    first = train(resolve_options("builtin:shapes?n=16", "cpu", 16, 1, dict(common, outdir=str(tmp_path / "a"), precision="bf16")),
                  device="cpu", max_steps=2, log=lines.append)
    assert "Precision: --precision bf16, bfloat16 in the top 4 resolutions' layers" in lines
    snapshot = sorted(first.glob("network-snapshot-*.safetensors"))[-1]
    trained = load_checkpoint(snapshot).networks
    assert trained["G"].init_kwargs["synthesis_kwargs"]["half_dtype"] == "bfloat16"
    assert trained["D"].init_kwargs["block_kwargs"]["half_dtype"] == "bfloat16"
    assert all(torch.isfinite(p).all() for net in trained.values() for p in net.parameters())
    assert trained["G_ema"].synthesis.b16.half_dtype == torch.bfloat16  # G_ema samples in bfloat16 too
    options = resolve_options("builtin:shapes?n=16", "cpu", 16, 1, dict(common, outdir=str(tmp_path / "b"), resume=str(snapshot),
                                                                        precision="fp32"))
    second = train(options, device="cpu", max_steps=1, log=lambda m: None)
    assert "its run trained with --precision bf16, this one with --precision fp32" in resume_notes(second, snapshot)
    resumed = load_checkpoint(sorted(second.glob("network-snapshot-*.safetensors"))[-1]).networks
    assert "half_dtype" not in resumed["G"].init_kwargs["synthesis_kwargs"]
    assert "half_dtype" not in resumed["D"].init_kwargs["block_kwargs"]
    assert resumed["G"].init_kwargs["synthesis_kwargs"]["num_fp16_res"] == 0


@pytest.mark.parametrize("saved, note", [
    ({"fp32": True}, "its run trained with --precision fp32, this one with --precision bf16"),  # saved before --precision
    ({"fp32": False}, "its run trained with --precision fp16, this one with --precision bf16"),
    ({"precision": "bf16"}, None),
])
def test_a_resume_notes_a_change_of_precision_also_from_runs_saved_with_fp32(saved, note):
    options = resolve_options("builtin:shapes", "cpu", 16, 1, {"precision": "bf16"})
    state = types.SimpleNamespace(options={"batch": options.batch, "num_gpus": 1, **saved})
    notes = _check_continuation("snapshot.safetensors", state, options, 1)
    assert notes == ([note] if note else [])


def test_resume_keeps_the_mapping_multiplier_of_the_file(tmp_path):
    """The mapping weights are stored divided by their learning-rate multiplier, so a resume keeps the file's
    (a run of the cpu preset before it sped up the mapping layers continues unchanged) and says so."""
    common = dict(clusters=3, batch=4, workers=0, aug="noaug", kimg=1, tick=1, grid=(2, 2), cbase=256, cmax=16)
    first = train(resolve_options("builtin:shapes?n=16", "cpu", 16, 1, dict(common, map_lrmul=0.01, outdir=str(tmp_path / "a"))),
                  device="cpu", max_steps=1, log=lambda m: None)
    (snapshot,) = first.glob("network-snapshot-*.safetensors")
    options = resolve_options("builtin:shapes?n=16", "cpu", 16, 1, dict(common, outdir=str(tmp_path / "b"), resume=str(snapshot)))
    assert options.map_lrmul == 0.1  # the preset's, for new networks
    second = train(options, device="cpu", max_steps=1, log=lambda m: None)
    note = "the mapping layers keep the file's learning-rate multiplier 0.01 (--map-lrmul 0.1 is for new networks)"
    assert note in resume_notes(second, snapshot)
    assert json.loads((second / "training_options.json").read_text())["map_lrmul"] == 0.01
    resumed = load_checkpoint(sorted(second.glob("network-snapshot-*.safetensors"))[-1]).networks
    assert "lr_multiplier" not in resumed["G"].init_kwargs["mapping_kwargs"]


def test_resume_keeps_the_file_architecture_and_says_so(tmp_path):
    """--cbase/--cmax/--map/--mbstd build new networks; a resume trains the file's as they are, notes each
    option that said otherwise, and records the file's values in training_options.json."""
    common = dict(clusters=0, batch=4, workers=0, aug="noaug", kimg=1, tick=1, grid=(2, 2))
    first = train(resolve_options("builtin:shapes?n=16", "cpu", 16, 1, dict(common, cbase=256, cmax=16, outdir=str(tmp_path / "a"))),
                  device="cpu", max_steps=1, log=lambda m: None)
    (snapshot,) = first.glob("network-snapshot-*.safetensors")
    options = resolve_options("builtin:shapes?n=16", "cpu", 16, 1, dict(
        common, cbase=128, cmax=8, map=3, mbstd=2, outdir=str(tmp_path / "b"), resume=str(snapshot)))
    second = train(options, device="cpu", max_steps=1, log=lambda m: None)
    note = ("the networks keep the file's architecture: --map 2 (not 3); --cbase 256 (not 128); --cmax 16 (not 8); "
            "--mbstd 4 (not 2); those options are for new networks")
    assert note in resume_notes(second, snapshot)
    saved = json.loads((second / "training_options.json").read_text())
    assert (saved["map"], saved["cbase"], saved["cmax"], saved["mbstd"]) == (2, 256, 16, 4)
    source = load_checkpoint(snapshot).networks
    resumed = load_checkpoint(sorted(second.glob("network-snapshot-*.safetensors"))[-1]).networks
    assert all(resumed[name].init_kwargs == source[name].init_kwargs for name in ("G", "D", "G_ema"))


def test_resume_with_matching_options_notes_nothing(tmp_path):
    common = dict(clusters=0, batch=4, workers=0, aug="noaug", kimg=1, tick=1, grid=(2, 2), cbase=256, cmax=16)
    first = train(resolve_options("builtin:shapes?n=16", "cpu", 16, 1, dict(common, outdir=str(tmp_path / "a"))),
                  device="cpu", max_steps=1, log=lambda m: None)
    (snapshot,) = first.glob("network-snapshot-*.safetensors")
    options = resolve_options("builtin:shapes?n=16", "cpu", 16, 1, dict(common, outdir=str(tmp_path / "b"), resume=str(snapshot)))
    assert keep_file_architecture(options, *(load_checkpoint(snapshot).networks[n] for n in ("G", "D"))) == (options, [])


def test_a_channel_table_no_cbase_describes_is_noted_as_it_is():
    """A file whose channels follow no min(cbase / r, cmax) (a fork's table) keeps --cbase/--cmax and names its layout."""
    options = resolve_options("builtin:shapes", "cpu", 16, 1, {"cbase": 256, "cmax": 16})
    G = Generator(z_dim=options.z_dim, c_dim=0, w_dim=options.w_dim, img_resolution=16, img_channels=3,
                  mapping_kwargs={"num_layers": options.map},
                  synthesis_kwargs={"channel_base": 256, "channel_max": 16, "channels": {"8": 12}})
    D = Discriminator(c_dim=0, img_resolution=16, img_channels=3, channel_base=256, channel_max=16)
    kept, notes = keep_file_architecture(options, G, D)
    assert (kept.cbase, kept.cmax) == (256, 16)
    assert notes == ["the networks keep the file's architecture: channels per resolution 4: 16, 8: 12, 16: 16 "
                     "(not --cbase 256 --cmax 16); those options are for new networks"]
