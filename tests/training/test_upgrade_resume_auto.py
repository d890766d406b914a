"""--resume auto continues runs that older versions made, whose records lack `given` and `from_file`, though the
preset's defaults changed since; and says so where only a changed default tells a run apart."""

import json

from stylegan2.data import open_dataset
from stylegan2.training.config import resolve_options
from stylegan2.training.loop import train
from stylegan2.training.resume import check_resume
from stylegan2.training.summary import dry_run_summary

DATA = "builtin:shapes?n=128"  # enough images for the cpu preset's 100 clusters
TINY = dict(cbase=128, cmax=16, z_dim=16, w_dim=16, map=2, batch=8, workers=0, aug="noaug", tick=0.008, snap=1, gamma=1.0)


def options(tmp_path, **overrides):
    return resolve_options(DATA, "cpu", 16, 1, {**TINY, "outdir": str(tmp_path / "runs"), "kimg": 0.008, **overrides})


def older_run(tmp_path, clusters: int):
    """A run on `clusters` clusters whose record is an older version's: no `given`, no `from_file`."""
    run_dir = train(options(tmp_path, clusters=clusters), device="cpu", log=lambda line: None)
    record = json.loads((run_dir / "training_options.json").read_text())
    del record["given"], record["from_file"]
    (run_dir / "training_options.json").write_text(json.dumps(record))
    return run_dir


def rerecord(run_dir, **changes):
    record = json.loads((run_dir / "training_options.json").read_text())
    (run_dir / "training_options.json").write_text(json.dumps({**record, **changes}))


def test_resume_auto_continues_an_older_run_whose_preset_chose_other_clusters(tmp_path, one_thread):
    """A requeued job of an older version's run (QA upgrader H1): the preset's clusters changed, not the job."""
    first = older_run(tmp_path, clusters=4)
    assert options(tmp_path).clusters != 4  # the preset's, for new networks
    lines = []
    train(options(tmp_path, kimg=0.016, resume="auto"), device="cpu", log=lines.append)
    assert f"Resuming from {first / 'network-snapshot-000000-008.safetensors'}: continuing the run" in lines
    assert not any("passed over" in line for line in lines)


def test_clusters_typed_by_the_job_still_tell_an_older_run_apart(tmp_path, one_thread):
    older_run(tmp_path, clusters=4)
    dataset = open_dataset(DATA, resolution=16)
    _, notes = check_resume(options(tmp_path, kimg=0.016, clusters=2, resume="auto"), dataset)
    assert notes[0].startswith("passed over 00000-shapes-cpu-")
    assert notes[0].endswith(": --clusters 4, not --clusters 2: a run with other options, so another job's (give one of "
                             "its snapshots to --resume to continue it anyway)")
    assert notes[-1] == "no snapshot to continue: a new run starts"


def test_a_default_that_changed_between_versions_is_said_with_how_to_continue_the_run(tmp_path, one_thread):
    """A run whose record says what it typed differs from this job only in an option neither typed (QA upgrader L2)."""
    first = train(options(tmp_path, clusters=0), device="cpu", log=lambda line: None)
    rerecord(first, glr=0.5)  # as if the preset's --glr had been 0.5 when the run started
    ours = options(tmp_path, kimg=0.016, clusters=0, resume="auto")
    _, notes = check_resume(ours, open_dataset(DATA, resolution=16))
    assert notes[0] == (f"passed over {first.name}: --glr 0.5, not --glr {ours.glr} (neither typed: a default that "
                        "changed); add --glr 0.5 to continue it")
    found = check_resume(options(tmp_path, kimg=0.016, clusters=0, resume="auto", glr=0.5), open_dataset(DATA, resolution=16))[1]
    assert found[-1] == f"continues {first / 'network-snapshot-000000-008.safetensors'}"
    rerecord(first, given=[*json.loads((first / "training_options.json").read_text())["given"], "glr"])
    _, notes = check_resume(ours, open_dataset(DATA, resolution=16))  # the run typed it: another job's
    assert notes[0] == (f"passed over {first.name}: --glr 0.5, not --glr {ours.glr}: a run with other options, so another "
                        "job's (give one of its snapshots to --resume to continue it anyway)")


def test_the_dry_run_says_the_cluster_labels_the_continued_run_trains_on(tmp_path, one_thread):
    """The dry run of a requeued job names the file's 4 clusters, not the preset's or the dataset's 0 (QA upgrader L1)."""
    older_run(tmp_path, clusters=4)
    dataset = open_dataset(DATA, resolution=16)
    resolved, _ = check_resume(options(tmp_path, kimg=0.016, resume="auto"), dataset)
    lines, _ = dry_run_summary(resolved, dataset)
    assert lines[0] == (f"Dataset: {dataset.summary()}; trains on 4 label dims: k-means clusters, assigned when the run "
                        "starts")
    lines, _ = dry_run_summary(options(tmp_path, clusters=0), dataset)
    assert lines[0] == f"Dataset: {dataset.summary()}"
