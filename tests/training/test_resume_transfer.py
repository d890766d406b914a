"""Fine-tuning and its continuations: what a run started from a network's weights keeps when it is continued, how
`--resume auto` tells it from runs that started elsewhere, and what it says about data, --freezed and clusters."""

import json
import shutil

import numpy as np
import PIL.Image
import pytest
import torch

from stylegan2.data import open_dataset
from stylegan2.data.clusters import cluster_dataset
from stylegan2.io import load_checkpoint, load_network, save_network
from stylegan2.models import Generator
from stylegan2.training.config import resolve_options
from stylegan2.training.loop import TrainingError, train
from stylegan2.training.resume import check_resume

TINY = dict(clusters=0, pack=1, cbase=128, cmax=16, z_dim=16, w_dim=16, map=2, batch=8, workers=0, aug="noaug",
            tick=0.016, snap=1)
DATA = "builtin:shapes?n=64"


def options(tmp_path, data=DATA, **overrides):
    return resolve_options(data, "cpu", 16, 1, {**TINY, "outdir": str(tmp_path / "runs"), "kimg": 0.016, **overrides})


def opened(data):
    """The dataset as the runs of `options` open it."""
    return open_dataset(data, resolution=16)


def resume_notes(run_dir, network) -> list[str]:
    """The run's notes on its --resume file, as its log.txt holds them (stderr shows the same lines)."""
    start = f"note: --resume {network}: "
    return [line.removeprefix(start) for line in (run_dir / "log.txt").read_text().splitlines() if line.startswith(start)]


def quiet(lines=None):
    return (lines if lines is not None else []).append


@pytest.fixture
def weights(tmp_path, one_thread):
    """A tiny network's weights without training state: what fine-tuning starts from."""
    run = train(options(tmp_path / "pre", kimg=0.008), device="cpu", log=quiet())
    nets = load_network(run / "network-snapshot-000000-008.safetensors")
    return save_network(tmp_path / "pretrained.safetensors", {name: nets[name] for name in ("G", "D", "G_ema")})


def test_a_fine_tune_stopped_and_continued_equals_the_uninterrupted_fine_tune(tmp_path, weights):
    """A requeued fine-tuning job (one command line, --resume auto:FILE) kept ADA's speed and the EMA without ramp-up
    of its first part: they went back to 500 kimg and the ramp-up, and G_ema and p drifted (transfer QA H1)."""
    ada = dict(aug="ada", target=0.0)  # p rises at every adjustment, so ADA's speed shows in it
    full = train(options(tmp_path / "full", kimg=0.032, resume=str(weights), **ada), device="cpu", log=quiet())
    job = dict(outdir=str(tmp_path / "job"), resume=f"auto:{weights}", **ada)
    first = train(options(tmp_path, kimg=0.016, **job), device="cpu", log=quiet())
    continued = train(options(tmp_path, kimg=0.032, **job), device="cpu", log=quiet())
    a = load_checkpoint(full / "network-snapshot-000000-032.safetensors")
    b = load_checkpoint(continued / "network-snapshot-000000-032.safetensors")
    assert a.training_state["augment"] == b.training_state["augment"] and a.training_state["augment"]["p"] > 0
    for name in ("G", "D", "G_ema"):
        sa, sb = a.networks[name].state_dict(), b.networks[name].state_dict()
        for key in sa:
            torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0, msg=f"{name}.{key}")
    recorded = json.loads((continued / "training_options.json").read_text())
    assert (recorded["ada_kimg"], recorded["ema_rampup"], recorded["started_from"]) == (100, None, str(weights))
    notes = resume_notes(continued, first / "network-snapshot-000000-016.safetensors")
    assert "as its run trained: ADA speed 100 kimg (--ada-kimg 100), EMA without ramp-up" in notes


def test_a_fine_tune_keeps_an_ada_kimg_given_and_says_its_adjustments(tmp_path, weights):
    """Typing the default --ada-kimg 500 was replaced by 100, and only the options' JSON said so (transfer QA M1)."""
    dataset = opened(DATA)
    tuned, notes = check_resume(options(tmp_path, resume=str(weights), aug="ada"), dataset)
    assert (tuned.ada_kimg, tuned.ema_rampup) == (100, None)
    assert "fine-tuning: ADA speed 100 kimg (--ada-kimg 100), EMA without ramp-up" in notes
    given, notes = check_resume(options(tmp_path, resume=str(weights), aug="ada", ada_kimg=500), dataset)
    assert (given.ada_kimg, given.ema_rampup) == (500, None)
    assert "fine-tuning: ADA speed 500 kimg (--ada-kimg 500) as given, EMA without ramp-up" in notes


