"""What a conditional generator's labels are (`Generator.label_kind`) travels with the network: a copy of the networks
alone (`convert --weights-only`) keeps it, so the tools still refuse --class on a network trained on label vectors."""

import json

import pytest
from click.testing import CliRunner
from safetensors import safe_open
from safetensors.torch import save_file

from stylegan2.cli import main
from stylegan2.io import CheckpointError, convert_checkpoint, load_checkpoint, save_checkpoint
from stylegan2.models import Generator


def tiny_generator(c_dim: int = 3) -> Generator:
    return Generator(z_dim=16, c_dim=c_dim, w_dim=16, img_resolution=16, img_channels=3,
                     mapping_kwargs={"num_layers": 2}, synthesis_kwargs={"channel_base": 128, "channel_max": 16}).eval()


def snapshot(path, labels: str) -> str:
    """A training snapshot as `stylegan2 train` writes it: the run's labels in its training state only."""
    save_checkpoint(path, {"G": tiny_generator(), "G_ema": tiny_generator()},
                    training_state={"labels": labels, "cur_nimg": 64})
    return str(path)


def network_entries(path) -> dict:
    with safe_open(str(path), framework="pt") as f:
        return json.loads(f.metadata()["stylegan2"])["networks"]


@pytest.mark.parametrize("weights_only", [True, False])
@pytest.mark.parametrize("labels", ["vectors", "classes"])
def test_a_converted_snapshot_keeps_what_its_labels_are(tmp_path, labels, weights_only):
    """--weights-only dropped it with the training state (QA reviewer34 L1)."""
    convert_checkpoint(snapshot(tmp_path / "snap.safetensors", labels), tmp_path / "w.safetensors", weights_only=weights_only)
    ckpt = load_checkpoint(tmp_path / "w.safetensors")
    assert (ckpt.training_state == {}) == weights_only
    assert ckpt.networks["G_ema"].label_kind == ckpt.networks["G"].label_kind == labels


def test_generate_refuses_a_class_on_a_weights_only_copy_of_a_label_vector_network(tmp_path):
    src = snapshot(tmp_path / "snap.safetensors", "vectors")
    dst = str(tmp_path / "w.safetensors")
    assert CliRunner().invoke(main, ["convert", src, dst, "--weights-only"]).exit_code == 0
    assert "labels:      vectors of 3 numbers (--label)" in CliRunner().invoke(main, ["info", dst]).output
    result = CliRunner().invoke(main, ["generate", "--network", dst, "--seeds", "0", "--class", "1", "--device", "cpu",
                                       "--outdir", str(tmp_path / "out")])
    assert result.exit_code == 1 and result.output == ("Error: --class 1: this network was trained on label vectors of "
                                                       "3 numbers, not classes; give one with --label V1,V2,V3\n")
    assert not (tmp_path / "out").exists()


def test_a_generator_saved_with_its_label_kind_is_loaded_with_it(tmp_path):
    G = tiny_generator()
    G.label_kind = "vectors"
    save_checkpoint(tmp_path / "g.safetensors", {"G_ema": G})
    assert network_entries(tmp_path / "g.safetensors")["G_ema"]["label_kind"] == "vectors"
    assert load_checkpoint(tmp_path / "g.safetensors").networks["G_ema"].label_kind == "vectors"


def test_a_generator_without_a_label_kind_writes_none(tmp_path):
    """Files stay as before (and as NVIDIA's and rosinality's networks load: label_kind None) where nothing is known."""
    save_checkpoint(tmp_path / "g.safetensors", {"G_ema": tiny_generator()})
    assert network_entries(tmp_path / "g.safetensors")["G_ema"] == {"class": "Generator",
                                                                   "init_kwargs": tiny_generator().init_kwargs}
    assert load_checkpoint(tmp_path / "g.safetensors").networks["G_ema"].label_kind is None


@pytest.mark.parametrize("network_class, kind", [("Generator", "onehot"), ("Discriminator", "classes")])
def test_a_damaged_label_kind_is_refused_in_one_line(tmp_path, network_class, kind):
    path = save_checkpoint(tmp_path / "g.safetensors", {"N": tiny_generator()})
    with safe_open(str(path), framework="pt") as f:
        meta, tensors = json.loads(f.metadata()["stylegan2"]), {key: f.get_tensor(key) for key in f.keys()}
    meta["networks"]["N"].update({"class": network_class, "label_kind": kind})
    save_file(tensors, str(path), metadata={"stylegan2": json.dumps(meta)})
    with pytest.raises(CheckpointError, match=rf"^{path}: network entry 'N' has label_kind '{kind}'; only a "
                                              r"Generator has one, 'classes' or 'vectors': the file is damaged$"):
        load_checkpoint(path)
