"""Shared tool inputs: seed lists, grids, class labels, devices and generator loading."""

import copy
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from stylegan2.io import Checkpoint, load_network, save_checkpoint
from stylegan2.models import Discriminator
from stylegan2.tools import ToolError, load_generator, parse_seeds, seed_latent
from stylegan2.tools.common import check_psi, check_truncation_cutoff, class_label, parse_grid, resolve_device
from stylegan2.utils.errors import OptionError


def test_seed_lists_combine_ranges_and_single_seeds():
    assert parse_seeds("0-3,42") == [0, 1, 2, 3, 42]


@pytest.mark.parametrize("text,message", [
    ("5-2", "runs backwards; write it as 2-5"),
    ("1,x", "cannot read 'x' in '1,x'; use numbers"),
    ("-1", "^--seeds: cannot read '-1'; use numbers"),  # the value once, not "'-1' in '-1'"
    ("", "^--seeds: no value given; use numbers"),
    ("1-3,2", "2 is listed more than once"),
    ("4294967296", "outside 0..4294967295"),
    ("0-4294967295", "'0-4294967295' holds 4294967296 values, more than 1000000 at once; split it over several runs"),
    ("0-999999,7", "holds 1000001 values"),
    ("0-99999999999999999999", "holds 100000000000000000000 values"),  # past sys.maxsize: no len() of its range
    ("0-" + "9" * 5000, "cannot read '0-999"),  # past int()'s digit limit
])
def test_bad_seed_lists_are_rejected_with_the_fix(text, message):
    with pytest.raises(ToolError, match=message) as raised:
        parse_seeds(text)
    assert isinstance(raised.value, OptionError)  # the argument itself: the command line exits 2


def test_seeds_from_python_are_whole_numbers():
    assert parse_seeds(5) == [5] and parse_seeds((3, 1)) == [3, 1] and parse_seeds(np.arange(3)) == [0, 1, 2]
    assert parse_seeds(range(2)) == [0, 1]
    for bad in ([1.7], [True], None, Path("out"), ["a"]):
        with pytest.raises(ToolError, match=r"^--seeds: seeds are whole numbers: a list of ints, one int or text"):
            parse_seeds(bad)


def test_a_long_seed_list_is_read_in_linear_time():
    """0-100000 took minutes when duplicates were counted value by value."""
    assert len(parse_seeds("0-199999,300000")) == 200001
    with pytest.raises(ToolError, match="199999 is listed more than once"):
        parse_seeds("0-199999,199999")


def test_grid_sizes_are_columns_by_rows():
    assert parse_grid("4x2") == (4, 2) and parse_grid((4, 2)) == (4, 2) and parse_grid([3, np.int64(1)]) == (3, 1)
    for bad in ("4by2", [2, 2, 2], (2.0, 2), 4, None):
        with pytest.raises(ToolError, match=r"^--grid: expected COLSxROWS such as '?4x2"):
            parse_grid(bad)


def test_seed_latents_are_drawn_like_nvidias_generate_py(tiny_generator):
    G = tiny_generator()
    expected = np.random.RandomState(7).randn(1, G.z_dim)
    torch.testing.assert_close(seed_latent(G, 7), torch.from_numpy(expected).float())


def test_conditional_networks_require_a_class_in_range(tiny_generator):
    G = tiny_generator(c_dim=3)
    with pytest.raises(ToolError, match="conditional with 3 classes: choose one with --class 0..2"):
        class_label(G, None)
    with pytest.raises(ToolError, match=r"--class 3 is out of range"):
        class_label(G, 3)
    torch.testing.assert_close(class_label(G, 1), torch.tensor([[0.0, 1.0, 0.0]]))


@pytest.mark.parametrize("class_idx", [1.5, "1", True])
def test_a_class_is_a_whole_number(tiny_generator, class_idx):
    """1.5 and "1" failed deep inside torch's indexing or a comparison."""
    with pytest.raises(ToolError, match=r"^--class must be a whole number, got "):
        class_label(tiny_generator(c_dim=3), class_idx)
    assert class_label(tiny_generator(c_dim=3), np.int64(2))[0, 2] == 1


@pytest.mark.parametrize("psi", ["abc", "0.7", float("nan"), float("inf"), None, True])
def test_truncation_psi_is_a_finite_number(psi):
    with pytest.raises(ToolError, match=r"^--trunc: truncation_psi must be a finite number \(1 = no truncation\)"):
        check_psi(psi)
    assert check_psi(1) == 1.0 and check_psi(np.float32(0.5)) == 0.5


def test_truncation_cutoff_is_a_whole_number_in_range(tiny_generator):
    G = tiny_generator()
    assert check_truncation_cutoff(G, None) is None and check_truncation_cutoff(G, G.num_ws) == G.num_ws
    with pytest.raises(ToolError, match=r"^--trunc-cutoff must be a whole number or None, got 2.5$"):
        check_truncation_cutoff(G, 2.5)
    with pytest.raises(ToolError, match=r"^--trunc-cutoff -1 is out of range"):
        check_truncation_cutoff(G, -1)