def test_a_continued_run_takes_another_ada_kimg_given_with_a_note(tmp_path, weights):
    run = train(options(tmp_path, resume=str(weights), aug="ada"), device="cpu", log=quiet())
    snapshot = str(run / "network-snapshot-000000-016.safetensors")
    continued, notes = check_resume(options(tmp_path, kimg=0.032, resume=snapshot, aug="ada", ada_kimg=500),
                                    opened(DATA))
    assert (continued.ada_kimg, continued.ema_rampup) == (500, None)
    assert ("its run trained with ADA speed 100 kimg (--ada-kimg 100), this one with ADA speed 500 kimg (--ada-kimg 500) "
            "as given; leave it out to keep its run's") in notes
    assert "as its run trained: EMA without ramp-up" in notes


def test_resume_auto_passes_over_runs_that_started_from_another_network(tmp_path, weights):
    """A fine-tuning job continued a from-scratch run of the same options, and the other way round (transfer QA H2)."""
    dataset = opened(DATA)
    scratch = train(options(tmp_path, kimg=0.008), device="cpu", log=quiet())
    lines: list[str] = []
    tuned = train(options(tmp_path, kimg=0.008, resume=f"auto:{weights}"), device="cpu", log=lines.append)
    assert lines[1].startswith(f"Resume auto: passed over {scratch.name}: started from new weights, not {weights}: a run "
                               "with other options, so another job's")
    assert f"Resuming from {weights}: transfer learning from its weights" in "\n".join(lines)
    _, notes = check_resume(options(tmp_path, resume="auto"), dataset)  # a from-scratch job's requeue
    assert notes[0].startswith(f"passed over {tuned.name}: started from {weights}, not new weights: a run with other")
    assert notes[-1] == f"continues {scratch / 'network-snapshot-000000-008.safetensors'}"
    _, notes = check_resume(options(tmp_path, resume=f"auto:{weights}"), dataset)  # the fine-tuning job's requeue
    assert notes[0] == f"continues {tuned / 'network-snapshot-000000-008.safetensors'}"
    other = shutil.copy(weights, tmp_path / "other.safetensors")  # the same weights under another name: another job
    _, notes = check_resume(options(tmp_path, resume=f"auto:{other}"), dataset)
    assert notes[0].startswith(f"passed over {tuned.name}: started from {weights}, not {other}: ")
    assert f"no snapshot to continue: starts from {other}" in notes


def test_a_start_of_the_same_file_name_and_size_is_not_taken_for_another(tmp_path, weights, monkeypatch):
    """Two runs' network-snapshot-000400.pkl, given as URLs or as local copies of one size, were taken for each other:
    a fine-tuning job continued the run of another network (retest N1)."""
    from stylegan2.io.pretrained import url_file_name

    dataset = opened(DATA)
    first, second = tmp_path / "a" / "net.safetensors", tmp_path / "b" / "net.safetensors"
    for path in (first, second):
        path.parent.mkdir()
        shutil.copy(weights, path)
    with torch.no_grad():  # other weights, the same name and size
        nets = load_network(second)
        nets["G"].mapping.fc0.weight.mul_(2)
    save_network(second, nets, overwrite=True)
    assert first.stat().st_size == second.stat().st_size
    tuned = train(options(tmp_path, kimg=0.008, resume=f"auto:{first}"), device="cpu", log=quiet())
    _, notes = check_resume(options(tmp_path, resume=f"auto:{second}"), dataset)
    assert notes[0].startswith(f"passed over {tuned.name}: started from {first}, not {second}")
    monkeypatch.setenv("STYLEGAN2_CACHE", str(tmp_path / "cache"))
    urls = ["https://example.invalid/runA/network-snapshot-000400.pkl", "https://example.invalid/runB/network-snapshot-000400.pkl"]
    for url in urls:  # as if downloaded
        (tmp_path / "cache" / "networks").mkdir(parents=True, exist_ok=True)
        shutil.copy(weights, tmp_path / "cache" / "networks" / url_file_name(url))
    job = dict(outdir=str(tmp_path / "urls"))
    from_a = train(options(tmp_path, kimg=0.008, resume=f"auto:{urls[0]}", **job), device="cpu", log=quiet())
    _, notes = check_resume(options(tmp_path, resume=f"auto:{urls[1]}", **job), dataset)
    assert notes[0].startswith(f"passed over {from_a.name}: started from ") and url_file_name(urls[0]) in notes[0]
    _, notes = check_resume(options(tmp_path, resume=f"auto:{urls[0]}", **job), dataset)
    assert notes[0] == f"continues {from_a / 'network-snapshot-000000-008.safetensors'}"


