"""A directions file records the network it came from; generate notes it when used with other weights."""

import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.io import load_network, save_checkpoint
from stylegan2.tools import ToolError, factorize, find_directions, generate_images, load_directions
from stylegan2.tools.sefa import style_fingerprint

SNAPSHOT = "network-snapshot-000000-224.safetensors"  # the same name in every training run


def run(*args: str):
    return CliRunner().invoke(main, [*args, "--device", "cpu"])


def two_runs_snapshots(tmp_path: Path, tiny_generator) -> tuple[Path, Path]:
    """Two runs' snapshots with the same file name and other weights."""
    paths = []
    for seed, run_dir in ((0, "00000-a"), (1, "00001-b")):
        (tmp_path / run_dir).mkdir()
        paths.append(save_checkpoint(tmp_path / run_dir / SNAPSHOT, {"G_ema": tiny_generator(seed=seed)}))
    return paths[0], paths[1]


def test_the_file_records_the_network_name_and_its_style_weights(network_file, tmp_path):
    net = network_file()
    find_directions(net, tmp_path, layers="coarse", strips=0)
    found = load_directions(tmp_path / "directions.npz")
    G = load_network(net)["G_ema"]
    assert found.network == net.name
    assert found.fingerprint == style_fingerprint(G, found.layer_names) == factorize(G, "coarse").fingerprint


def test_the_fingerprint_follows_the_factorized_weights_only(tiny_generator):
    G = tiny_generator()
    names = factorize(G, "coarse").layer_names
    before = style_fingerprint(G, names)
    with torch.no_grad():
        G.synthesis.b16.conv1.affine.weight.add_(1.0)  # a fine layer: not one the coarse directions come from
        G.synthesis.b4.conv1.weight.add_(1.0)  # a convolution: SeFa reads only the affines
    assert style_fingerprint(G, names) == before
    with torch.no_grad():
        G.synthesis.b8.conv0.affine.weight.add_(1e-3)
    assert style_fingerprint(G, names) != before
    assert style_fingerprint(G, ["b64.conv0.affine"]) is None  # a layer this network lacks


def test_generate_notes_another_runs_directions_of_the_same_file_name(tiny_generator, tmp_path):
    """The silent case the explorer's folders ran into: another run's snapshot of the same name. A note says whose
    directions they are (a base network's directions on its fine-tune can be meant, so it is not refused)."""
    a, b = two_runs_snapshots(tmp_path, tiny_generator)
    assert run("directions", "--network", str(a), "--strips", "0", "--outdir", str(tmp_path / "dirs")).exit_code == 0
    result = run("generate", "--network", str(b), "--seeds", "3", "--direction", str(tmp_path / "dirs/directions.npz"),
                 "--index", "1", "--strength", "1.5", "--outdir", str(tmp_path / "out"))
    assert result.exit_code == 0 and len(list((tmp_path / "out").glob("*.png"))) == 1, result.output
    fingerprint = load_directions(tmp_path / "dirs/directions.npz").fingerprint[:8]
    assert result.stderr.strip().splitlines() == [
        f"note: {tmp_path}/dirs/directions.npz: its directions were computed from {SNAPSHOT} (style weights "
        f"{fingerprint}), not from {b} (style weights {factorize(tiny_generator(seed=1)).fingerprint[:8]}) "
        f"(--direction); they move {b} along the other network's directions (its own: `stylegan2 directions`)"]


def test_generate_takes_the_directions_with_the_same_weights_in_another_file(tiny_generator, tmp_path):
    a, _ = two_runs_snapshots(tmp_path, tiny_generator)
    copy = save_checkpoint(tmp_path / "renamed.safetensors", {"G_ema": load_network(a)["G_ema"]})
    find_directions(a, tmp_path / "dirs", strips=0)
    result = run("generate", "--network", str(copy), "--seeds", "3", "--direction", str(tmp_path / "dirs/directions.npz"),
                 "--index", "1", "--strength", "1.5", "--outdir", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out/seed0003-dir1+1.5.png").is_file()
    assert result.stderr == ""  # the same weights: nothing to note


def test_a_file_from_before_the_record_works_with_any_network_and_says_how_to_remake_it(tiny_generator, tmp_path,
                                                                                         monkeypatch):
    """Nothing in it can be checked against the network: a note says so once, with the command that remakes it."""
    a, b = two_runs_snapshots(tmp_path, tiny_generator)
    found = factorize(load_network(a)["G_ema"], "coarse")
    (tmp_path / "old").mkdir()
    np.savez(tmp_path / "old/directions.npz", directions=found.directions, eigenvalues=found.eigenvalues,
             layers=np.asarray(found.layers), layer_names=np.asarray(found.layer_names))
    assert load_directions(tmp_path / "old/directions.npz").fingerprint is None
    old = (tmp_path / "old/directions.npz").read_bytes()
    monkeypatch.chdir(tmp_path)
    result = run("generate", "--network", str(b), "--seeds", "3", "--direction", "old/directions.npz",
                 "--index", "1", "--strength", "1.5", "--outdir", "out")
    assert result.exit_code == 0 and (tmp_path / "out/seed0003-dir1+1.5.png").is_file(), result.output
    remake = f"stylegan2 directions --network {b} --layers 0-3 --outdir old/{b.stem}"
    assert result.stderr.strip().splitlines() == [
        f"note: old/directions.npz: records no network (written by an older stylegan2), so it cannot be checked "
        f"against {b} (--direction); to use {b}'s own directions, remake it: {remake}"]
    assert run(*shlex.split(remake)[1:]).exit_code == 0  # the command works as given, beside the old file
    remade = load_directions(tmp_path / "old" / b.stem / "directions.npz")
    assert remade.layers == found.layers and remade.fingerprint == factorize(load_network(b)["G_ema"], "coarse").fingerprint
    assert (tmp_path / "old/directions.npz").read_bytes() == old  # left alone


def test_a_file_from_before_the_record_given_with_a_generator_object_names_the_python_way_to_remake_it(
        tiny_generator, tmp_path):
    """A Generator object has no file to give `stylegan2 directions`: the note points to find_directions."""
    G = tiny_generator(seed=0)
    found = factorize(G, "coarse")
    np.savez(tmp_path / "old.npz", directions=found.directions, eigenvalues=found.eigenvalues,
             layers=np.asarray(found.layers), layer_names=np.asarray(found.layer_names))
    with pytest.warns(UserWarning) as caught:
        generate_images(G, [3], tmp_path / "out", direction=tmp_path / "old.npz", index=0, strength=1.0, device="cpu")
    assert [str(w.message) for w in caught] == [
        f"{tmp_path / 'old.npz'}: records no network (written by an older stylegan2), so it cannot be checked against "
        f"this Generator (--direction); to use this Generator's own directions, remake it: find_directions(G, ...)"]


def test_a_fingerprint_that_is_not_a_string_is_named(tiny_generator, tmp_path):
    found = factorize(tiny_generator())
    np.savez(tmp_path / "d.npz", directions=found.directions, eigenvalues=found.eigenvalues,
             layers=np.asarray(found.layers), layer_names=np.asarray(found.layer_names), fingerprint=np.zeros(3))
    with pytest.raises(ToolError, match=r"d\.npz: its fingerprint is not a string \(--direction\); create it again"):
        load_directions(tmp_path / "d.npz")