def test_unconditional_networks_reject_a_class(tiny_generator):
    with pytest.raises(ToolError, match="unconditional"):
        class_label(tiny_generator(), 0)


def test_missing_network_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt: no such network file"):
        load_generator(tmp_path / "nope.pt", "cpu")


def test_file_without_a_generator_is_rejected(tmp_path):
    D = Discriminator(c_dim=0, img_resolution=16, img_channels=3, channel_base=128, channel_max=16)
    save_checkpoint(tmp_path / "d.safetensors", {"D": D})
    with pytest.raises(ToolError, match=r"d.safetensors: holds no network named G_ema or G \(found: D\); pass a file"):
        load_generator(tmp_path / "d.safetensors", "cpu")


def test_a_generator_saved_under_another_name_is_told_the_names_the_tools_read(tiny_generator, tmp_path):
    """It said "holds no generator (found generator)", which read as a contradiction."""
    save_checkpoint(tmp_path / "w.safetensors", {"generator": tiny_generator()})
    with pytest.raises(ToolError, match=r"^\S+w.safetensors: holds no network named G_ema or G \(found: generator\); pass a "
                                        r"file with one of them \(save_network\(path, \{'G_ema': G\}\) writes one\)$"):
        load_generator(tmp_path / "w.safetensors", "cpu")


def test_g_ema_is_preferred_over_g(tiny_generator, tmp_path):
    save_checkpoint(tmp_path / "both.safetensors", {"G": tiny_generator(seed=1), "G_ema": tiny_generator(seed=2)})
    loaded = load_generator(tmp_path / "both.safetensors", "cpu")
    torch.testing.assert_close(loaded.synthesis.b4.const, tiny_generator(seed=2).synthesis.b4.const)


def test_a_file_without_g_ema_is_used_with_a_note(tiny_generator, tmp_path):
    """rosinality's G differs from its g_ema by far more than noise: the command says which one it draws with."""
    save_checkpoint(tmp_path / "g.safetensors", {"G": tiny_generator(seed=1)})
    with pytest.warns(UserWarning, match=r"g\.safetensors: holds no G_ema; using G, the generator without weight averaging"):
        loaded = load_generator(tmp_path / "g.safetensors", "cpu")
    torch.testing.assert_close(loaded.synthesis.b4.const, tiny_generator(seed=1).synthesis.b4.const)


def test_a_generator_passed_in_is_left_as_it_is(tiny_generator):
    """The tools never switch the caller's G to eval mode or move it (export_generator would move a CUDA G)."""
    G = tiny_generator().train()
    used = load_generator(G, "cpu")
    assert G.training and not used.training and used is not G
    torch.testing.assert_close(used.synthesis.b4.const, G.synthesis.b4.const)
    ready = tiny_generator().eval()
    assert load_generator(ready, "cpu") is ready  # nothing to change: no copy
    with pytest.raises(ToolError, match=r"got a dict of networks; pass one of them, e.g. nets\['G_ema'\]"):
        load_generator({"G_ema": ready})
    with pytest.raises(ToolError, match=r"got a Checkpoint; pass its generator, e.g. checkpoint.networks\['G_ema'\]"):
        load_generator(Checkpoint(format="safetensors", networks={"G_ema": ready}))


def test_cuda_request_without_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ToolError, match="no CUDA device") as raised:
        resolve_device("cuda")
    assert not isinstance(raised.value, OptionError)  # the machine's lack, not the argument's fault: exit status 1
    with pytest.raises(ToolError, match="--device gpu: not a device") as raised:
        resolve_device("gpu")
    assert isinstance(raised.value, OptionError)


@pytest.mark.parametrize("stored_average", [False, True])
def test_truncating_a_file_without_an_average_w_says_the_average_is_estimated(
    tiny_generator, tmp_path, rosinality_layout, stored_average
):
    """rosinality's training checkpoints store no average w: truncated images depend on our estimate of it."""
    G = tiny_generator()
    ckpt = {"g_ema": rosinality_layout.generator_state(G)}
    if stored_average:  # convert_weight.py's output carries latent_avg
        ckpt["latent_avg"] = torch.zeros(G.w_dim)
    torch.save(ckpt, tmp_path / "ros.pt")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_generator(tmp_path / "ros.pt", "cpu")  # no truncation: the average is not used
        load_generator(tmp_path / "ros.pt", "cpu", truncation_psi=0.7)
    said = [str(w.message) for w in caught]
    estimated = load_network(tmp_path / "ros.pt")["G_ema"]
    assert estimated.mapping.w_avg.grad_fn is None  # estimated without autograd: metrics and projection deep-copy G
    copy.deepcopy(estimated)
    if stored_average:
        assert said == []
    else:
        assert said == [
            f"{tmp_path / 'ros.pt'}: stores no average w; truncation pulls toward one estimated from 10,000 mapped z "
            "(seed 0), so truncated images differ slightly from rosinality's generate.py, which estimates its own "
            "at every run"
        ]
