"""Conditional networks in the tools: several classes per `generate`, class names in its files, cross-class style
mixing (`mix --col-class`), and label vectors (`--label`, `mix --col-label`) in place of a class."""

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.io import save_checkpoint
from stylegan2.models import Generator
from stylegan2.tools import (
    ToolError,
    direction_strip,
    factorize,
    find_directions,
    generate_images,
    interpolation_ws,
    project,
    project_image,
    render_video,
    seed_images,
    seed_ws,
    style_mix,
    style_mix_images,
    synthesize,
)
from stylegan2.tools.common import ToolOptionError, class_label, parse_label, seed_latent
from stylegan2.tools.generate import image_name
from stylegan2.tools.project import ProjectionConfig
from stylegan2.utils.image import image_grid


def read_png(path) -> np.ndarray:
    with PIL.Image.open(path) as image:
        return np.asarray(image)


def run(*args: str):
    return CliRunner().invoke(main, [*args, "--device", "cpu"])


@pytest.fixture
def clustered_G() -> Generator:
    torch.manual_seed(0)
    return Generator(z_dim=16, c_dim=4, w_dim=16, img_resolution=16, img_channels=3,
                     mapping_kwargs={"num_layers": 2, "c_prior": [0.4, 0.3, 0.2, 0.1]},
                     synthesis_kwargs={"channel_base": 128, "channel_max": 16}).eval()


# Several classes in one `generate`

def test_several_classes_render_each_seed_in_each_class_named_by_class(tiny_generator, tmp_path):
    G = tiny_generator(c_dim=3)
    paths = generate_images(G, "4-5", tmp_path, class_idx="0-2")
    assert [p.name for p in paths] == ["seed0004-class00.png", "seed0005-class00.png", "seed0004-class01.png",
                                       "seed0005-class01.png", "seed0004-class02.png", "seed0005-class02.png"]
    for c in range(3):
        for seed in (4, 5):
            np.testing.assert_array_equal(read_png(tmp_path / f"seed{seed:04d}-class{c:02d}.png"),
                                          seed_images(G, [seed], class_idx=c)[0])
    np.testing.assert_array_equal(seed_images(G, [4, 5], class_idx=[2, 0]),
                                  np.concatenate([seed_images(G, [4, 5], class_idx=c) for c in (2, 0)]))


@pytest.mark.parametrize("class_idx", [1, "1", [1]])
def test_one_class_keeps_nvidias_file_names(tiny_generator, tmp_path, class_idx):
    """NVIDIA's generate.py writes seed0012.png whatever the class; their scripts (and ours) expect that name."""
    G = tiny_generator(c_dim=3)
    (path,) = generate_images(G, [7], tmp_path, class_idx=class_idx)
    assert path.name == "seed0007.png"
    np.testing.assert_array_equal(read_png(path), seed_images(G, [7], class_idx=1)[0])


def test_the_class_in_names_has_the_digits_of_the_networks_classes():
    assert image_name(seed=12, class_idx=3, c_dim=10) == "seed0012-class03.png"
    assert image_name(seed=12, class_idx=7, c_dim=150, index=2, strength=1.5) == "seed0012-class007-dir2+1.5.png"


def test_a_grid_of_several_classes_has_a_row_per_class(tiny_generator, tmp_path):
    G = tiny_generator(c_dim=3)
    (path,) = generate_images(G, "0-3", tmp_path, class_idx=[0, 1, 2], grid="4x3")
    rows = [seed_images(G, "0-3", class_idx=c) for c in range(3)]
    np.testing.assert_array_equal(read_png(path), image_grid(np.concatenate(rows), 4, 3))
    with pytest.raises(ToolOptionError, match=r"^--grid 4x4 has 16 cells for 12 images; use 4x3 \(a row per class\)$"):
        generate_images(G, "0-3", tmp_path / "x", class_idx="0-2", grid="4x4")


