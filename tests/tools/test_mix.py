"""`stylegan2 mix`: the style-mixing figure."""

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.tools import ToolError, seed_images, style_mix_images
from stylegan2.tools.mix import style_mix_grid


def test_all_styles_from_the_column_give_the_column_image(tiny_generator):
    G = tiny_generator()
    rows, cols, mixed = style_mix_images(G, [1, 2], [3, 4, 5], styles="all")
    for r in range(2):
        np.testing.assert_array_equal(mixed[r], cols)


def test_row_images_are_the_seed_images(tiny_generator):
    G = tiny_generator()
    rows, cols, mixed = style_mix_images(G, [1, 2], [3])
    np.testing.assert_array_equal(rows, seed_images(G, [1, 2]))
    np.testing.assert_array_equal(cols, seed_images(G, [3]))


def test_coarse_styles_mix_into_a_new_image(tiny_generator):
    rows, cols, mixed = style_mix_images(tiny_generator(), [1], [3], styles="coarse")
    assert not np.array_equal(mixed[0, 0], rows[0])
    assert not np.array_equal(mixed[0, 0], cols[0])


def test_figure_has_columns_on_top_and_rows_on_the_left(tiny_generator):
    rows, cols, mixed = style_mix_images(tiny_generator(), [1, 2], [3, 4, 5])
    figure = style_mix_grid(rows, cols, mixed)
    assert figure.shape == (3 * 16, 4 * 16, 3)
    np.testing.assert_array_equal(figure[:16, :16], 0)
    np.testing.assert_array_equal(figure[:16, 32:48], cols[1])
    np.testing.assert_array_equal(figure[32:48, :16], rows[1])
    np.testing.assert_array_equal(figure[32:48, 48:64], mixed[1, 2])


def test_styles_beyond_the_network_are_rejected_offering_only_the_presets_it_has(tiny_generator):
    """A 6-ws network has no 'fine' layers: the refusal offers the presets that select some (photos35 L6)."""
    with pytest.raises(ToolError, match=r"--styles: 0-6 reaches 6, out of range; this network has ws 0..5 "
                                        r"\(or use all, coarse, middle\)$"):
        style_mix_images(tiny_generator(), [1], [2], styles="0-6")
    with pytest.raises(ToolError, match=r"--styles fine selects no layers: .*; use all, coarse, middle or ws indices$"):
        style_mix_images(tiny_generator(), [1], [2], styles="fine")


@pytest.mark.parametrize("styles", ["bogus", "0-x", "1-"])
def test_unreadable_styles_name_the_presets_too(tiny_generator, styles):
    with pytest.raises(ToolError) as err:
        style_mix_images(tiny_generator(), [1], [2], styles=styles)
    assert str(err.value).startswith("--styles: cannot read ")
    assert str(err.value).endswith("; use numbers and ranges like 0-7,42, or one of all, coarse, middle, fine")


def test_cli_writes_one_grid_png(network_file, tmp_path):
    args = ["mix", "--network", str(network_file()), "--rows", "85,100", "--cols", "55,821", "--styles", "0-3",
            "--outdir", str(tmp_path), "--device", "cpu"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == ["stylemix.png"]
    with PIL.Image.open(tmp_path / "stylemix.png") as image:
        assert image.size == (48, 48)
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 1 and "already exists; pass --force" in again.output


def _save_ws(path, ws):
    np.savez(path, w=ws.detach().numpy())  # as `stylegan2 project` writes it
    return path


def test_projected_ws_as_rows_or_columns_equal_their_seeds(tiny_generator, network_file, tmp_path):
    """A projected photo as a row keeps its other styles and takes the columns' (files in the order given)."""
    from stylegan2.io import load_network
    from stylegan2.tools import seed_ws

    net = network_file()
    G = load_network(net)["G_ema"]
    rows = [_save_ws(tmp_path / f"r{seed}.npz", seed_ws(G, seed)) for seed in (85, 100)]
    cols = _save_ws(tmp_path / "cols.npz", torch.cat([seed_ws(G, 55), seed_ws(G, 821)]))
    common = ["mix", "--network", str(net), "--styles", "0-3", "--trunc", "0.7", "--device", "cpu"]
    for name, extra in (("seeds", ["--rows", "85,100", "--cols", "55,821"]),
                        ("files", ["--rows-w", str(rows[0]), "--rows-w", str(rows[1]), "--cols-w", str(cols)]),
                        ("both", ["--rows-w", str(rows[0]), "--rows-w", str(rows[1]), "--cols", "55,821"])):
        result = CliRunner().invoke(main, [*common, *extra, "--outdir", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    with PIL.Image.open(tmp_path / "seeds" / "stylemix.png") as seeds:
        expected = np.asarray(seeds)
    for name in ("files", "both"):
        with PIL.Image.open(tmp_path / name / "stylemix.png") as figure:
            np.testing.assert_array_equal(np.asarray(figure), expected)


def test_rows_and_columns_are_seeds_or_files(network_file, tiny_generator, tmp_path):
    from stylegan2.tools import seed_ws, style_mix

    net, w = network_file(), _save_ws(tmp_path / "w.npz", seed_ws(tiny_generator(), 1))
    with pytest.raises(ToolError, match=r"^give either --rows or --rows-w \(exactly one of them\)$"):
        style_mix(net, [1], [2], tmp_path, rows_w=w)
    with pytest.raises(ToolError, match=r"^give either --cols or --cols-w \(exactly one of them\)$"):
        style_mix(net, [1], None, tmp_path)
    with pytest.raises(ToolError, match=r"^--class 1 picks the class of seeds' latents; projected ws hold their class"):
        style_mix(net, None, None, tmp_path, rows_w=w, cols_w=w, class_idx=1)
    assert not (tmp_path / "stylemix.png").exists()
