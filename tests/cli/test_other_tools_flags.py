"""rosinality's and NVIDIA's TensorFlow option spellings are answered with ours (click's guesses pointed --r1 at --dlr)."""

import pytest
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.cli.flags import ROSINALITY_OPTIONS


@pytest.mark.parametrize("args, answer", [
    (["train", "--data", "builtin:shapes", "--outdir", "runs", "--ckpt", "550000.pt"], "use --resume FILE"),
    (["train", "--data", "builtin:shapes", "--outdir", "runs", "--iter=800000"], "use --kimg, thousands of real images"),
    (["train", "--data", "builtin:shapes", "--outdir", "runs", "--r1", "10"], "use --gamma"),
    (["generate", "--ckpt", "550000.pt", "--seeds", "0"], "use --network FILE"),
    (["generate", "--network", "550000.pt", "--pics", "4"], "use --seeds 0-N, one image per seed"),
    (["mix", "--network", "550000.pt", "--truncation", "0.7"], "use --trunc"),
])
def test_rosinality_spellings_are_answered_with_ours(tmp_path, monkeypatch, args, answer):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, args)
    option = next(a for a in args if a.split("=")[0] in ROSINALITY_OPTIONS).split("=")[0]
    assert result.exit_code == 2
    assert f"Error: No such option: {option} is rosinality's stylegan2-pytorch spelling; {answer}" in result.output
    assert "Did you mean" not in result.output and not list(tmp_path.iterdir())


def test_other_unknown_options_keep_clicks_suggestions():
    result = CliRunner().invoke(main, ["train", "--data", "builtin:shapes", "--outdir", "runs", "--gama", "1"])
    assert result.exit_code == 2 and "No such option '--gama'. (Did you mean one of: " in result.output


@pytest.mark.parametrize("args, answer", [
    (["train", "--data", "x", "--config=config-f"],
     "--config is NVIDIA's TensorFlow StyleGAN2 spelling; use --cfg (config-f is --cfg stylegan2)"),
    (["train", "--data", "x", "--total-kimg=10"], "--total-kimg is NVIDIA's TensorFlow StyleGAN2 spelling; use --kimg"),
    (["train", "--data", "x", "--dataset=ffhq"], "--dataset is NVIDIA's TensorFlow StyleGAN2 spelling; use --data with the"),
    (["generate", "--network", "x.pkl", "--truncation-psi=0.5"], "--truncation-psi is NVIDIA's TensorFlow StyleGAN2 spelling; use --trunc"),
    (["train", "--data", "x", "--cfg=config-f"], "'config-f' is NVIDIA's TensorFlow StyleGAN2 config name; config-f is --cfg stylegan2"),
])
def test_nvidia_tensorflow_spellings_are_answered_with_ours(args, answer):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and answer in result.output, result.output