def test_a_continued_run_keeps_the_network_it_started_from_and_older_runs_are_followed_back(tmp_path, weights):
    """Runs recorded before `started_from`: new weights where the run had no --resume, its --resume file where that is
    not a snapshot, and where it continued a snapshot, where that snapshot's run started (retest N4: an older
    fine-tune was taken for a from-scratch job's run); unknown, and taken with a note, where that cannot be told."""
    dataset = opened(DATA)
    tuned = train(options(tmp_path, kimg=0.008, resume=str(weights)), device="cpu", log=quiet())
    again = train(options(tmp_path, resume=str(tuned / "network-snapshot-000000-008.safetensors")), device="cpu", log=quiet())
    assert json.loads((again / "training_options.json").read_text())["started_from"] == str(weights)
    for run in (tuned, again):
        recorded = json.loads((run / "training_options.json").read_text())
        del recorded["started_from"]
        (run / "training_options.json").write_text(json.dumps(recorded))
    _, notes = check_resume(options(tmp_path, kimg=0.024, resume=f"auto:{weights}"), dataset)
    assert notes[0] == f"continues {again / 'network-snapshot-000000-016.safetensors'}"
    _, notes = check_resume(options(tmp_path, kimg=0.024, resume="auto"), dataset)  # a from-scratch job: not its run
    assert "no snapshot to continue: a new run starts" in notes
    (tuned / "training_options.json").unlink()  # where `again` started can no longer be told
    _, notes = check_resume(options(tmp_path, kimg=0.024, resume=f"auto:{weights}"), dataset)
    assert notes[:2] == [f"its run does not record the network it started from (written by an older version): taken for a "
                     f"run from {weights}, as this job's", f"continues {again / 'network-snapshot-000000-016.safetensors'}"]
    scratch = train(options(tmp_path / "s", kimg=0.008), device="cpu", log=quiet())
    recorded = json.loads((scratch / "training_options.json").read_text())
    del recorded["started_from"]  # with "resume": null, it started from new weights
    (scratch / "training_options.json").write_text(json.dumps(recorded))
    _, notes = check_resume(options(tmp_path / "s", resume=f"auto:{weights}"), dataset)
    assert notes[0].startswith(f"passed over {scratch.name}: started from new weights, not {weights}")


def test_a_snapshot_continued_on_other_data_says_how_to_fine_tune_instead(tmp_path, one_thread):
    """Its kimg counter, Adam moments and ADA p carried over with no word, and `nothing to train` named no way to start
    at kimg 0 (transfer QA M2)."""
    run = train(options(tmp_path), device="cpu", log=quiet())
    snapshot = run / "network-snapshot-000000-016.safetensors"
    advice = (f"convert it with `stylegan2 convert {snapshot} weights-000000-016.safetensors --weights-only` and --resume "
              "weights-000000-016.safetensors")
    other = "builtin:shapes?n=32"
    _, notes = check_resume(options(tmp_path, data=other, kimg=0.032, resume=str(snapshot)), opened(other))
    assert (f"its run trained on {DATA}: this continues that run (its 0.016 kimg, optimizer state and ADA p); to "
            f"fine-tune on {other} from kimg 0 instead, {advice}") in notes
    with pytest.raises(TrainingError, match=r"nothing to train \(raise --kimg to train on\); or, to fine-tune its "
                                            r"networks from kimg 0 instead, convert it with `stylegan2 convert .*$"):
        check_resume(options(tmp_path, data=other, resume=str(snapshot)), opened(other))
    _, notes = check_resume(options(tmp_path, kimg=0.032, resume=str(snapshot)), opened(DATA))
    assert not any("its run trained on" in note for note in notes)