def test_a_rerun_names_the_seeds_and_classes_still_missing(tiny_generator, tmp_path):
    G = tiny_generator(c_dim=3)
    generate_images(G, "0-1", tmp_path, class_idx="0-2")
    for name in ("seed0001-class01.png", "seed0000-class02.png", "seed0001-class02.png"):  # a run killed in class 1
        (tmp_path / name).unlink()
    with pytest.raises(FileExistsError, match=r"seed0000-class00\.png already exists \(and 2 more\); to write only the "
                                              r"3 missing images: --seeds 1 --class 1, and --seeds 0-1 --class 2; or "
                                              r"pass --force"):
        generate_images(G, "0-1", tmp_path, class_idx="0-2")
    generate_images(G, "1", tmp_path, class_idx=1)  # one class: NVIDIA's name, which a several-class run does not write
    generate_images(G, "1", tmp_path / "c1", class_idx=[1, 2])  # the hint's own options write just what is missing
    assert sorted(p.name for p in (tmp_path / "c1").iterdir()) == ["seed0001-class01.png", "seed0001-class02.png"]


def test_one_class_rerun_hint_names_only_the_seeds(tiny_generator, tmp_path):
    G = tiny_generator(c_dim=3)
    generate_images(G, "0-2", tmp_path, class_idx=2)
    (tmp_path / "seed0002.png").unlink()
    with pytest.raises(FileExistsError, match=r"to write only the 1 missing image: --seeds 2; or pass --force"):
        generate_images(G, "0-2", tmp_path, class_idx=2)


def test_an_interrupted_several_class_run_names_the_rest_by_seed_and_class(tiny_generator, tmp_path, monkeypatch):
    G = tiny_generator(c_dim=3)
    rendered = []

    def interrupted_on_the_fourth(*args, **kwargs):
        if len(rendered) == 3:
            raise KeyboardInterrupt
        rendered.append(synthesize(*args, **kwargs))
        return rendered[-1]
    monkeypatch.setattr("stylegan2.tools.generate.synthesize", interrupted_on_the_fourth)
    with pytest.raises(KeyboardInterrupt), pytest.warns(UserWarning) as said:
        generate_images(G, "0-1", tmp_path, class_idx="0-2")
    assert str(said[-1].message) == (f"interrupted: wrote seed0000-class00.png to seed0000-class01.png (3 of 6) to "
                                     f"{tmp_path}; the rest: --seeds 1 --class 1, and --seeds 0-1 --class 2")


def test_several_classes_on_an_unconditional_network_are_one_failure_line(network_file, tmp_path):
    result = run("generate", "--network", str(network_file()), "--seeds", "0", "--class", "0-3", "--outdir", str(tmp_path))
    assert result.exit_code == 1
    assert result.output == "Error: --class 0-3: this network is unconditional (no class labels); drop it\n"


def test_the_cli_takes_class_lists_and_ranges(network_file, tmp_path):
    result = run("generate", "--network", str(network_file(c_dim=4)), "--seeds", "3", "--class", "1,3",
                 "--outdir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed0003-class01.png", "seed0003-class03.png"]
    result = run("generate", "--network", str(network_file(c_dim=4)), "--seeds", "3", "--class", "2-1")
    assert result.exit_code == 2 and "range '2-1' runs backwards; write it as 1-2" in result.output


@pytest.mark.parametrize("command, args", [("video", ["--seeds", "0-1"]), ("directions", []),
                                           ("project", ["--target", "t.png"]), ("mix", ["--rows", "0", "--cols", "1"])])
def test_the_tools_that_render_one_class_refuse_a_list_as_an_argument_error(network_file, tmp_path, command, args):
    result = run(command, "--network", str(network_file(c_dim=3)), *args, "--class", "0-2", "--outdir", str(tmp_path))
    assert result.exit_code == 2
    assert f"'0-2' is not a class index: give one whole number (0, 1, ...); `{command}` takes one class (`generate` " \
           "takes several)" in " ".join(result.output.split())


