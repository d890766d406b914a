"""Metric names, end-to-end metric runs on a tiny generator, and the jsonl records."""

import contextlib
import dataclasses
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from stylegan2.data import open_dataset
from stylegan2.metrics import NvidiaScriptDetector, calc_metrics, compute_metric, evaluate_for_training, parse_metric
from stylegan2.metrics.detectors import load_detector
from stylegan2.models import Generator

SAMPLE_COUNT_NOTES = r"ignore:\S+. only \d+ real images:UserWarning"  # tiny test data; see test_sample_counts.py
pytestmark = [pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:DeprecationWarning"),
              pytest.mark.filterwarnings(SAMPLE_COUNT_NOTES)]


def small(name: str, num_gen: int = 8):
    """The named metric with fewer generated samples, for speed."""
    return dataclasses.replace(parse_metric(name), num_gen=num_gen)


class LpipsStyle(nn.Module):
    """Stands in for NVIDIA's vgg16.pt: LPIPS-like embeddings of [0, 255] images."""

    def forward(self, img: torch.Tensor, return_features: bool = False, return_lpips: bool = False,
                resize_images: bool = True) -> torch.Tensor:
        return nn.functional.avg_pool2d(img.to(torch.float32), 4).flatten(1) / 255


def lpips_stand_in() -> NvidiaScriptDetector:
    module = torch.jit.script(LpipsStyle())
    return NvidiaScriptDetector(module, "lpips-stand-in", "1" * 64)


@pytest.mark.parametrize("name, kind, num_gen, max_real, full", [
    ("fid50k_full", "fid", 50000, None, True),
    ("kid50k_full", "kid", 50000, 1_000_000, True),
    ("pr50k3_full", "pr", 50000, 200_000, True),
    ("is50k", "is", 50000, None, True),
    ("fid50k", "fid", 50000, 50000, False),
    ("fid10k", "fid", 10000, 10000, False),
    ("fid2k_full", "fid", 2000, None, True),
])
def test_metric_names_give_official_sample_counts(name, kind, num_gen, max_real, full):
    spec = parse_metric(name)
    assert (spec.kind, spec.num_gen, spec.max_real, spec.full) == (kind, num_gen, max_real, full)


def test_ppl_names_set_space_sampling_and_crop():
    assert dataclasses.astuple(parse_metric("ppl2_wend").ppl) == ("w", "end", False, 1e-4)
    assert dataclasses.astuple(parse_metric("ppl_zfull").ppl) == ("z", "full", True, 1e-4)
    assert parse_metric("pr50k3").nhood_size == 3


@pytest.mark.parametrize("name", ["fid", "fid50", "fid0k", "is50k_full", "ppl_xend", "FID50k"])
def test_unknown_metric_names_list_the_valid_ones(name):
    with pytest.raises(ValueError, match="unknown metric|generates no images"):
        parse_metric(name)


def test_fid_run_end_to_end_is_reproducible(tiny_G, shapes, small_detector, tmp_path: Path):
    """Whatever the caller's random state, with noise inputs that matter (as in a trained G): a snapshot's metric
    computed during training equals the one computed later from its file."""
    for name, param in tiny_G.named_parameters():
        if name.endswith("noise_strength"):
            param.data.fill_(0.5)
    kwargs = dict(detector=small_detector, batch_size=4, cache_dir=tmp_path, progress=False)
    torch.manual_seed(5)
    first = compute_metric(small("fid2k_full"), tiny_G, shapes, **kwargs)
    torch.manual_seed(6)
    second = compute_metric(small("fid2k_full"), tiny_G, shapes, **kwargs)
    assert set(first) == {"results", "metric", "total_time", "total_time_str", "num_gpus", "detector", "seed", "truncation_psi",
                          "real_images"}
    assert first["metric"] == "fid2k_full" and first["num_gpus"] == 1 and first["real_images"] == len(shapes)
    assert (first["detector"], first["seed"], first["truncation_psi"]) == (f"{small_detector.name} {small_detector.digest[:16]}", 0, 1.0)
    assert first["results"]["fid2k_full"] > 0
    assert first["results"] == second["results"]


@pytest.mark.parametrize("name, keys", [
    ("kid2k_full", ["kid2k_full"]),
    ("pr2k3_full", ["pr2k3_full_precision", "pr2k3_full_recall"]),
    ("is2k", ["is2k_mean", "is2k_std"]),
])
def test_other_feature_metrics_run_end_to_end(tiny_G, shapes, small_detector, tmp_path: Path, name, keys):
    with pytest.warns(UserWarning, match="not comparable") if name.startswith("pr") else contextlib.nullcontext():
        record = compute_metric(small(name, num_gen=10), tiny_G, shapes, detector=small_detector, batch_size=4,
                                cache_dir=tmp_path, progress=False)
    assert sorted(record["results"]) == sorted(keys)
    assert all(value == value for value in record["results"].values())  # not NaN
    assert record.get("real_images") == (None if name.startswith("is") else len(shapes))  # IS scores no reals


