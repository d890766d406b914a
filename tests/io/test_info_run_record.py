"""`info` shows a snapshot's `given` line only where its run recorded one, and `--verbose` lists every option as
name=value pairs rather than as command-line flags that do not exist."""

from __future__ import annotations

import json

from stylegan2.io import checkpoint_info, format_info, save_checkpoint

OPTIONS = {"cfg": "cpu", "gamma": 10.0, "mirror": False, "resume": None, "grid": [8, 8], "metrics": [], "num_gpus": 1}


def snapshot_with(tmp_path, tiny_networks, options):
    return save_checkpoint(tmp_path / "snapshot.safetensors", tiny_networks,
                           training_state={"cur_nimg": 1000, "options": options})


def lines_of(path, verbose=False) -> dict[str, str]:
    text = format_info(checkpoint_info(path), verbose=verbose)
    return {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in text.splitlines() if ":" in line}


def test_a_run_that_recorded_no_given_shows_no_given_line_and_json_null(tmp_path, tiny_networks):
    """SwapAE runs recorded none: the line said 'none (the preset and defaults)' above a command with five options."""
    path = snapshot_with(tmp_path, tiny_networks, OPTIONS)
    assert "given" not in lines_of(path)
    assert json.loads(json.dumps(checkpoint_info(path)))["given"] is None


def test_a_run_that_recorded_given_shows_it_even_when_empty(tmp_path, tiny_networks):
    path = snapshot_with(tmp_path, tiny_networks, dict(OPTIONS, given=["gamma", "mirror"]))
    assert lines_of(path)["given"] == "--gamma 10 --no-mirror"
    (tmp_path / "snapshot.safetensors").unlink()
    path = snapshot_with(tmp_path, tiny_networks, dict(OPTIONS, given=[]))
    assert lines_of(path)["given"] == "none (the preset and defaults)"


def test_verbose_options_are_name_value_pairs_as_json_names_them(tmp_path, tiny_networks):
    path = snapshot_with(tmp_path, tiny_networks, dict(OPTIONS, given=["gamma"]))
    assert lines_of(path, verbose=True)["options"] == \
        "cfg=cpu gamma=10 mirror=false resume=null grid=8,8 metrics=[] num_gpus=1"