def test_the_python_tools_that_render_one_class_refuse_a_list(network_file, tmp_path):
    net = network_file(c_dim=3)
    with pytest.raises(ToolOptionError, match=r"^--class 0-2: a video shows one class; run it once per class$"):
        render_video(net, [0, 1], tmp_path, class_idx=[0, 1, 2])
    with pytest.raises(ToolOptionError, match=r"^--class 0,2: the strips show one class"):
        find_directions(net, tmp_path, class_idx="0,2")
    with pytest.raises(ToolOptionError, match=r"^--class 1-2: a projection starts from one class's mean w"):
        project_image(net, tmp_path / "t.png", tmp_path, class_idx=[1, 2])
    with pytest.raises(ToolOptionError, match=r"^--class 0-1: the figure's rows take one class; --col-class K gives"):
        style_mix(net, [0], [1], tmp_path, class_idx=[0, 1])
    assert list(tmp_path.iterdir()) == []


# Cross-class style mixing

def test_the_column_class_gives_the_column_seeds_their_class(tiny_generator):
    G = tiny_generator(c_dim=3)
    rows, cols, mixed = style_mix_images(G, [1, 2], [3], styles="all", class_idx=0, col_class=2)
    np.testing.assert_array_equal(rows, seed_images(G, [1, 2], class_idx=0))
    np.testing.assert_array_equal(cols, seed_images(G, [3], class_idx=2))
    np.testing.assert_array_equal(mixed[:, 0], np.stack([cols[0], cols[0]]))  # every style from the class-2 column
    _, same_class_cols, _ = style_mix_images(G, [1], [3], class_idx=0)
    np.testing.assert_array_equal(same_class_cols, seed_images(G, [3], class_idx=0))  # default: the rows' class


def test_mix_cli_mixes_across_classes(network_file, tiny_generator, tmp_path):
    G = tiny_generator(c_dim=3)
    result = run("mix", "--network", str(network_file(c_dim=3)), "--rows", "1", "--cols", "3", "--class", "0",
                 "--col-class", "2", "--styles", "3-5", "--outdir", str(tmp_path))
    assert result.exit_code == 0, result.output
    rows, cols, mixed = style_mix_images(G, [1], [3], styles="3-5", class_idx=0, col_class=2)
    np.testing.assert_array_equal(read_png(tmp_path / "stylemix.png")[16:, 16:], mixed[0, 0])
    np.testing.assert_array_equal(read_png(tmp_path / "stylemix.png")[:16, 16:], cols[0])


def test_a_cluster_network_takes_a_column_cluster(clustered_G):
    G = clustered_G
    _, cols, _ = style_mix_images(G, [1], [3], col_class=1)
    np.testing.assert_array_equal(cols, seed_images(G, [3], class_idx=1))


def test_the_column_class_is_refused_where_it_cannot_apply(network_file, tiny_generator, tmp_path):
    w = tmp_path / "w.npz"
    np.savez(w, w=seed_ws(tiny_generator(c_dim=3), 1, class_idx=1).detach().numpy())
    result = run("mix", "--network", str(network_file()), "--rows", "1", "--cols", "2", "--col-class", "1",
                 "--outdir", str(tmp_path / "u"))
    assert result.exit_code == 1 and result.output == "Error: --col-class 1: this network is unconditional (no class " \
                                                      "labels); drop it\n"
    result = run("mix", "--network", str(network_file(c_dim=3)), "--rows", "1", "--cols-w", str(w), "--class", "0",
                 "--col-class", "1", "--outdir", str(tmp_path / "p"))
    assert result.exit_code == 2 and "--col-class 1 picks the class of the column seeds; the columns are projected ws" \
                                     in " ".join(result.output.split())
    with pytest.raises(ToolOptionError, match=r"^--class 0 picks the class of the row seeds, but the rows are "
                                              r"projected ws"):
        style_mix(network_file(c_dim=3), None, [2], tmp_path, rows_w=w, class_idx=0, col_class=1)
    with pytest.raises(ToolOptionError, match=r"^--col-class 1 is a class, --label a label vector; give the columns a "
                                              r"label vector with --col-label \(without it they take --label\), or use "
                                              r"--class and --col-class$"):
        style_mix(network_file(c_dim=3), [1], [2], tmp_path, label=[1, 0, 0], col_class=1)
    with pytest.raises(ToolError, match=r"^--col-class 3 is out of range: this network has classes 0\.\.2$"):
        style_mix(network_file(c_dim=3), [1], [2], tmp_path, class_idx=0, col_class=3)
    assert not any(tmp_path.rglob("stylemix.png"))


