"""`stylegan2 convert` and `stylegan2 info` from the command line."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.io import describe_checkpoint, format_info, save_checkpoint


def test_info_describes_an_official_pickle(official_path):
    result = CliRunner().invoke(main, ["info", str(official_path)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "official-pkl (NVIDIA StyleGAN2-ADA network pickle)" in out
    assert "networks:    G, D, G_ema" in out
    assert "resolution:  32x32, 3 channels" in out
    assert "z_dim 64, w_dim 64, c_dim 0, num_ws 8" in out
    assert "augment p:   0.25" in out
    assert "G_ema (Generator): 263,987 parameters" in out
    assert '"channel_base": 1024' in out


def test_info_prints_the_augment_p_as_a_person_would(official_ckpt, official_path):
    """NVIDIA's p, a float32 (0.3), was printed as 0.30000001192092896."""
    pipe = {**official_ckpt.augment_pipe, "p": float(torch.tensor(0.3))}
    ckpt = dataclasses.replace(official_ckpt, source={**official_ckpt.source, "augment_pipe": pipe})
    assert "augment p:   0.3\n" in format_info(describe_checkpoint(ckpt, official_path))


def test_info_json(official_path):
    result = CliRunner().invoke(main, ["info", "--json", str(official_path)])
    info = json.loads(result.output)
    assert info["networks"]["D"]["init_kwargs"]["channel_max"] == 64
    assert info["augment_p"] == 0.25


def test_info_text_reports_the_estimated_w_avg(rosinality_ckpt, rosinality_path):
    text = format_info(describe_checkpoint(rosinality_ckpt, rosinality_path))
    assert "rosinality stylegan2-pytorch checkpoint" in text
    assert "G_ema: w_avg estimated from 10,000 mapped z (seed 0); rosinality files store no w average" in text


def test_convert_then_info(tmp_path, official_path):
    dst = tmp_path / "net.safetensors"
    result = CliRunner().invoke(main, ["convert", str(official_path), str(dst)])
    assert result.exit_code == 0, result.output
    assert "wrote G, D, G_ema (converted from official-pkl)" in result.output
    result = CliRunner().invoke(main, ["info", str(dst)])
    assert "format:      stylegan2 (our safetensors + JSON checkpoint)" in result.output


def test_convert_refuses_to_overwrite(tmp_path, official_path):
    dst = tmp_path / "net.safetensors"
    dst.write_bytes(b"mine")
    result = CliRunner().invoke(main, ["convert", str(official_path), str(dst)])
    assert result.exit_code == 1
    assert "already exists; pass --force" in result.output
    assert dst.read_bytes() == b"mine"


def test_convert_refuses_an_output_named_as_another_format(tmp_path, official_path):
    """`convert net.safetensors back.pkl` would write our format under a name NVIDIA's loader chokes on: a wrong DST
    name is the command line's fault (exit status 2), as export's and dataset's are."""
    for name in ("back.pkl", "back.pt", "back"):
        result = CliRunner().invoke(main, ["convert", str(official_path), str(tmp_path / name)])
        assert result.exit_code == 2 and "convert writes our .safetensors format" in result.output, result.output
        assert f"name the output {Path(name).stem}.safetensors" in result.output
    assert list(tmp_path.iterdir()) == []


def test_convert_refuses_to_replace_its_source_even_with_force(tmp_path, official_path):
    src = tmp_path / "net.safetensors"
    assert CliRunner().invoke(main, ["convert", str(official_path), str(src)]).exit_code == 0
    before = src.read_bytes()
    result = CliRunner().invoke(main, ["convert", str(src), str(tmp_path / "." / "net.safetensors"), "--force"])
    assert result.exit_code == 1 and "the destination is the source; choose another DST" in result.output
    assert src.read_bytes() == before


