"""The GAN view's rendering: each image equals what its shown `stylegan2 generate` command writes."""

import io
import re
import shlex
import shutil
import warnings
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.explore import GanExplorer, SettingsError, open_explorer
from stylegan2.io import load_network, save_checkpoint
from stylegan2.tools import Directions, ToolError, factorize, save_directions, seed_ws
from stylegan2.tools.common import seed_latent


def read_png(path) -> np.ndarray:
    with PIL.Image.open(path) as image:
        return np.asarray(image)


def run_commands(commands: list[str], cwd: Path, net_path: Path) -> Path:
    """Run the explorer's commands as a user would in `cwd`; returns the folder `generate` wrote to."""
    out = cwd / "out"
    for command in commands:
        args = shlex.split(command)
        assert args[0] == "stylegan2"
        args = args[1:] + (["--outdir", str(out)] if args[1] == "generate" else []) + ["--device", "cpu"]
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return out


def assert_commands_write_the_image(explorer: GanExplorer, settings, cwd: Path, net_path: Path) -> list[str]:
    """Save the page's "Download w" file in `cwd` and run the page's commands there: they write one image, named as
    the page's "Download PNG", equal to the rendered one. Returns the commands."""
    image = explorer.render(settings)
    (cwd / explorer.w_file_name(settings)).write_bytes(explorer.w_npz(settings))
    commands = explorer.commands(settings)
    out = run_commands(commands, cwd, net_path)
    written = sorted(out.glob("*.png"))
    assert [path.name for path in written] == [explorer.file_name(settings)]
    np.testing.assert_array_equal(read_png(written[0]), image)
    return commands


@pytest.fixture
def explorer(gan_file) -> GanExplorer:
    return open_explorer(gan_file, "cpu", top_k=4)


def render(explorer: GanExplorer, **query: str) -> np.ndarray:
    return explorer.render(explorer.parse(query))


def test_directions_are_computed_on_load_strongest_first(explorer):
    info = explorer.info()
    eigenvalues = [d["eigenvalue"] for d in info["directions"]]
    assert len(eigenvalues) == 4 and eigenvalues == sorted(eigenvalues, reverse=True)
    assert info["num_ws"] == 6 and info["resolution"] == 16 and info["c_dim"] == 0
    assert info["mix_presets"] == {"all": "0-5", "coarse": "0-3", "middle": "4-5"}  # no 'fine' below 64 px


def test_info_names_the_network_file_for_the_pages_title(explorer, gan_file):
    assert explorer.info()["network_file"] == gan_file.name


@pytest.mark.parametrize("query", [
    {"seed": "7"},
    {"seed": "7", "psi": "0.7", "cutoff": "2"},
    {"seed": "3", "psi": "0.5", "noise": "random"},
    {"seed": "3", "noise": "none", "d1": "2.5"},
    {"seed": "11", "psi": "0.8", "mix_seed": "4", "mix_styles": "coarse"},
    {"seed": "11", "d0": "-1.5", "d2": "3", "noise": "random"},
], ids=["seed", "truncation", "random-noise", "one-direction", "mixing", "two-directions"])
def test_the_image_and_its_name_equal_what_its_generate_command_writes(explorer, gan_file, tmp_path, monkeypatch, query):
    monkeypatch.chdir(tmp_path)
    assert_commands_write_the_image(explorer, explorer.parse(query), tmp_path, gan_file)


def test_plain_settings_give_a_seed_command_and_mixing_a_w_file(explorer, gan_file):
    net = str(gan_file)
    assert explorer.commands(explorer.parse({"seed": "7", "psi": "0.7"})) == [
        f"stylegan2 generate --network {net} --seeds 7 --trunc 0.7"]
    mixed = explorer.parse({"seed": "7", "mix_seed": "1", "mix_styles": "0-2"})
    assert explorer.commands(mixed) == [f"stylegan2 generate --network {net} --projected-w {explorer.w_file_name(mixed)}"]
    other = explorer.parse({"seed": "8", "mix_seed": "1", "mix_styles": "0-2"})  # another image, another file name
    assert re.fullmatch(r"explore_w-[0-9a-f]{8}\.npz", explorer.w_file_name(mixed))
    assert explorer.w_file_name(other) != explorer.w_file_name(mixed) == explorer.w_file_name(explorer.parse(
        {"seed": "7", "mix_seed": "1", "mix_styles": "0-2"}))