def test_resume_auto_takes_a_relative_data_path_for_the_folder_its_run_recorded(tmp_path, monkeypatch, one_thread):
    """`./pets32` for a run that recorded /abs/pets32 said the data were 'moved or copied since' (transfer QA L2)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "imgs").mkdir()
    for i in range(8):
        PIL.Image.fromarray(np.full((16, 16, 3), i * 30, np.uint8)).save(tmp_path / "imgs" / f"{i}.png")
    train(options(tmp_path, data=str(tmp_path / "imgs"), kimg=0.008), device="cpu", log=quiet())
    for data in ("imgs", "./imgs"):
        _, notes = check_resume(options(tmp_path, data=data, resume="auto"), opened(data))
        assert len(notes) == 1 and notes[0].startswith("continues "), notes


def test_freezed_given_on_a_continued_run_is_refused_and_beyond_ds_layers_noted(tmp_path, weights):
    """An explicit --freezed 0 kept the run's 2 frozen layers, and --freezed 50 froze D's 7 with no word (transfer QA L4)."""
    dataset = opened(DATA)
    run = train(options(tmp_path, kimg=0.008, resume=str(weights), freezed=2), device="cpu", log=quiet())
    snapshot = run / "network-snapshot-000000-008.safetensors"
    with pytest.raises(TrainingError, match=r"its run froze the first 2 layers of D \(--freezed 2\) but this one would "
                                            r"freeze 0; pass --freezed 2 to continue it$"):
        check_resume(options(tmp_path, resume=str(snapshot), freezed=0), dataset)
    _, notes = check_resume(options(tmp_path, resume=str(weights), freezed=50), dataset)
    assert ("--freezed 50: D has 7 layers that can freeze (its blocks'; the epilogue's never do), and all of them are "
            "frozen") in notes


def test_a_network_trained_on_clusters_fine_tunes_on_the_clusters_of_other_data(tmp_path, one_thread):
    """Every --clusters was refused for a network of --cfg cpu's default clusters on other data (transfer QA H3)."""
    clustered = dict(clusters=3, pack=1)
    run = train(options(tmp_path, kimg=0.008, **clustered), device="cpu", log=quiet())
    nets = load_network(run / "network-snapshot-000000-008.safetensors")
    weights = save_network(tmp_path / "clustered.safetensors", {name: nets[name] for name in ("G", "D", "G_ema")})
    other = "builtin:shapes?n=32&seed=5"
    tuned = train(options(tmp_path, data=other, kimg=0.008, resume=str(weights), **clustered), device="cpu", log=quiet())
    assert ("the network's 3 classes (the clusters of its run's images) now train on the 3 k-means clusters of this "
            "dataset (--clusters 3), class k on cluster k, and G draws them with this dataset's shares") in resume_notes(tuned, weights)
    shares = cluster_dataset(opened(other), 3, seed=0)
    trained = load_network(tuned / "network-snapshot-000000-008.safetensors")
    assert trained["G"].mapping.c_prior == trained["G_ema"].mapping.c_prior == shares != nets["G"].mapping.c_prior


def test_a_network_too_small_for_the_data_gives_the_command_that_makes_a_copy_of_its_size(tmp_path):
    """The advice `stylegan2 dataset --resolution 32` lacked --source, --dest and the --transform it needs (QA L3)."""
    G = Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=8, img_channels=1, mapping_kwargs={"num_layers": 1},
                  synthesis_kwargs={"channel_base": 64, "channel_max": 8})
    network = save_network(tmp_path / "g8.safetensors", {"G": G})
    with pytest.raises(TrainingError, match=r"make a 8 px copy of the dataset \(stylegan2 dataset --source "
                                            r"builtin:shapes\?n=64 --dest shapes-8\.zip --resolution 8 --transform "
                                            r"center-crop\) and train on it, use 1-channel images \(convert each image "
                                            r"to grayscale, e\.g\. with PIL's Image\.convert\('L'\)\), or pick"):
        check_resume(options(tmp_path, resume=str(network)), opened(DATA))