def test_fid_with_random_weight_inception_runs(tiny_G, random_inception, tmp_path: Path):
    data = open_dataset("builtin:shapes?n=2", resolution=16)
    record = compute_metric(small("fid50k_full", num_gen=2), tiny_G, data, detector=random_inception, batch_size=2,
                            cache_dir=tmp_path, progress=False)
    assert record["results"]["fid50k_full"] > 1e-3


def test_ppl_without_vgg16_says_which_file_is_needed(tiny_G, shapes):
    with pytest.raises(ValueError, match="vgg16.pt"):
        compute_metric("ppl2_wend", tiny_G, shapes, progress=False)


@pytest.mark.parametrize("name", ["ppl2_wend", "ppl_zfull"])
def test_ppl_runs_with_an_lpips_network(tiny_G, shapes, name):
    record = compute_metric(small(name, num_gen=6), tiny_G, shapes, vgg16=lpips_stand_in(), batch_size=3,
                            progress=False)
    assert record["results"][name] > 0


def test_ppl_leaves_the_generator_noise_untouched(tiny_G, shapes):
    before = {k: v.clone() for k, v in tiny_G.named_buffers()}
    compute_metric(small("ppl2_wend", num_gen=2), tiny_G, shapes, vgg16=lpips_stand_in(), batch_size=2, progress=False)
    assert all(torch.equal(before[k], v) for k, v in tiny_G.named_buffers())


def test_training_snapshots_append_official_jsonl_lines(tiny_G, tmp_path: Path):
    detector_file = tmp_path / "pooled.pt"
    torch.jit.script(nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten())).save(str(detector_file))
    snapshot = tmp_path / "network-snapshot-000004.safetensors"
    weights_before = [p.clone() for p in tiny_G.parameters()]
    for _ in range(2):
        evaluate_for_training("fid1k_full", tiny_G, "builtin:shapes?n=8", run_dir=tmp_path, snapshot=snapshot,
                              detector=detector_file, batch_size=250, cache_dir=tmp_path)
    lines = (tmp_path / "metric-fid1k_full.jsonl").read_text().splitlines()
    assert len(lines) == 2
    record = json.loads(lines[0])
    assert record["snapshot_pkl"] == "network-snapshot-000004.safetensors"
    assert {"results", "metric", "total_time", "total_time_str", "num_gpus", "timestamp"} <= set(record)
    assert all(torch.equal(a, b) for a, b in zip(weights_before, tiny_G.parameters(), strict=True))
    assert tiny_G.training and all(p.requires_grad for p in tiny_G.parameters())


def test_calc_metrics_opens_the_data_and_writes_the_run_dir(tiny_G, tmp_path: Path):
    detector_file = tmp_path / "pooled.pt"
    torch.jit.script(nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten())).save(str(detector_file))
    records = calc_metrics(tiny_G, "builtin:shapes?n=16", ["fid1k_full", "kid1k"], mirror=True,
                           detector=detector_file, device="cpu", batch_size=100, cache_dir=tmp_path, progress=False,
                           run_dir=tmp_path)
    assert [r["metric"] for r in records] == ["fid1k_full", "kid1k"]
    assert (tmp_path / "metric-kid1k.jsonl").is_file()
    assert len(list((tmp_path / "metric-stats").glob("*.npz"))) == 2  # unmirrored for _full, mirrored for kid1k


def test_inception_score_of_an_unconditional_network_takes_no_dataset(tiny_G, small_detector, tmp_path: Path):
    record = compute_metric(small("is2k", num_gen=10), tiny_G, None, detector=small_detector, batch_size=4,
                            cache_dir=tmp_path, progress=False)
    assert record["results"]["is2k_mean"] > 0


def test_a_conditional_network_needs_a_dataset_for_its_labels(small_detector, tmp_path: Path):
    torch.manual_seed(1)
    G = Generator(z_dim=16, c_dim=3, w_dim=16, img_resolution=16, img_channels=3,
                  mapping_kwargs={"num_layers": 2}, synthesis_kwargs={"channel_base": 256, "channel_max": 16})
    with pytest.raises(ValueError, match="is2k needs a dataset: its real images, or the labels of a conditional network"):
        compute_metric(small("is2k", num_gen=10), G, None, detector=small_detector, progress=False)
    with pytest.raises(ValueError, match="fid2k needs a dataset"):
        compute_metric(small("fid2k", num_gen=10), G, None, detector=small_detector, progress=False)