# Label vectors

LABEL = [0.5, 0.0, 2.0]


def label_ws(G: Generator, seed: int, label=LABEL) -> torch.Tensor:
    return G.mapping(seed_latent(G, seed), torch.tensor([label]))


def test_generate_renders_a_label_vector_under_the_seeds_own_name(network_file, tiny_generator, tmp_path):
    G = tiny_generator(c_dim=3)
    result = run("generate", "--network", str(network_file(c_dim=3)), "--seeds", "4", "--label", "0.5,0,2",
                 "--outdir", str(tmp_path))
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_png(tmp_path / "seed0004.png"), synthesize(G, label_ws(G, 4))[0])
    np.testing.assert_array_equal(seed_images(G, [4], label=[0, 1, 0]), seed_images(G, [4], class_idx=1))


def test_every_seed_tool_takes_the_label_vector(tiny_generator):
    G = tiny_generator(c_dim=3)
    torch.testing.assert_close(seed_ws(G, 4, label=LABEL), label_ws(G, 4), rtol=0, atol=0)
    _, cols, _ = style_mix_images(G, [1], [4], label=LABEL)
    np.testing.assert_array_equal(cols[0], synthesize(G, label_ws(G, 4))[0])
    for space in ("z", "w"):
        first = interpolation_ws(G, [4, 5], 4, space, label=LABEL)[:1]
        torch.testing.assert_close(first, label_ws(G, 4), rtol=0, atol=1e-6)
    strip = direction_strip(G, factorize(G, "all"), 0, [4], strength=0, steps=2, label=LABEL)
    np.testing.assert_array_equal(strip[:, :16], synthesize(G, label_ws(G, 4), noise_seed=4)[0])


def test_projection_starts_from_the_label_vectors_mean_w(tiny_generator):
    G = tiny_generator(c_dim=3)
    target = seed_images(G, [1], class_idx=1)[0]
    config = ProjectionConfig(num_steps=2, w_avg_samples=64)
    as_label = project(G, target, config=config, label=[0, 1, 0]).w
    torch.testing.assert_close(as_label, project(G, target, config=config, class_idx=1).w, rtol=0, atol=0)
    assert not torch.equal(project(G, target, config=config, label=LABEL).w, as_label)


@pytest.mark.parametrize("command, args", [("generate", ["--seeds", "0"]), ("video", ["--seeds", "0-1"]),
                                           ("mix", ["--rows", "0", "--cols", "1"]), ("directions", []),
                                           ("project", ["--target", "t.png"])])
def test_every_tool_checks_the_label_against_the_network(network_file, tmp_path, command, args):
    cases = [(network_file(c_dim=3), "1,0", 1, "--label gives 2 values, but this network's labels have 3 (c_dim); "
                                           "give 3 numbers separated by commas"),
             (network_file(), "1,0", 1, "--label: this network is unconditional (no labels); drop it"),
             (network_file(c_dim=3), "x", 2, "Invalid value for '--label': cannot read 'x'"),
             (network_file(c_dim=3), "1,nan,0", 2, "holds NaN or infinite values")]
    for net, label, status, message in cases:
        result = run(command, "--network", str(net), *args, "--label", label, "--outdir", str(tmp_path))
        assert result.exit_code == status and message in " ".join(result.output.split()), result.output
    result = run(command, "--network", str(network_file(c_dim=3)), *args, "--label", "1,0,0", "--class", "1",
                 "--outdir", str(tmp_path))
    assert result.exit_code == 2 and "--class and --label both give the label; pass one of them" in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("label", ["1,1e39,0", "-1e39", [0.0, 1e300]])