def preset_options(tmp_path, data=DATA, **overrides):
    """`options` with --clusters and --pack left to the preset (TINY gives both)."""
    tiny = {key: value for key, value in TINY.items() if key not in ("clusters", "pack")}
    return resolve_options(data, "cpu", 16, 1, {**tiny, "outdir": str(tmp_path / "runs"), "kimg": 0.016, **overrides},
                           num_images=opened(data).distinct_len)


def test_a_fine_tune_left_to_the_preset_trains_an_unconditional_network_without_clusters(tmp_path, weights):
    """--cfg cpu clusters unlabeled data, which refused every unconditional network until --clusters 0 --pack 1 were
    typed; a requeued job, whose preset clusters again, must still continue its run (transfer QA L1)."""
    assert preset_options(tmp_path).clusters == 3  # the preset's choice for these 64 images
    tuned, notes = check_resume(preset_options(tmp_path, resume=str(weights)), opened(DATA))
    assert (tuned.clusters, tuned.pack, tuned.from_file) == (0, 1, ("clusters",))
    assert ("the file's networks train as they were trained: --clusters 0 (the preset's --clusters 3 are for new "
            "networks; give --clusters or --pack to choose)") in notes
    job = dict(outdir=str(tmp_path / "job"), resume=f"auto:{weights}")
    first = train(preset_options(tmp_path, kimg=0.008, **job), device="cpu", log=quiet())
    lines: list[str] = []
    again = train(preset_options(tmp_path, kimg=0.016, **job), device="cpu", log=lines.append)
    said = "\n".join(lines)
    assert f"Resuming from {first / 'network-snapshot-000000-008.safetensors'}: continuing the run" in said, said
    assert "passed over" not in said and (again / "network-snapshot-000000-016.safetensors").exists()
    recorded = json.loads((again / "training_options.json").read_text())
    assert (recorded["clusters"], recorded["from_file"]) == (0, ["clusters"])


def test_a_network_trained_on_clusters_fine_tunes_on_as_many_when_none_are_given(tmp_path, one_thread):
    run = train(options(tmp_path, kimg=0.008, clusters=3, pack=1), device="cpu", log=quiet())
    nets = load_network(run / "network-snapshot-000000-008.safetensors")
    weights = save_network(tmp_path / "clustered.safetensors", {name: nets[name] for name in ("G", "D", "G_ema")})
    other = "builtin:shapes?n=100&seed=5"
    assert preset_options(tmp_path, data=other).clusters == 5
    tuned = train(preset_options(tmp_path, data=other, kimg=0.008, resume=str(weights)), device="cpu", log=quiet())
    assert any("--clusters 3 (the preset's --clusters 5 are for new networks" in note for note in resume_notes(tuned, weights))
    trained = load_network(tuned / "network-snapshot-000000-008.safetensors")
    assert trained["G"].mapping.c_prior == cluster_dataset(opened(other), 3, seed=0)


def test_more_clusters_than_images_are_refused_before_clustering_and_at_dry_run(tmp_path, one_thread):
    """The run clustered first and then failed, and --dry-run passed (retest N11)."""
    from stylegan2.training.start import open_and_resolve

    with pytest.raises(TrainingError, match=r"--clusters 20: need at least 2 clusters and at most one per image "
                                            r"\(16 images in builtin:shapes\?n=16\)"):
        open_and_resolve("builtin:shapes?n=16", "cpu", {**TINY, "clusters": 20, "outdir": str(tmp_path / "r")}, 1, "cpu",
                         creates_runs=True, dry_run=True)
    run = train(options(tmp_path, kimg=0.008, clusters=3, pack=1), device="cpu", log=quiet())
    nets = load_network(run / "network-snapshot-000000-008.safetensors")
    weights = save_network(tmp_path / "clustered.safetensors", {name: nets[name] for name in ("G", "D", "G_ema")})
    few = "builtin:shapes?n=2"
    with pytest.raises(TrainingError, match=r"the network was trained on 3 clusters of its run's images \(its classes\), "
                                            r"more than the 2 images of builtin:shapes\?n=2; fine-tune it on at least 3"):
        check_resume(preset_options(tmp_path, data=few, resume=str(weights)), opened(few))