def test_bad_file_is_a_one_line_error_not_a_traceback(tmp_path):
    (tmp_path / "junk.pkl").write_bytes(b"\x80\x04junk")
    result = CliRunner().invoke(main, ["info", str(tmp_path / "junk.pkl")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "junk.pkl: truncated or corrupt network pickle" in result.output
    assert "Traceback" not in result.output


def test_refused_pickle_is_reported(tmp_path):
    (tmp_path / "evil.pkl").write_bytes(b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R.")
    result = CliRunner().invoke(main, ["convert", str(tmp_path / "evil.pkl"), str(tmp_path / "out.safetensors")])
    assert result.exit_code == 1
    assert "refusing to load evil.pkl: it references os.system" in result.output
    assert not (tmp_path / "out.safetensors").exists()


def test_info_and_convert_read_a_tensorflow_pickle(tmp_path):
    src = Path(__file__).resolve().parents[1] / "io" / "fixtures" / "tf_stylegan2_32.pkl"
    result = CliRunner().invoke(main, ["info", str(src)])
    assert result.exit_code == 0, result.output
    assert "tf-pkl (NVIDIA TensorFlow StyleGAN2 network pickle)" in result.output
    assert "z_dim 8, w_dim 8, c_dim 0, num_ws 8" in result.output
    result = CliRunner().invoke(main, ["convert", str(src), str(tmp_path / "net.safetensors")])
    assert result.exit_code == 0, result.output
    assert "wrote G, D, G_ema (converted from tf-pkl)" in result.output


def test_convert_into_an_unwritable_folder_names_dst_before_reading_src(tmp_path, monkeypatch):
    """The error named the temporary written beside DST, after the whole SRC (possibly hundreds of MB) was read."""
    monkeypatch.setattr("stylegan2.io.native.os.access", lambda path, mode: False)  # as a read-only mount answers
    result = CliRunner().invoke(main, ["convert", str(tmp_path / "not-read.pkl"), str(tmp_path / "x.safetensors")])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert f"x.safetensors: cannot write in {tmp_path} (no write permission, or a read-only file system)" in result.output
    assert ".tmp" not in result.output and "not-read.pkl" not in result.output


def test_convert_and_save_checkpoint_expand_a_leading_tilde(tmp_path, monkeypatch, official_path, official_ckpt):
    """`--opt=~/x` and quoted '~/x' reach us unexpanded: NVIDIA's README writes such lines."""
    monkeypatch.setenv("HOME", str(tmp_path))
    result = CliRunner().invoke(main, ["convert", str(official_path), "~/net.safetensors"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "net.safetensors").is_file() and not Path("~").exists()
    assert save_checkpoint("~/again.safetensors", official_ckpt.networks) == tmp_path / "again.safetensors"


def test_convert_of_a_run_directory_names_its_newest_snapshot(tmp_path, official_path):
    run = tmp_path / "00000-shapes-cpu"
    run.mkdir()
    (run / "network-snapshot-000004.pkl").write_bytes(official_path.read_bytes())
    result = CliRunner().invoke(main, ["convert", str(run), str(tmp_path / "x.safetensors")])
    assert result.exit_code == 1 and "is a run directory; give one of its snapshots, such as the newest, " in result.output


def test_info_text_sums_up_a_clustered_generators_cluster_odds(tmp_path):
    """A `--cfg cpu` run's G holds 100 cluster odds: listed whole, they filled the screen twice (G and G_ema)."""
    from stylegan2.io import save_network
    from stylegan2.models import Generator

    prior = [0.25 / 50] * 50 + [0.75 / 50] * 50
    G = Generator(z_dim=8, c_dim=100, w_dim=8, img_resolution=8, img_channels=1,
                  mapping_kwargs={"num_layers": 1, "c_prior": prior}, synthesis_kwargs={"channel_base": 32, "channel_max": 8})
    path = save_network(tmp_path / "g.safetensors", {"G_ema": G})
    text = CliRunner().invoke(main, ["info", str(path)]).output
    assert '"c_prior": "100 values, 0.005 to 0.015 (--json lists them)"' in text and "0.005, 0.005" not in text
    listed = json.loads(CliRunner().invoke(main, ["info", "--json", str(path)]).output)
    assert listed["networks"]["G_ema"]["init_kwargs"]["mapping_kwargs"]["c_prior"] == prior


def test_convert_weights_only_keeps_the_networks_and_drops_the_training_state(tmp_path):
    """Old snapshots of a long run: the networks without the optimizers' state take less than half the disk."""
    from stylegan2.io import load_checkpoint
    from stylegan2.training.config import resolve_options
    from stylegan2.training.loop import train

    options = resolve_options("builtin:shapes?n=16", "cpu", 16, 1, dict(
        clusters=0, cbase=128, cmax=16, z_dim=16, w_dim=16, map=2, batch=8, workers=0, aug="ada", tick=0.016, snap=1,
        kimg=0.016, outdir=str(tmp_path / "runs")))
    snapshot = next(train(options, device="cpu", log=lambda m: None).glob("network-snapshot-*.safetensors"))
    dst = tmp_path / "weights.safetensors"
    result = CliRunner().invoke(main, ["convert", str(snapshot), str(dst), "--weights-only"])
    assert result.exit_code == 0 and "(converted from stylegan2; the networks alone)" in result.output, result.output
    full, weights = load_checkpoint(snapshot), load_checkpoint(dst)
    assert full.training_state and not weights.training_state and not weights.extra_tensors
    assert dst.stat().st_size < snapshot.stat().st_size / 2
    for name in ("G", "D", "G_ema"):
        for key, value in full.networks[name].state_dict().items():
            torch.testing.assert_close(weights.networks[name].state_dict()[key], value, rtol=0, atol=0)


def test_convert_prints_its_notes_on_stderr_not_stdout(tmp_path, rosinality_path):
    """As every other command does: stdout is for what was written (and --json output elsewhere)."""
    result = CliRunner().invoke(main, ["convert", str(rosinality_path), str(tmp_path / "r.safetensors")])
    assert result.exit_code == 0, result.output
    assert "note:" not in result.stdout and "wrote G, D, G_ema (converted from rosinality)" in result.stdout
    assert "note: G_ema: w_avg estimated" in result.stderr


def test_convert_checks_its_destination_once(tmp_path, official_path, monkeypatch):
    import stylegan2.io.info

    calls = []
    check = stylegan2.io.info.check_convert_destination

    def counted(*args, **kwargs):
        calls.append(args)
        return check(*args, **kwargs)

    for module in ("stylegan2.io.info", "stylegan2.cli.convert", "stylegan2.tools.convert"):
        monkeypatch.setattr(f"{module}.check_convert_destination", counted, raising=False)
    result = CliRunner().invoke(main, ["convert", str(official_path), str(tmp_path / "net.safetensors")])
    assert result.exit_code == 0, result.output
    assert len(calls) == 1