def test_a_label_value_beyond_float32s_range_is_refused_as_infinite(label):
    """The network takes float32, where 1e39 is infinite and the image all black (qa-retest34 L1)."""
    with pytest.raises(ToolOptionError, match=r"^--col-label .*: holds NaN or infinite values; give finite numbers$"):
        parse_label(label, "--col-label")


def test_a_label_value_near_float32s_largest_is_kept():
    assert parse_label("3.4e38,-3.4e38,1e-50") == [3.4e38, -3.4e38, 1e-50]


def test_a_generated_image_with_a_huge_label_value_is_refused_before_any_file(network_file, tmp_path):
    result = run("generate", "--network", str(network_file(c_dim=3)), "--seeds", "0", "--label", "1e39,0,0",
                 "--outdir", str(tmp_path))
    assert result.exit_code == 2 and "--label '1e39,0,0': holds NaN or infinite values" in result.output, result.output
    assert list(tmp_path.iterdir()) == []


def test_the_column_label_gives_the_column_seeds_their_label_vector(tiny_generator):
    G = tiny_generator(c_dim=3)
    rows, cols, mixed = style_mix_images(G, [1, 2], [4], styles="all", label=LABEL, col_label=[0, 1, 0.5])
    np.testing.assert_array_equal(rows, np.concatenate([synthesize(G, label_ws(G, seed)) for seed in (1, 2)]))
    np.testing.assert_array_equal(cols[0], synthesize(G, label_ws(G, 4, [0, 1, 0.5]))[0])
    np.testing.assert_array_equal(mixed[:, 0], np.stack([cols[0], cols[0]]))  # every style from the column


def test_mix_cli_mixes_across_label_vectors(network_file, tiny_generator, tmp_path):
    G = tiny_generator(c_dim=3)
    result = run("mix", "--network", str(network_file(c_dim=3)), "--rows", "1", "--cols", "4", "--label", "0.5,0,2",
                 "--col-label", "0,1,0.5", "--styles", "3-5", "--outdir", str(tmp_path))
    assert result.exit_code == 0, result.output
    rows, cols, mixed = style_mix_images(G, [1], [4], styles="3-5", label=LABEL, col_label=[0, 1, 0.5])
    np.testing.assert_array_equal(read_png(tmp_path / "stylemix.png")[:16, 16:], cols[0])
    np.testing.assert_array_equal(read_png(tmp_path / "stylemix.png")[16:, 16:], mixed[0, 0])
    assert not np.array_equal(cols, style_mix_images(G, [1], [4], label=LABEL)[1])  # not the rows' label


def test_projected_rows_mix_with_column_seeds_of_their_own_class_or_label(tiny_generator, tmp_path):
    """The rows' missing --class was asked for, which the message about projected rows had said to leave out."""
    G = tiny_generator(c_dim=3)
    np.savez(tmp_path / "w.npz", w=seed_ws(G, 1, class_idx=1).detach().numpy())
    for own, c in (({"col_class": 2}, [0, 0, 1]), ({"col_label": LABEL}, LABEL)):
        path = style_mix(G, None, [4], tmp_path / "out", rows_w=tmp_path / "w.npz", styles="all", force=True, **own)
        np.testing.assert_array_equal(read_png(path)[:16, 16:], synthesize(G, label_ws(G, 4, c))[0])