def test_mixing_copies_the_second_seeds_ws_on_the_chosen_layers_only(explorer):
    G = explorer.G
    settings = explorer.parse({"seed": "5", "psi": "0.6", "mix_seed": "9", "mix_styles": "middle"})
    ws = explorer.ws(settings)
    first, second = seed_ws(G, 5, 0.6), seed_ws(G, 9, 0.6)
    torch.testing.assert_close(ws[:, :4], first[:, :4], rtol=0, atol=0)
    torch.testing.assert_close(ws[:, 4:], second[:, 4:], rtol=0, atol=0)
    sources = [layer["seed"] for layer in explorer.layers(settings)]
    assert sources == [5, 5, 5, 5, 9, 9]


def test_direction_strengths_add_up_along_orthonormal_directions(explorer):
    d = torch.from_numpy(explorer.directions.directions)
    ws = explorer.ws(explorer.parse({"seed": "2", "d0": "2", "d3": "-1"}))
    base = explorer.ws(explorer.parse({"seed": "2"}))
    torch.testing.assert_close(ws - base, (2 * d[0] - d[3]).expand_as(ws), rtol=0, atol=1e-5)


def test_moving_seed_psi_or_a_direction_changes_the_image(explorer):
    base = render(explorer, seed="0")
    for change in ({"seed": "1"}, {"psi": "0.5"}, {"d0": "2"}):
        assert not np.array_equal(render(explorer, **{"seed": "0", **change}), base), change


def test_the_layer_view_marks_truncated_and_moved_ws(explorer):
    layers = explorer.layers(explorer.parse({"seed": "0", "psi": "0.5", "cutoff": "2", "d0": "1"}))
    assert [layer["truncated"] for layer in layers] == [True, True, False, False, False, False]
    assert all(layer["moved"] for layer in layers)  # SeFa over all layers moves every w
    assert layers[0]["layers"] == ["b4.conv1"] and layers[1]["layers"] == ["b4.torgb", "b8.conv0"]


def test_directions_found_on_load_are_written_to_a_folder_of_the_networks_own(gan_file, tmp_path, monkeypatch):
    """Two networks explored in one folder must not share a directions file: the second's command would use the
    first's directions and write another image."""
    monkeypatch.chdir(tmp_path)
    G = load_network(gan_file)["G_ema"]
    torch.manual_seed(7)
    with torch.no_grad():
        for name, param in G.named_parameters():
            if "affine" in name:  # other style weights: other SeFa directions
                param.add_(torch.randn_like(param))
    other = save_checkpoint(tmp_path / "other.safetensors", {"G_ema": G})
    for network in (other, gan_file):  # the other network's commands first, in the same folder
        explorer = open_explorer(network, "cpu", top_k=2)
        settings = explorer.parse({"seed": "4", "d1": "-2"})
        commands = explorer.commands(settings)
        assert re.search(rf"--outdir explore-directions/{network.stem}-[0-9a-f]{{8}}-all$", commands[0]), commands
        out = run_commands(commands, tmp_path, network)
        np.testing.assert_array_equal(read_png(next(out.glob("*.png"))), explorer.render(settings))
        shutil.rmtree(out)


def test_two_runs_snapshots_of_the_same_name_get_folders_of_their_own(gan_file, tmp_path, monkeypatch):
    """Every training run names its snapshots alike: a folder named after the file alone made the second run's
    `directions` command fail (the file exists) and its `generate` use the first run's directions."""
    monkeypatch.chdir(tmp_path)
    G = load_network(gan_file)["G_ema"]
    snapshots = []
    for run_dir, shift in (("00000-a", 0.0), ("00001-b", 1.0)):
        with torch.no_grad():
            for name, param in G.named_parameters():
                if "affine.weight" in name:
                    param.add_(shift * torch.randn_like(param))
        (tmp_path / run_dir).mkdir()
        snapshots.append(save_checkpoint(tmp_path / run_dir / "network-snapshot-000000-224.safetensors", {"G_ema": G}))
    folders = []
    for network in snapshots:
        explorer = open_explorer(network, "cpu", top_k=2)
        settings = explorer.parse({"seed": "3", "psi": "0.7", "d1": "1.5"})
        commands = explorer.commands(settings)
        folders.append(shlex.split(commands[0])[-1])
        out = run_commands(commands, tmp_path, network)
        np.testing.assert_array_equal(read_png(next(out.glob("*.png"))), explorer.render(settings))
        shutil.rmtree(out)
    assert folders[0] != folders[1]


