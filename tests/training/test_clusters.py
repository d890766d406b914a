"""Training on k-means clusters of unlabeled images (--clusters): options, a tiny run, resume."""

import os
import signal

import pytest
import torch
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.io import load_checkpoint, load_network
from stylegan2.training.config import PRESETS, preset_clusters, resolve_options
from stylegan2.training.loop import TrainingError, train

TINY = dict(cbase=128, cmax=16, z_dim=16, w_dim=16, map=2, batch=8, workers=0, aug="noaug", tick=0.032, snap=1)


def tiny_options(tmp_path, **overrides):
    kwargs = dict(TINY, outdir=str(tmp_path / "runs"), kimg=0.064, clusters=3)
    kwargs.update(overrides)
    return resolve_options("builtin:shapes?n=64", "cpu", 16, 1, kwargs)


def assert_same_networks(a_path, b_path):
    a, b = load_checkpoint(a_path), load_checkpoint(b_path)
    for name in ("G", "D", "G_ema"):
        sa, sb = a.networks[name].state_dict(), b.networks[name].state_dict()
        for key in sa:
            torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0, msg=f"{name}.{key}")


def test_clusters_drop_the_packing_and_keep_the_total_r1_weight():
    spec = PRESETS["cpu"]
    options = resolve_options("builtin:shapes", "cpu", 32, 1, {"clusters": 8})
    assert options.clusters == 8 and options.pack == 1 and options.gamma == pytest.approx(spec.gamma * spec.pack)
    assert resolve_options("builtin:shapes", "cpu", 32, 1, {"clusters": 8, "pack": 2}).pack == 2
    assert resolve_options("builtin:shapes", "cpu", 32, 1, {"cond": True}).clusters == 0  # labels win


def test_the_cpu_preset_clusters_unlabeled_data_into_at_least_twenty_images_each():
    options = resolve_options("builtin:shapes", "cpu", 32, 1, {})
    assert options.clusters == 100 and options.pack == 1
    assert [preset_clusters(PRESETS["cpu"], n) for n in (None, 60000, 2000, 1999, 40, 39)] == [100, 100, 100, 99, 2, 0]
    small = resolve_options("builtin:shapes?n=30", "cpu", 32, 1, {}, num_images=30)
    assert small.clusters == 0 and small.pack == PRESETS["cpu"].pack  # too small to cluster: packed as before
    assert resolve_options("builtin:shapes", "cpu", 32, 1, {"clusters": 7}, num_images=30).clusters == 7  # asked for


def test_official_presets_never_cluster():
    assert all(spec.clusters == 0 for name, spec in PRESETS.items() if name != "cpu")
    assert resolve_options("builtin:shapes", "auto", 32, 1, {}).clusters == 0


@pytest.mark.parametrize("args,message,status", [  # status 2: the options themselves; 1: they do not fit the data
    (["--clusters", "1"], "--clusters must be 0 (off) or at least 2, got 1", 2),
    (["--clusters", "4", "--cond"], "--clusters 4 labels the images by clusters, --cond by the dataset's labels: drop one", 2),
    (["--clusters", "100"], "--clusters 100: need at least 2 clusters and at most one per image (16 images in "
                            "builtin:shapes?n=16)", 1),
])
def test_bad_cluster_options_give_one_line_errors(args, message, status, tmp_path):
    """Each at --dry-run already (more clusters than images was found only once the run clustered)."""
    argv = ["train", "--data", "builtin:shapes?n=16", "--cfg", "cpu", "--device", "cpu", "--outdir", str(tmp_path),
            "--kimg", "0.008", *args, "--dry-run"]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == status, result.output
    assert message in result.output and "Traceback" not in result.output


def test_a_tiny_run_on_clusters_makes_a_generator_that_draws_them(tmp_path):
    lines = []
    run_dir = train(tiny_options(tmp_path, kimg=0.016, tick=0.016), device="cpu", log=lines.append)
    assert lines[0].startswith("Clustering 64 images into 3 clusters (k-means of 16x16 thumbnails")  # before the wait
    assert any(line.startswith("Clusters: 3 k-means clusters of the images as labels (--clusters)") for line in lines)
    assert "D judges one image at a time" in "\n".join(lines)
    G = load_network(run_dir / "network-snapshot-000000-016.safetensors")["G_ema"]
    assert G.c_dim == 3 and G.mapping.draws_labels and sum(G.mapping.c_prior) == pytest.approx(1)
    assert G(torch.randn(2, 16), None, noise_mode="const").shape == (2, 3, 16, 16)
    assert (run_dir / "fakes000000-016.png").is_file()


def test_resume_on_clusters_continues_exactly(tmp_path):
    full = train(tiny_options(tmp_path), device="cpu", log=lambda m: None)
    half = full / "network-snapshot-000000-032.safetensors"
    resumed = train(tiny_options(tmp_path, resume=str(half)), device="cpu", log=lambda m: None)
    assert_same_networks(full / "network-snapshot-000000-064.safetensors", resumed / "network-snapshot-000000-064.safetensors")