@pytest.mark.parametrize("net, args, status, message", [
    ({}, ["--col-label", "1,0"], 1, "Error: --col-label: this network is unconditional (no labels); drop it"),
    ({"c_dim": 3}, ["--label", "1,0,0", "--col-label", "1,0"], 1,
     "Error: --col-label gives 2 values, but this network's labels have 3 (c_dim); give 3 numbers separated by commas"),
    ({"c_dim": 3}, ["--label", "1,0,0", "--col-label", "x"], 2, "Invalid value for '--col-label': cannot read 'x'"),
    ({"c_dim": 3}, ["--label", "1,0,0", "--col-label", "1,nan,0"], 2, "'1,nan,0': holds NaN or infinite values"),
    ({"c_dim": 3}, ["--label", "1,0,0", "--col-label", "1,0,0", "--col-class", "1"], 2,
     "Error: --col-class and --col-label both give the label; pass one of them"),
    ({"c_dim": 3}, ["--class", "0", "--col-label", "0,1,0"], 2,
     "Error: --col-label 0,1,0 is a label vector, --class a class; give the columns a class with --col-class (without "
     "it they take --class), or use --label and --col-label"),
])
def test_the_column_label_is_refused_as_the_label_is(network_file, tmp_path, net, args, status, message):
    result = run("mix", "--network", str(network_file(**net)), "--rows", "1", "--cols", "2", *args,
                 "--outdir", str(tmp_path / "out"))
    assert result.exit_code == status and message in " ".join(result.output.split()), result.output
    assert not (tmp_path / "out").exists()


def test_the_column_label_is_refused_for_projected_columns_and_cluster_networks(tiny_generator, clustered_G, tmp_path):
    G = tiny_generator(c_dim=3)
    np.savez(tmp_path / "w.npz", w=seed_ws(G, 1, class_idx=1).detach().numpy())
    with pytest.raises(ToolOptionError, match=r"^--col-label 0,1,0 picks the label of the column seeds; the columns are "
                                              r"projected ws, which hold their label already \(project with --label\); "
                                              r"leave --col-label out$"):
        style_mix(G, [1], None, tmp_path / "out", cols_w=tmp_path / "w.npz", label=LABEL, col_label="0,1,0")
    with pytest.raises(ToolOptionError, match=r"^--label 0.5,0,2 picks the label of the row seeds, but the rows are "
                                              r"projected ws \(they hold their label already\) and --col-label picks"):
        style_mix(G, None, [2], tmp_path / "out", rows_w=tmp_path / "w.npz", label=LABEL, col_label="0,1,0")
    with pytest.raises(ToolError, match=r"^--col-label: this network was trained on clusters, which are classes; pick "
                                        r"one with --col-class 0\.\.3"):
        style_mix(clustered_G, [1], [2], tmp_path / "out", col_label=[1, 0, 0, 0])
    assert not (tmp_path / "out").exists()


def test_a_cluster_network_takes_a_class_not_a_label(clustered_G, tmp_path):
    save_checkpoint(tmp_path / "g.safetensors", {"G_ema": clustered_G})
    result = run("generate", "--network", str(tmp_path / "g.safetensors"), "--seeds", "0", "--label", "1,0,0,0",
                 "--outdir", str(tmp_path / "out"))
    assert result.exit_code == 1 and result.output == ("Error: --label: this network was trained on clusters, which "
                                                       "are classes; pick one with --class 0..3, or leave both out to "
                                                       "draw one per seed\n")


def test_a_negative_label_value_is_read_as_a_value(network_file, tiny_generator, tmp_path):
    G = tiny_generator(c_dim=3)
    result = run("generate", "--network", str(network_file(c_dim=3)), "--seeds", "0", "--label", "-1,0.5,0",
                 "--outdir", str(tmp_path))
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_png(tmp_path / "seed0000.png"), seed_images(G, [0], label=[-1, 0.5, 0])[0])


def test_projected_ws_refuse_a_label(tiny_generator, tmp_path):
    G = tiny_generator(c_dim=3)
    np.savez(tmp_path / "w.npz", w=seed_ws(G, 1, class_idx=1).detach().numpy())
    with pytest.raises(ToolOptionError, match=r"^--label 1,0,0 picks the label of seeds' latents; a projected w holds its label"):
        generate_images(G, None, tmp_path / "out", projected_w=tmp_path / "w.npz", label=[1, 0, 0])
    with pytest.raises(ToolOptionError, match=r"^--label 1,0,0 picks the label of seeds' latents; projected ws hold their label"):
        style_mix(G, None, None, tmp_path / "out", rows_w=tmp_path / "w.npz", cols_w=tmp_path / "w.npz", label="1,0,0")