def test_a_directions_file_is_used_and_named_in_the_command(gan_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_commands([f"stylegan2 directions --network {gan_file} --layers coarse --strips 0 --outdir dirs"], tmp_path, gan_file)
    explorer = open_explorer(gan_file, "cpu", directions="dirs/directions.npz", top_k=2)
    settings = explorer.parse({"seed": "4", "d1": "-2"})
    commands = explorer.commands(settings)
    assert commands == [f"stylegan2 generate --network {gan_file} --seeds 4 --direction dirs/directions.npz --index 1 --strength -2.0"]
    out = run_commands(commands, tmp_path, gan_file)
    np.testing.assert_array_equal(read_png(next(out.glob("*.png"))), explorer.render(settings))
    assert [layer["moved"] for layer in explorer.layers(settings)] == [True] * 4 + [False] * 2


def test_conditional_networks_need_a_class_in_range(cond_gan_file, tmp_path, monkeypatch):
    explorer = open_explorer(cond_gan_file, "cpu", top_k=2)
    with pytest.raises(SettingsError, match=r"class: missing; this network is conditional, choose a class in 0..3"):
        explorer.parse({"seed": "1"})
    with pytest.raises(SettingsError, match=r"class: 4 is out of range; use 0..3"):
        explorer.parse({"seed": "1", "class": "4"})
    settings = explorer.parse({"seed": "1", "class": "2", "d0": "1.5"})
    assert not np.array_equal(explorer.render(settings), render(explorer, seed="1", **{"class": "1", "d0": "1.5"}))
    monkeypatch.chdir(tmp_path)
    out = run_commands(explorer.commands(settings), tmp_path, cond_gan_file)
    np.testing.assert_array_equal(read_png(next(out.glob("*.png"))), explorer.render(settings))


def test_the_w_download_is_what_generate_projected_w_reads(explorer):
    settings = explorer.parse({"seed": "3", "mix_seed": "8", "mix_styles": "0-1"})
    with np.load(io.BytesIO(explorer.w_npz(settings)), allow_pickle=False) as npz:
        assert list(npz) == ["w"] and npz["w"].dtype == np.float32
        np.testing.assert_array_equal(npz["w"], explorer.ws(settings).numpy())


def test_bad_mix_styles_name_the_parameter(explorer):
    with pytest.raises(SettingsError, match=r"mix_styles: 0-9 reaches 9, out of range; this network has ws 0..5"):
        explorer.parse({"seed": "1", "mix_seed": "2", "mix_styles": "0-9"})
    with pytest.raises(SettingsError, match="mix_styles: needs mix_seed"):
        explorer.parse({"seed": "1", "mix_styles": "0-2"})


def test_a_second_seed_alone_mixes_the_styles_the_page_preselects(explorer):
    mixed = explorer.parse({"seed": "9", "mix_seed": "4"})
    assert mixed.mix_styles == explorer.info()["default_mix_styles"] == "0-5"
    np.testing.assert_array_equal(explorer.render(mixed), render(explorer, seed="9", mix_seed="4", mix_styles="0-5"))
    assert not np.array_equal(explorer.render(mixed), render(explorer, seed="9"))


def test_directions_file_errors_name_the_directions_option(gan_file, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.npz: no such directions file \(--directions\)"):
        open_explorer(gan_file, "cpu", directions=tmp_path / "nope.npz")
    (tmp_path / "t.txt").write_text("not an npz")
    with pytest.raises(ToolError, match=r"t\.txt: not an \.npz written by `stylegan2 directions` \(--directions\)"):
        open_explorer(gan_file, "cpu", directions=tmp_path / "t.txt")
    save_directions(tmp_path / "other.npz", Directions(np.eye(8, dtype=np.float32), np.ones(8, np.float32), [0], ["b4"]))
    with pytest.raises(ToolError, match=r"other\.npz: the directions were computed for w_dim 8 and at least 1 ws, but this "
                                        r"network has w_dim 16 and 6 ws \(--directions\); compute them for this network"):
        open_explorer(gan_file, "cpu", directions=tmp_path / "other.npz")


def test_another_networks_directions_file_is_noted_naming_both(gan_file, tmp_path):
    G = load_network(gan_file)["G_ema"]
    with torch.no_grad():
        G.synthesis.b4.conv1.affine.weight.add_(1.0)
    other = save_checkpoint(tmp_path / gan_file.name, {"G_ema": G})  # the same file name, other style weights
    save_directions(tmp_path / "d.npz", factorize(G))
    with pytest.warns(UserWarning, match=rf"^{re.escape(str(tmp_path))}/d\.npz: its directions were computed from another "
                                         rf"network \(style weights [0-9a-f]{{8}}\), not from {re.escape(str(gan_file))} "
                                         r"\(style weights [0-9a-f]{8}\) \(--directions\); they move "):
        open_explorer(gan_file, "cpu", directions=tmp_path / "d.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the network they came from: no note
        assert open_explorer(other, "cpu", directions=tmp_path / "d.npz").directions.fingerprint == factorize(G).fingerprint


def test_a_directions_file_without_a_network_record_is_noted_once_with_the_command_that_remakes_it(gan_file, tmp_path):
    found = factorize(load_network(gan_file)["G_ema"])
    np.savez(tmp_path / "old.npz", directions=found.directions, eigenvalues=found.eigenvalues,
             layers=np.asarray(found.layers), layer_names=np.asarray(found.layer_names))  # as older versions wrote it
    with pytest.warns(UserWarning) as notes:
        explorer = open_explorer(gan_file, "cpu", directions=tmp_path / "old.npz", top_k=2)
    assert [str(note.message) for note in notes] == [
        f"{tmp_path}/old.npz: records no network (written by an older stylegan2), so it cannot be checked against "
        f"{gan_file} (--directions); to use {gan_file}'s own directions, remake it: stylegan2 directions --network "
        f"{gan_file} --layers 0-5 --outdir {tmp_path}/{gan_file.stem}"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once: rendering along them notes nothing more
        explorer.render(explorer.parse({"seed": "1", "d0": "1"}))


def test_layers_with_a_directions_file_are_refused_not_ignored(gan_file, tmp_path):
    save_directions(tmp_path / "d.npz", factorize(open_explorer(gan_file, "cpu").G, "coarse"))
    with pytest.raises(ToolError, match="^--layers: the directions of --directions act on the layers they were computed for"):
        open_explorer(gan_file, "cpu", directions=tmp_path / "d.npz", layers="all")
    assert open_explorer(gan_file, "cpu", directions=tmp_path / "d.npz").directions.layers == [0, 1, 2, 3]


def test_a_conditional_network_mixed_gives_a_w_file_command_without_class(cond_gan_file, tmp_path, monkeypatch):
    """The downloaded w holds its class, and generate refuses --class with --projected-w."""
    explorer = open_explorer(cond_gan_file, "cpu", top_k=2)
    settings = explorer.parse({"seed": "1", "class": "2", "mix_seed": "3", "mix_styles": "0-1"})
    assert explorer.commands(settings) == [
        f"stylegan2 generate --network {cond_gan_file} --projected-w {explorer.w_file_name(settings)}"]
    monkeypatch.chdir(tmp_path)
    assert_commands_write_the_image(explorer, settings, tmp_path, cond_gan_file)


def test_the_second_seed_may_take_another_class_and_its_w_file_command_renders_it(cond_gan_file, tmp_path,
                                                                                   monkeypatch):
    explorer = open_explorer(cond_gan_file, "cpu", top_k=2)
    G = explorer.G
    settings = explorer.parse({"seed": "1", "class": "2", "mix_seed": "3", "mix_styles": "0-1", "mix_class": "0"})
    ws = explorer.ws(settings)
    torch.testing.assert_close(ws[:, :2], seed_ws(G, 3, class_idx=0)[:, :2], rtol=0, atol=0)
    torch.testing.assert_close(ws[:, 2:], seed_ws(G, 1, class_idx=2)[:, 2:], rtol=0, atol=0)
    same = explorer.parse({"seed": "1", "class": "2", "mix_seed": "3", "mix_styles": "0-1"})
    assert not torch.equal(ws, explorer.ws(same))  # without mix_class the second seed keeps class 2
    assert [(layer["seed"], layer["class"]) for layer in explorer.layers(settings)][:3] == [(3, 0), (3, 0), (1, 2)]
    monkeypatch.chdir(tmp_path)
    assert_commands_write_the_image(explorer, settings, tmp_path, cond_gan_file)


def test_a_second_seeds_class_equal_to_the_first_is_the_same_settings(cond_gan_file):
    """The same image: the same w-file name and command as without mix_class."""
    explorer = open_explorer(cond_gan_file, "cpu", top_k=0)
    plain = explorer.parse({"seed": "1", "class": "2", "mix_seed": "3", "mix_styles": "0-1"})
    same = explorer.parse({"seed": "1", "class": "2", "mix_seed": "3", "mix_styles": "0-1", "mix_class": "2"})
    assert same == plain and same.mix_class is None
    assert explorer.w_file_name(same) == explorer.w_file_name(plain) and explorer.commands(same) == explorer.commands(plain)


def test_on_a_cluster_network_without_classes_each_seed_draws_its_own_cluster(cluster_gan_file):
    """mix_class left out takes the first seed's class only when one is picked; else the second seed draws its own
    cluster, and the layer table says which (the page's default option says the same)."""
    explorer = open_explorer(cluster_gan_file, "cpu", top_k=0)
    G = explorer.G
    assert G.mapping.draws_labels
    everything = f"0-{G.num_ws - 1}"
    settings = explorer.parse({"seed": "3", "mix_seed": "9", "mix_styles": everything})
    np.testing.assert_array_equal(explorer.render(settings), explorer.render(explorer.parse({"seed": "9"})))
    rows = explorer.layers(settings)
    assert {(row["seed"], row["class_drawn"]) for row in rows} == {(9, True)}
    drawn = rows[0]["class"]
    _, c = G.mapping.draw_labels(seed_latent(G, 9))
    assert int(c.argmax()) == drawn  # the cluster the mapping used for seed 9
    mixed = explorer.parse({"seed": "3", "mix_seed": "9", "mix_styles": "0-1"})
    first = explorer.layers(mixed)[2]
    assert (first["seed"], first["class"], first["class_drawn"]) == (3, explorer.drawn_class(3), True)
    picked = explorer.parse({"seed": "3", "class": "1", "mix_seed": "9", "mix_styles": "0-1"})
    assert [(row["seed"], row["class"], row["class_drawn"]) for row in explorer.layers(picked)][1:3] == [
        (9, 1, False), (3, 1, False)]  # a picked cluster is the second seed's too
    torch.testing.assert_close(explorer.ws(picked)[:, :2], seed_ws(G, 9, class_idx=1)[:, :2], rtol=0, atol=0)


def test_an_unconditional_networks_rows_have_no_class(explorer):
    row = explorer.layers(explorer.parse({"seed": "3", "mix_seed": "9", "mix_styles": "0-1"}))[0]
    assert (row["class"], row["class_drawn"]) == (None, False)


@pytest.mark.parametrize("query, message", [
    ({"seed": "1", "class": "2", "mix_class": "0"}, "mix_class: needs mix_seed, the seed it is the class of"),
    ({"seed": "1", "class": "2", "mix_seed": "3", "mix_class": "4"}, "mix_class: 4 is out of range; use 0..3"),
])
def test_a_second_seeds_class_is_checked(cond_gan_file, query, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        open_explorer(cond_gan_file, "cpu", top_k=0).parse(query)


def test_an_unconditional_network_refuses_a_second_seeds_class(explorer):
    with pytest.raises(SettingsError, match="mix_class: this network is unconditional"):
        explorer.parse({"seed": "1", "mix_seed": "3", "mix_class": "0"})


@pytest.fixture
def projected_file(gan_file, tmp_path) -> Path:
    """A projection result: one w, here seed 5's (with noise the network draws: gan_file's noise is on)."""
    path = tmp_path / "me" / "projected_w.npz"
    path.parent.mkdir()
    np.savez(path, w=seed_ws(load_network(gan_file)["G_ema"], 5).numpy())
    return path


@pytest.mark.parametrize("query", [
    {"w": "0"},
    {"w": "0", "psi": "0.7", "cutoff": "2"},
    {"w": "0", "noise": "random", "d1": "2.5"},
    {"w": "0", "psi": "0.8", "mix_seed": "4", "mix_styles": "coarse"},
    {"w": "0", "d0": "-1.5", "d2": "3", "noise": "random"},
], ids=["w", "truncation", "random-noise-one-direction", "mixing", "two-directions"])
def test_a_projected_start_equals_what_its_generate_command_writes(gan_file, projected_file, tmp_path, monkeypatch,
                                                                   query):
    explorer = open_explorer(gan_file, "cpu", top_k=4, projected_w=projected_file)
    settings = explorer.parse(query)
    monkeypatch.chdir(tmp_path)
    commands = assert_commands_write_the_image(explorer, settings, tmp_path, gan_file)
    if not explorer.uses_w_file(settings):
        assert f"--projected-w {projected_file}" in commands[-1], commands


def test_a_projected_start_is_the_projected_w_and_the_layer_view_says_so(gan_file, projected_file):
    explorer = open_explorer(gan_file, "cpu", top_k=2, projected_w=projected_file)
    assert explorer.info()["projected"] == 1 and explorer.info()["projected_file"] == "projected_w.npz"
    settings = explorer.parse({"w": "0", "mix_seed": "2", "mix_styles": "4-5"})
    torch.testing.assert_close(explorer.ws(explorer.parse({"w": "0"})), torch.from_numpy(np.load(projected_file)["w"]),
                               rtol=0, atol=0)
    layers = explorer.layers(settings)
    assert [(layer["seed"], layer["projected"]) for layer in layers] == [(None, 0)] * 4 + [(2, None)] * 2


def test_one_of_several_projected_ws_is_downloaded_for_its_command(gan_file, tmp_path, monkeypatch):
    """generate --projected-w on a file of several ws writes them all: the page's command is the downloaded w's."""
    G = load_network(gan_file)["G_ema"]
    path = tmp_path / "two.npz"
    np.savez(path, w=torch.cat([seed_ws(G, 1), seed_ws(G, 2)]).numpy())
    explorer = open_explorer(gan_file, "cpu", top_k=2, projected_w=path)
    second = explorer.parse({"w": "1", "noise": "random"})
    assert explorer.uses_w_file(second) and not np.array_equal(explorer.render(second), render(explorer, w="0"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / explorer.w_file_name(second)).write_bytes(explorer.w_npz(second))
    out = run_commands(explorer.commands(second), tmp_path, gan_file)
    np.testing.assert_array_equal(read_png(out / explorer.file_name(second)), explorer.render(second))


def test_projected_and_seed_starts_are_refused_where_they_do_not_apply(gan_file, projected_file, swapae_file):
    projected = open_explorer(gan_file, "cpu", top_k=2, projected_w=projected_file)
    with pytest.raises(SettingsError, match=r"^seed: this explorer starts from the ws of --projected-w; choose one with w=0..0$"):
        projected.parse({"seed": "3"})
    with pytest.raises(SettingsError, match=r"^w: missing; give w in 0..0$"):
        projected.parse({"psi": "0.5"})
    with pytest.raises(SettingsError, match=r"^w: 1 is out of range; use 0..0$"):
        projected.parse({"w": "1"})
    with pytest.raises(SettingsError, match=r"^w: this explorer starts from seeds \(start it with --projected-w"):
        open_explorer(gan_file, "cpu", top_k=2).parse({"seed": "1", "w": "0"})
    with pytest.raises(ToolError, match=r"^--projected-w: a Swapping Autoencoder has no w"):
        open_explorer(swapae_file, "cpu", projected_w=projected_file)


def test_a_projected_w_of_another_network_names_the_option(gan_file, tmp_path):
    np.savez(tmp_path / "other.npz", w=np.zeros((1, 8, 32), np.float32))
    with pytest.raises(ToolError, match=r"other\.npz: w has shape \[1, 8, 32\], but this network needs \[N, 6, 16\]"):
        open_explorer(gan_file, "cpu", projected_w=tmp_path / "other.npz")


def test_a_projected_start_on_a_conditional_network_needs_a_class_only_to_mix(cond_gan_file, tmp_path, monkeypatch):
    """The projected w holds its class; the directions come from the weights: only a mixed-in seed needs a class."""
    path = tmp_path / "me.npz"
    np.savez(path, w=seed_ws(load_network(cond_gan_file)["G_ema"], 5, class_idx=1).numpy())
    explorer = open_explorer(cond_gan_file, "cpu", top_k=2, projected_w=path)
    settings = explorer.parse({"w": "0", "d1": "2"})
    commands = explorer.commands(settings)
    assert "--class" not in " ".join(commands) and commands[0].startswith("stylegan2 directions"), commands
    monkeypatch.chdir(tmp_path)
    out = run_commands(commands, tmp_path, cond_gan_file)
    np.testing.assert_array_equal(read_png(out / explorer.file_name(settings)), explorer.render(settings))
    with pytest.raises(SettingsError, match=r"^class: missing; this network is conditional, choose a class in 0..3 for mix_seed$"):
        explorer.parse({"w": "0", "mix_seed": "4"})
    with pytest.raises(SettingsError, match=r"^mix_class: starting from a projected w, class is already the second seed's"):
        explorer.parse({"w": "0", "class": "1", "mix_seed": "4", "mix_class": "2"})


# Networks trained on label vectors (Generator.label_kind "vectors"): a label in place of the class

@pytest.mark.parametrize("query", [
    {"seed": "7", "label": "0.5,0,1"},
    {"seed": "7", "label": "-0.5, 1e-5, 2", "psi": "0.7", "noise": "random"},  # a leading minus, as --label reads it
    {"seed": "4", "label": "0.1,0.2,0.3", "d1": "-2"},
    {"seed": "3", "label": "1,0,0", "mix_seed": "9", "mix_styles": "0-1"},
    {"seed": "3", "label": "1,0,0", "mix_seed": "9", "mix_styles": "0-1", "mix_label": "0,2,0"},
], ids=["label", "signed-label-truncation-noise", "direction", "mixing", "mixing-own-label"])
def test_a_label_vector_image_equals_what_its_generate_command_writes(vector_gan_file, tmp_path, monkeypatch, query):
    explorer = open_explorer(vector_gan_file, "cpu", top_k=2)
    settings = explorer.parse(query)
    monkeypatch.chdir(tmp_path)
    commands = assert_commands_write_the_image(explorer, settings, tmp_path, vector_gan_file)
    if not explorer.uses_w_file(settings):
        assert f"--label {explorer.seed_label(settings, False)}" in commands[-1], commands


def test_a_label_vector_is_the_networks_input_and_the_second_seed_takes_it_or_its_own(vector_gan_file):
    explorer = open_explorer(vector_gan_file, "cpu", top_k=0)
    G = explorer.G
    label = explorer.parse({"seed": "3", "label": "0.5,0,1"})
    torch.testing.assert_close(explorer.ws(label), seed_ws(G, 3, label=[0.5, 0, 1]), rtol=0, atol=0)
    assert not torch.equal(explorer.ws(label), explorer.ws(explorer.parse({"seed": "3", "label": "0,0.5,1"})))
    same = explorer.parse({"seed": "3", "label": "0.5,0,1", "mix_seed": "9", "mix_styles": "0-1"})
    torch.testing.assert_close(explorer.ws(same)[:, :2], seed_ws(G, 9, label=[0.5, 0, 1])[:, :2], rtol=0, atol=0)
    own = explorer.parse({"seed": "3", "label": "0.5,0,1", "mix_seed": "9", "mix_styles": "0-1", "mix_label": "0,2,0"})
    torch.testing.assert_close(explorer.ws(own)[:, :2], seed_ws(G, 9, label=[0, 2, 0])[:, :2], rtol=0, atol=0)
    torch.testing.assert_close(explorer.ws(own)[:, 2:], seed_ws(G, 3, label=[0.5, 0, 1])[:, 2:], rtol=0, atol=0)
    assert [(row["seed"], row["class"], row["label"]) for row in explorer.layers(own)][1:3] == [
        (9, None, "0,2,0"), (3, None, "0.5,0,1")]
    assert explorer.parse({"seed": "3", "label": "0.5,0,1", "mix_seed": "9", "mix_label": "0.5, 0, 1.0"}).mix_label is None
    assert explorer.info()["label_kind"] == "vectors"


@pytest.mark.parametrize("query, message", [
    ({"seed": "1"}, "label: missing; this network was trained on label vectors, give 3 numbers separated by commas"),
    ({"seed": "1", "class": "1"}, "class: this network was trained on label vectors, not classes; give label "
                                  "(3 numbers separated by commas) instead"),
    ({"seed": "1", "label": "1,0"}, "label: gives 2 values, but this network's labels have 3 (c_dim); give 3 numbers "
                                    "separated by commas"),
    ({"seed": "1", "label": "1,x,0"}, "label: cannot read '1,x,0'; give the label vector's numbers separated by commas"),
    ({"seed": "1", "label": "1,nan,0"}, "label: '1,nan,0': holds NaN or infinite values; give finite numbers"),
    ({"seed": "1", "label": "1,1e999,0"}, "label: '1,1e999,0': holds NaN or infinite values"),
    ({"seed": "1", "label": "x" * 5000}, "label: cannot read 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'; give"),
    ({"seed": "1", "label": "1,0,0", "mix_label": "0,1"}, "mix_label: needs mix_seed, the seed it is the label of"),
    ({"seed": "1", "label": "1,0,0", "mix_seed": "2", "mix_label": "0,1"}, "mix_label: gives 2 values, but this "
                                                                          "network's labels have 3"),
    ({"seed": "1", "label": "1,0,0", "mix_seed": "2", "mix_class": "1"}, "mix_class: this network was trained on label "
                                                                        "vectors, not classes; give mix_label"),
])
def test_a_bad_label_vector_is_refused_naming_the_parameter(vector_gan_file, query, message):
    with pytest.raises(SettingsError, match="^" + re.escape(message)):
        open_explorer(vector_gan_file, "cpu", top_k=0).parse(query)


def test_a_label_vector_is_refused_where_the_network_takes_classes_or_no_label(cond_gan_file, gan_file):
    with pytest.raises(SettingsError, match=r"^label: this network takes classes, not label vectors; use class$"):
        open_explorer(cond_gan_file, "cpu", top_k=0).parse({"seed": "1", "class": "0", "label": "1,0,0,0"})
    with pytest.raises(SettingsError, match=r"^mix_label: this network is unconditional \(no labels\); leave mix_label out$"):
        open_explorer(gan_file, "cpu", top_k=0).parse({"seed": "1", "mix_seed": "2", "mix_label": "1"})


def test_a_projected_start_on_a_label_vector_network_needs_a_label_only_to_mix(vector_gan_file, tmp_path, monkeypatch):
    path = tmp_path / "me.npz"
    np.savez(path, w=seed_ws(load_network(vector_gan_file)["G_ema"], 5, label=[0, 1, 0]).numpy())
    explorer = open_explorer(vector_gan_file, "cpu", top_k=2, projected_w=path)
    settings = explorer.parse({"w": "0", "d1": "2"})
    assert "--label" not in " ".join(explorer.commands(settings))
    mixed = explorer.parse({"w": "0", "label": "1,0,2", "mix_seed": "4", "mix_styles": "0-1"})
    assert [row["label"] for row in explorer.layers(mixed)][1:3] == ["1,0,2", None]
    monkeypatch.chdir(tmp_path)
    (tmp_path / explorer.w_file_name(mixed)).write_bytes(explorer.w_npz(mixed))
    out = run_commands(explorer.commands(mixed), tmp_path, vector_gan_file)
    np.testing.assert_array_equal(read_png(out / explorer.file_name(mixed)), explorer.render(mixed))
    with pytest.raises(SettingsError, match=r"^label: missing; this network was trained on label vectors, give 3 numbers "
                                            r"separated by commas for mix_seed$"):
        explorer.parse({"w": "0", "mix_seed": "4"})
    with pytest.raises(SettingsError, match=r"^mix_label: starting from a projected w, label is already the second seed's"):
        explorer.parse({"w": "0", "label": "1,0,0", "mix_seed": "4", "mix_label": "0,1,0"})