def test_resume_with_packs_by_class_continues_exactly(tmp_path):
    """The class-pack stream restarts where the snapshot stopped, and the generated packs' labels follow the step."""
    packed = dict(pack=2, pack_by_class=True)
    full = train(tiny_options(tmp_path, **packed), device="cpu", log=lambda m: None)
    half = full / "network-snapshot-000000-032.safetensors"
    resumed = train(tiny_options(tmp_path, resume=str(half), **packed), device="cpu", log=lambda m: None)
    assert_same_networks(full / "network-snapshot-000000-064.safetensors", resumed / "network-snapshot-000000-064.safetensors")


def test_resume_with_other_clusters_is_refused(tmp_path):
    first = train(tiny_options(tmp_path, kimg=0.016, tick=0.016), device="cpu", log=lambda m: None)
    snapshot = str(first / "network-snapshot-000000-016.safetensors")
    with pytest.raises(TrainingError, match="the network was trained on other clusters than the 3 k-means clusters"):
        train(tiny_options(tmp_path, kimg=0.032, seed=5, resume=snapshot), device="cpu", log=lambda m: None)
    with pytest.raises(TrainingError, match=r"with 3 label dims, but the dataset has 3-channel 16 px images with 0 label dims; "
                                            r"train on 3 clusters as its run did \(--clusters 3\), or pick"):
        train(tiny_options(tmp_path, kimg=0.032, clusters=0, resume=snapshot), device="cpu", log=lambda m: None)
    with pytest.raises(TrainingError, match=r"with 2 label dims \(2 clusters of its images, --clusters\); "
                                            r"train on 3 clusters as its run did \(--clusters 3\), or pick"):
        train(tiny_options(tmp_path, kimg=0.032, clusters=2, resume=snapshot), device="cpu", log=lambda m: None)


def test_sigterm_while_clustering_is_one_line(tmp_path, monkeypatch):
    """A scheduler's SIGTERM during minutes of k-means ended the process without a word."""
    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr("stylegan2.training.loop.cluster_dataset", terminated)
    with pytest.raises(TrainingError, match=r"^stopped by SIGTERM from the launcher or the system while clustering; "
                                            r"nothing was written$"):
        train(tiny_options(tmp_path), device="cpu", log=lambda m: None)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="no SIGUSR1 on this platform")
def test_sigusr1_while_clustering_stops_as_ctrl_c_does(tmp_path, monkeypatch):
    """A scheduler's warning before the loop ended the process without a word (SIGUSR1's default action)."""
    def warned(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGUSR1)

    monkeypatch.setattr("stylegan2.training.loop.cluster_dataset", warned)
    lines = []
    with pytest.raises(KeyboardInterrupt):
        train(tiny_options(tmp_path), device="cpu", log=lines.append)
    assert lines[-1] == "Interrupted while clustering: nothing was written"
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


@pytest.mark.parametrize("where", ["clustering", "building"])
def test_with_stylegan2_sigterm_stop_a_sigterm_before_the_loop_stops_as_ctrl_c_does(tmp_path, monkeypatch, where):
    """A preemption while the data is clustered or the networks are built: one line, status 130, not a failure."""
    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setenv("STYLEGAN2_SIGTERM", "stop")
    monkeypatch.setattr("stylegan2.training.loop.cluster_dataset" if where == "clustering"
                        else "stylegan2.training.loop.make_phases", terminated)
    lines = []
    with pytest.raises(KeyboardInterrupt):
        train(tiny_options(tmp_path, clusters=4 if where == "clustering" else 0), device="cpu", log=lines.append)
    assert lines[-1] == ("Interrupted while clustering: nothing was written" if where == "clustering"
                         else "Interrupted before training: nothing was written")
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_a_resume_of_the_same_image_files_reads_the_snapshots_clusters_instead_of_clustering_again(tmp_path, monkeypatch):
    """Clustering 20,000 images took most of a minute at every requeue; the files' identity tells when it is not needed."""
    from stylegan2.data import convert_dataset

    data = tmp_path / "shapes.zip"
    convert_dataset("builtin:shapes?n=64", data, resolution=16)

    def options(**overrides):
        kwargs = dict(TINY, outdir=str(tmp_path / "runs"), kimg=0.064, clusters=3)
        return resolve_options(str(data), "cpu", 16, 1, {**kwargs, **overrides})

    full = train(options(), device="cpu", log=lambda m: None)
    half = full / "network-snapshot-000000-032.safetensors"
    assert len(load_checkpoint(half).training_state["clusters"]["labels"]) == 64
    clustered = []
    monkeypatch.setattr("stylegan2.training.loop.cluster_dataset", lambda *a, **k: clustered.append(1) or 1 / 0)
    lines = []
    resumed = train(options(resume=str(half)), device="cpu", log=lines.append)
    assert not clustered and "Clusters: read from network-snapshot-000000-032.safetensors, whose run clustered these same " \
                               "image files" in lines
    assert_same_networks(full / "network-snapshot-000000-064.safetensors", resumed / "network-snapshot-000000-064.safetensors")

    data.write_bytes(data.read_bytes())  # rewritten: its identity changes, so the images are clustered again
    with pytest.raises(ZeroDivisionError):
        train(options(resume=str(half)), device="cpu", log=lambda m: None)
    assert clustered