# Networks whose file records what they trained on (`stylegan2 train` snapshots: Generator.label_kind)

def recorded_network(tiny_generator, path, labels: str | None):
    """A c_dim 3 network file whose training state records `labels` ("classes", "vectors"; None: no record)."""
    save_checkpoint(path, {"G_ema": tiny_generator(c_dim=3)}, training_state={"labels": labels} if labels else None)
    return str(path)


@pytest.mark.parametrize("args, message", [
    (["generate", "--seeds", "1", "--class", "1"],
     "--class 1: this network was trained on label vectors of 3 numbers, not classes; give one with --label V1,V2,V3"),
    (["generate", "--seeds", "1", "--class", "0-2"],
     "--class 0-2: this network was trained on label vectors of 3 numbers, not classes; give one with --label V1,V2,V3"),
    (["generate", "--seeds", "1"], "this network was trained on label vectors of 3 numbers; give one with --label V1,V2,V3"),
    (["mix", "--rows", "1,2", "--cols", "3,4", "--col-label", "0,1,0.5"],
     "this network was trained on label vectors of 3 numbers; give one with --label V1,V2,V3"),
    (["mix", "--rows", "1", "--cols", "2", "--class", "0", "--col-class", "1"],
     "--class 0: this network was trained on label vectors of 3 numbers, not classes; give one with --label V1,V2,V3"),
])
def test_a_network_trained_on_label_vectors_refuses_classes_and_asks_for_a_label(tiny_generator, tmp_path, args, message):
    """It was called "conditional with 3 classes", and --class rendered a one-hot input it never saw (QA retest33 N6)."""
    network = recorded_network(tiny_generator, tmp_path / "v.safetensors", "vectors")
    result = run(args[0], "--network", network, *args[1:], "--outdir", str(tmp_path / "out"))
    assert result.exit_code == 1 and result.output == f"Error: {message}\n", result.output
    assert not (tmp_path / "out").exists()


def test_a_network_trained_on_label_vectors_renders_a_label(tiny_generator, tmp_path):
    network = recorded_network(tiny_generator, tmp_path / "v.safetensors", "vectors")
    result = run("generate", "--network", network, "--seeds", "4", "--label", "0.5,0,2", "--outdir", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_png(tmp_path / "out" / "seed0004.png"),
                                  seed_images(tiny_generator(c_dim=3), [4], label=LABEL)[0])


@pytest.mark.parametrize("labels", ["classes", None])
def test_a_class_network_and_a_file_without_the_record_take_a_class_as_before(tiny_generator, tmp_path, labels):
    network = recorded_network(tiny_generator, tmp_path / "c.safetensors", labels)
    result = run("generate", "--network", network, "--seeds", "4", "--class", "1", "--outdir", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_png(tmp_path / "out" / "seed0004.png"),
                                  seed_images(tiny_generator(c_dim=3), [4], class_idx=1)[0])
    result = run("generate", "--network", network, "--seeds", "4", "--outdir", str(tmp_path / "out2"))
    assert result.exit_code == 1 and result.output == ("Error: this network is conditional with 3 classes: choose one with "
                                                       "--class 0..2 (or give its label vector of 3 numbers with --label)\n")


def test_the_column_class_on_a_label_vector_network_asks_for_the_column_label(tiny_generator):
    G = tiny_generator(c_dim=3)
    G.label_kind = "vectors"  # as the loader sets it from the file's record
    with pytest.raises(ToolError, match=r"^--col-class 1: this network was trained on label vectors of 3 numbers, not "
                                        r"classes; give one with --col-label V1,V2,V3$"):
        class_label(G, 1, option="--col-class", label_option="--col-label")
    wide = tiny_generator(c_dim=8)
    wide.label_kind = "vectors"
    with pytest.raises(ToolError, match=r"^this network was trained on label vectors of 8 numbers; give one with "
                                        r"--label V1,\.\.\.,V8$"):
        class_label(wide, None)
