"""SeFa directions: orthonormal, saved as .npz, and moving along one changes the image."""

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.tools import ToolError, factorize, find_directions, load_directions, save_directions, seed_images, seed_ws, synthesize
from stylegan2.tools.sefa import modulation_layers


def test_directions_are_orthonormal_and_sorted(tiny_generator):
    found = factorize(tiny_generator())
    assert found.directions.shape == (16, 16)
    np.testing.assert_allclose(found.directions @ found.directions.T, np.eye(16), atol=1e-5)
    assert np.all(np.diff(found.eigenvalues) <= 0)


def test_top_direction_maximizes_the_change_of_styles(tiny_generator):
    G = tiny_generator()
    found = factorize(G)
    chosen = [m.affine.weight for m in modulation_layers(G) if m.name in found.layer_names]
    A = torch.cat([w / w.norm(dim=1, keepdim=True) for w in chosen]).detach().double()
    change = (A @ torch.from_numpy(found.directions).double().T).norm(dim=0)  # [k]
    random_dirs = torch.nn.functional.normalize(torch.randn(100, 16, dtype=torch.float64), dim=1)
    assert change[0] >= (A @ random_dirs.T).norm(dim=0).max()
    np.testing.assert_allclose(change.square().numpy(), found.eigenvalues, rtol=1e-4)


def test_one_affine_layer_per_w_as_in_sefa(tiny_generator):
    found = factorize(tiny_generator(), "all")
    assert found.layers == list(range(6))
    assert found.layer_names == ["b4.conv1.affine", "b8.conv0.affine", "b8.conv1.affine", "b16.conv0.affine",
                                 "b16.conv1.affine", "b16.torgb.affine"]
    assert factorize(tiny_generator(), "coarse").layers == [0, 1, 2, 3]


def test_strength_zero_keeps_the_image_and_other_strengths_change_it(tiny_generator):
    G = tiny_generator()
    found = factorize(G)
    plain = seed_images(G, [4])
    np.testing.assert_array_equal(seed_images(G, [4], directions=found, index=0, strength=0.0), plain)
    assert not np.array_equal(seed_images(G, [4], directions=found, index=0, strength=3.0), plain)


def test_file_round_trip_without_pickle(tiny_generator, tmp_path):
    found = factorize(tiny_generator(), [1, 2])
    save_directions(tmp_path / "d.npz", found)
    with np.load(tmp_path / "d.npz", allow_pickle=False) as data:
        assert set(data) == {"directions", "eigenvalues", "layers", "layer_names", "fingerprint"}
    loaded = load_directions(tmp_path / "d.npz")
    np.testing.assert_array_equal(loaded.directions, found.directions)
    assert loaded.layers == [1, 2] and loaded.layer_names == found.layer_names
    assert loaded.fingerprint == found.fingerprint and loaded.network is None


def test_file_errors_name_the_callers_option(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.npz: no such directions file \(--direction\); `stylegan2 directions` writes one$"):
        load_directions(tmp_path / "nope.npz")
    with pytest.raises(FileNotFoundError, match=r"nope\.npz: no such directions file \(--directions\)"):
        load_directions(tmp_path / "nope.npz", "--directions")
    np.savez(tmp_path / "other.npz", w=np.zeros(3))
    with pytest.raises(ToolError, match=r"other\.npz: not a directions file \(missing directions, eigenvalues, layers; "
                                        r"--directions\)"):
        load_directions(tmp_path / "other.npz", "--directions")


def test_index_out_of_range_is_rejected(tiny_generator):
    G = tiny_generator()
    with pytest.raises(ToolError, match="--index 16 is out of range"):
        seed_images(G, [0], directions=factorize(G), index=16, strength=1.0)


def test_strips_show_each_direction_from_minus_to_plus(tiny_generator, tmp_path):
    G = tiny_generator()
    paths = find_directions(G, tmp_path, strips=2, seeds=[0, 1], strength=2.0, steps=3)
    assert [p.name for p in paths] == ["directions.npz", "direction00.png", "direction01.png"]
    with PIL.Image.open(paths[2]) as image:
        strip = np.asarray(image)
    assert strip.shape == (32, 48, 3)
    np.testing.assert_array_equal(strip[16:32, 16:32], seed_images(G, [1])[0])  # the middle is strength 0
    found = load_directions(paths[0])
    np.testing.assert_array_equal(strip[:16, 32:48], synthesize(G, found.move(seed_ws(G, 0), 1, 2.0))[0])


def test_strips_of_an_earlier_longer_run_left_by_force_are_named(tiny_generator, tmp_path):
    G = tiny_generator()
    find_directions(G, tmp_path, strips=3, seeds=[0], steps=2)
    with pytest.warns(UserWarning, match=r"also holds 1 direction\[0-9\]\*\.png file\(s\) that this run does not write "
                                         r"\(e\.g\. direction02\.png\), from an earlier one"):
        find_directions(G, tmp_path, strips=2, seeds=[0], steps=2, force=True)


def test_cli_directions_then_generate_along_one(network_file, tmp_path):
    net = str(network_file())
    runner = CliRunner()
    result = runner.invoke(main, ["directions", "--network", net, "--outdir", str(tmp_path), "--strips", "1",
                                  "--device", "cpu"])
    assert result.exit_code == 0, result.output
    args = ["generate", "--network", net, "--seeds", "3", "--outdir", str(tmp_path), "--device", "cpu",
            "--direction", str(tmp_path / "directions.npz"), "--index", "2", "--strength", "-1.5"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "seed0003-dir2-1.5.png").is_file()


def test_too_few_steps_are_refused_before_directions_npz_is_written(tiny_generator, tmp_path):
    with pytest.raises(ToolError, match=r"^--steps 1: a strip needs at least 2 steps$"):
        find_directions(tiny_generator(), tmp_path / "out", strips=1, steps=1)
    assert not (tmp_path / "out").exists()
    find_directions(tiny_generator(), tmp_path / "none", strips=0, steps=1)  # no strips: steps unused


def test_a_conditional_network_needs_a_class_for_strips_only(tiny_generator, tmp_path):
    """The directions come from the weights: a class only picks the strips' images."""
    G = tiny_generator(c_dim=3)
    with pytest.raises(ToolError, match=r"this network is conditional with 3 classes: choose one with --class"):
        find_directions(G, tmp_path / "strips", strips=1, steps=2)
    paths = find_directions(G, tmp_path / "weights-only", strips=0)
    np.testing.assert_array_equal(load_directions(paths[0]).directions, factorize(G, "all").directions)
    with pytest.raises(ToolError, match=r"--class 5 is out of range"):
        find_directions(G, tmp_path / "bad", strips=0, class_idx=5)


def test_a_directions_file_with_nan_is_refused_not_rendered_black(tmp_path):
    np.savez(tmp_path / "d.npz", directions=np.full((2, 8), np.nan, np.float32), eigenvalues=np.ones(2, np.float32),
             layers=np.arange(2))
    with pytest.raises(ToolError, match=r"d\.npz: its directions hold NaN or infinite values \(--direction\)"):
        load_directions(tmp_path / "d.npz")