def test_a_conditional_network_against_data_that_lack_its_top_classes_says_where_their_labels_stop(small_detector):
    G = Generator(z_dim=16, c_dim=7, w_dim=16, img_resolution=16, img_channels=3,
                  mapping_kwargs={"num_layers": 2}, synthesis_kwargs={"channel_base": 256, "channel_max": 16})
    shapes = open_dataset("builtin:shapes?n=12", resolution=16, use_labels=True)  # classes 0 to 4
    with pytest.raises(ValueError, match=r"^the network is conditional with c_dim=7, but the dataset's labels go up to "
                                         r'class 4 while the network has 7 classes; .*"num_classes": 7') as caught:
        compute_metric(small("fid2k", num_gen=10), G, shapes, detector=small_detector, progress=False)
    assert "open it with labels" not in str(caught.value)


def test_a_score_from_another_feature_network_is_said_not_comparable(tiny_G, shapes, small_detector, tmp_path: Path):
    with pytest.warns(UserWarning, match=r"^fid2k_full: computed with pooled, a feature network other than the FID "
                                         r"Inception; not comparable with published numbers$"):
        compute_metric(small("fid2k_full"), tiny_G, shapes, detector=small_detector, batch_size=4, cache_dir=tmp_path,
                       progress=False)


def test_a_detector_whose_digest_is_not_the_one_its_name_gives_is_said_not_comparable(tmp_path: Path):
    path = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    torch.jit.script(nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten())).save(str(path))
    with pytest.warns(UserWarning, match=r"its SHA-256 begins [0-9a-f]{8}, not 6726825d as its name says, so it is not "
                                         r"the file pytorch-fid publishes"):
        load_detector(path)


def test_a_detector_download_cut_short_is_called_truncated(tmp_path: Path):
    whole = tmp_path / "whole.pth"
    torch.save({"w": torch.zeros(1000)}, whole)
    path = tmp_path / "inception-2015-12-05.pth"
    path.write_bytes(whole.read_bytes()[:2000])
    with pytest.raises(ValueError, match=r"inception-2015-12-05.pth: cannot read as a weights file or TorchScript module "
                                         r"\(truncated: a zip archive without its end, 2,000 bytes; download it again\)$"):
        load_detector(path)


def test_rows_printed_one_metric_at_a_time_line_up_with_the_header():
    """The official names and values fit the columns: rows printed as each metric finishes stay aligned."""
    from stylegan2.metrics.evaluate import format_results

    lines = [*format_results([dict(metric="fid50k_full", results={"fid50k_full": 3.21}, total_time_str="1h 02m 03s")]).splitlines(),
             *format_results([dict(metric="pr50k3_full", results={"pr50k3_full_precision": 0.71, "pr50k3_full_recall": 0.4},
                                   total_time_str="5m 02s")], header=False).splitlines(),
             *format_results([dict(metric="kid50k_full", results={"kid50k_full": -1.23456789e-05}, total_time_str="2s")],
                             header=False).splitlines()]
    starts = {tuple(i for i in range(1, len(line)) if line[i - 1] == " " and line[i] != " ")[:3] for line in lines}
    assert len(starts) == 1, "\n".join(lines)  # every column starts where the header's does


def test_a_metric_record_is_never_appended_through_a_link(tmp_path):
    """A run directory from elsewhere shipped metric-fid50k_full.jsonl as a link to a file of the user's, and
    `stylegan2 metrics` appended to that file."""
    import errno

    from stylegan2.metrics.evaluate import report_metric

    victim = tmp_path / "victim.txt"
    victim.write_text("mine\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "metric-fid50k_full.jsonl").symlink_to(victim)
    record = {"metric": "fid50k_full", "results": {"fid50k_full": 1.0}}
    with pytest.raises(OSError) as caught:
        report_metric(record, run_dir=run)
    assert caught.value.errno == errno.ELOOP and caught.value.strerror == "a symbolic link, which is not written through"
    assert victim.read_text() == "mine\n"
    (run / "metric-fid50k_full.jsonl").unlink()
    report_metric(record, run_dir=run)
    report_metric(record, run_dir=run)
    lines = (run / "metric-fid50k_full.jsonl").read_text().splitlines()
    assert [json.loads(line)["results"] for line in lines] == [{"fid50k_full": 1.0}] * 2


def test_a_metric_record_after_one_cut_short_is_kept_on_a_line_of_its_own(tmp_path):
    """A record whose append a full disk or a kill stopped: the next one is not glued onto it, and lost with it."""
    from stylegan2.metrics.evaluate import metric_file, report_metric

    records = metric_file(tmp_path, "fid50k_full")
    records.write_text('{"results": {"fid50k_full": 3.')
    with pytest.warns(UserWarning, match="its last line was cut short"):
        report_metric({"metric": "fid50k_full", "results": {"fid50k_full": 2.5}}, run_dir=tmp_path)
    lines = records.read_text().splitlines()
    assert lines[0] == '{"results": {"fid50k_full": 3.' and json.loads(lines[1])["results"] == {"fid50k_full": 2.5}
