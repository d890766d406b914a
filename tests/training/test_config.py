"""Resolving training options: data-loader workers from the machine, and one-line errors for bad values."""

import dataclasses
import math
import re

import pytest
import torch
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.training import config
from stylegan2.training.ada import AUG_MODES
from stylegan2.training.config import PRESETS, auto_workers, resolve_options, run_differences
from stylegan2.training.networks import build_networks
from stylegan2.training.summary import parameters_summary, setup_summary


def test_cpu_training_loads_data_in_the_training_process():
    assert auto_workers("cpu") == 0
    assert resolve_options("builtin:shapes", "cpu", 32, 1, {}, device_type="cpu").workers == 0


@pytest.mark.parametrize("cores,local_processes,expected", [(16, 1, 3), (4, 1, 3), (3, 1, 2), (2, 1, 1), (1, 1, 0), (16, 8, 1), (32, 8, 3)])
def test_gpu_training_takes_up_to_three_workers_per_process_leaving_a_core(monkeypatch, cores, local_processes, expected):
    monkeypatch.setattr(config.os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(local_processes))
    assert auto_workers("cuda") == expected


def test_an_explicit_workers_value_wins():
    assert resolve_options("builtin:shapes", "cpu", 32, 1, {"workers": 2}, device_type="cpu").workers == 2


@pytest.mark.parametrize("args,message", [
    (["--loss", "r4gan"], "Invalid value for '--loss': 'r4gan' is not one of 'stylegan2', 'r3gan'"),
    (["--workers", "-1"], "Invalid value for '--workers'"),
    (["--aug", "strong"], "Invalid value for '--aug'"),
    (["--precision", "fp8"], "Invalid value for '--precision': 'fp8' is not one of 'fp16', 'bf16', 'fp32'"),
])
def test_bad_option_values_give_one_line_errors(args, message):
    result = CliRunner().invoke(main, ["train", "--data", "builtin:shapes", "--cfg", "cpu", "--dry-run", *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_dry_run_shows_the_resolved_loss_and_workers():
    args = ["train", "--data", "builtin:shapes?n=8", "--cfg", "cpu", "--loss", "r3gan", "--dry-run", "--device", "cpu"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert '"loss": "r3gan"' in result.output and '"workers": 0' in result.output


@pytest.mark.parametrize("args, message", [
    (["--fp32", "--precision", "bf16"], "--fp32 and --precision bf16 disagree; pass one of them"),
    (["--fp32=0", "--precision", "fp32"], "--no-fp32 and --precision fp32 disagree; pass one of them"),
])
def test_nvidias_fp32_flag_and_precision_must_agree(args, message):
    result = CliRunner().invoke(main, ["train", "--data", "builtin:shapes", "--cfg", "cpu", "--dry-run", *args])
    assert result.exit_code == 2 and f"Error: {message}" in result.output and "Traceback" not in result.output  # a usage error


@pytest.mark.parametrize("cfg, overrides, fp16, block", [
    ("cpu", {}, {"num_fp16_res": 0, "conv_clamp": None}, {}),  # the cpu preset trains in float32
    ("stylegan2", {}, {"num_fp16_res": 4, "conv_clamp": 256}, {}),  # NVIDIA's kwargs, unchanged
    ("cpu", {"precision": "bf16"}, {"num_fp16_res": 4, "conv_clamp": None}, {"half_dtype": "bfloat16"}),
    ("stylegan2", {"precision": "fp32"}, {"num_fp16_res": 0, "conv_clamp": None}, {}),
])
def test_precision_builds_the_networks_layers(cfg, overrides, fp16, block):
    G, D = build_networks(resolve_options("builtin:shapes", cfg, 32, 1, overrides), 0, 32, 3)
    synthesis = G.init_kwargs["synthesis_kwargs"]
    assert {k: synthesis[k] for k in fp16} == fp16 and {k: D.init_kwargs[k] for k in fp16} == fp16
    assert synthesis.get("half_dtype") == block.get("half_dtype") == D.init_kwargs["block_kwargs"].get("half_dtype")
    expected = torch.bfloat16 if block else torch.float16
    assert G.synthesis.b32.half_dtype == D.b32.half_dtype == expected


@pytest.mark.parametrize("precision, device, words", [
    ("fp16", "cuda", "float16 in the top 4 resolutions' layers, conv_clamp 256"),
    ("fp16", "cpu", "float32 (float16 layers need CUDA; a CPU with AVX-512 BF16 or AMX runs --precision bf16)"),
    ("bf16", "cpu", "bfloat16 in the top 4 resolutions' layers"),
    ("fp32", "cuda", "float32 throughout"),
])
def test_the_runs_first_lines_say_what_the_precision_means_on_its_device(precision, device, words):
    options = resolve_options("builtin:shapes", "stylegan2", 32, 1, {"precision": precision})
    assert setup_summary(options, device, None)[1] == f"Precision: --precision {precision}, {words}"


def test_map_lrmul_sets_the_mapping_layers_learning_rate_and_official_networks_keep_theirs():
    G, _ = build_networks(resolve_options("builtin:shapes", "cpu", 16, 1, {"map_lrmul": 0.2}), 0, 16, 3)
    layer = G.mapping.fc0
    assert G.init_kwargs["mapping_kwargs"]["lr_multiplier"] == 0.2
    assert layer.weight_gain == pytest.approx(0.2 / math.sqrt(layer.weight.shape[1]))
    official, _ = build_networks(resolve_options("builtin:shapes", "stylegan2", 16, 1, {}), 0, 16, 3)
    assert "lr_multiplier" not in official.init_kwargs["mapping_kwargs"]  # NVIDIA's constructor arguments, unchanged
    assert official.mapping.fc0.weight_gain == pytest.approx(0.01 / math.sqrt(official.mapping.fc0.weight.shape[1]))
    result = CliRunner().invoke(main, ["train", "--data", "builtin:shapes", "--cfg", "cpu", "--dry-run", "--map-lrmul", "0"])
    assert result.exit_code == 2 and "Invalid value for '--map-lrmul': 0.0 is not in the range x>0" in result.output


@pytest.mark.parametrize("option, value", [("--glr", "nan"), ("--gamma", "inf"), ("--map-lrmul", "nan"), ("--kimg", "inf"),
                                           ("--ema-kimg", "-inf"), ("--target", "nan")])
def test_a_number_option_that_is_not_a_finite_number_is_refused_by_name(option, value):
    """click's FloatRange lets NaN through (and inf past a lower bound): --glr nan trained NaN, --dry-run printed NaN."""
    result = CliRunner().invoke(main, ["train", "--data", "builtin:shapes", "--cfg", "cpu", "--dry-run", option, value])
    assert result.exit_code == 2 and f"Invalid value for '{option}': '{value}' is not a finite number" in result.output


@pytest.mark.parametrize("name, value", [("glr", float("nan")), ("map_lrmul", float("inf")), ("gamma", float("nan"))])
def test_resolve_options_refuses_values_that_are_not_numbers(name, value):
    with pytest.raises(ValueError, match=rf"^--{name.replace('_', '-')} must be a (positive )?number.*, got {value}$"):
        resolve_options("builtin:shapes", "cpu", 16, 1, {name: value})


def test_a_cbase_below_the_resolution_is_refused_before_training():
    result = CliRunner().invoke(main, ["train", "--data", "builtin:shapes", "--cfg", "cpu", "--dry-run", "--cbase", "16"])
    assert result.exit_code == 1 and "--cbase 16 gives no channels at 32 px" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("overrides, expected", [
    ({}, 0.1),  # the cpu preset trains unlabeled data on clusters, with its faster mapping layers
    ({"clusters": 0}, 0.01),  # a packed unconditional run keeps NVIDIA's multiplier
    ({"cond": True}, 0.01),  # so does a run on the dataset's labels
    ({"map_lrmul": 0.05}, 0.05),  # the option wins
])
def test_the_cpu_preset_speeds_up_the_mapping_layers_only_on_clusters(overrides, expected):
    options = resolve_options("builtin:shapes", "cpu", 16, 1, overrides)
    assert options.map_lrmul == pytest.approx(expected)
    objective = setup_summary(options, "cpu", None)[0]  # the run's first lines say so when it is not NVIDIA's
    assert ("mapping layers' learning-rate multiplier" in objective) == (expected != 0.01)


@pytest.mark.parametrize("cfg", [name for name in PRESETS if name != "cpu"] + ["auto"])
def test_official_presets_keep_nvidias_mapping_learning_rate(cfg):
    assert resolve_options("builtin:shapes", cfg, 16, 1, {"clusters": 4}).map_lrmul == 0.01


@pytest.mark.parametrize("num_images, expected", [(None, "ada"), (19_999, "ada"), (20_000, "noaug"), (60_000, "noaug")])
def test_the_cpu_preset_augments_only_datasets_under_twenty_thousand_images(num_images, expected):
    options = resolve_options("builtin:shapes", "cpu", 32, 1, {}, num_images=num_images)
    assert options.aug == expected
    assert resolve_options("builtin:shapes", "cpu", 32, 1, {"cond": True}, num_images=num_images).aug == expected
    augmentation = setup_summary(options, "cpu", num_images)[2]  # the run's first lines say what was picked and why
    assert augmentation.startswith(f"Augmentation: {'none' if expected == 'noaug' else 'ada'}")
    assert "the cpu preset uses ada below 20,000 images and none from there on (--aug)" in augmentation


def test_an_explicit_aug_wins_over_the_cpu_presets_choice_and_gets_no_reason_from_it():
    for aug, num_images in (("ada", 60_000), ("noaug", 100)):
        options = resolve_options("builtin:shapes", "cpu", 32, 1, {"aug": aug}, num_images=num_images)
        assert options.aug == aug
        assert "preset uses ada below" not in setup_summary(options, "cpu", num_images)[2]  # the user chose it


def test_aug_fixed_needs_p_as_in_nvidias_train_py():
    with pytest.raises(ValueError, match=r"^--aug fixed needs --p, the augmentation probability it keeps \(e.g. --p 0.2\)$"):
        resolve_options("builtin:shapes", "cpu", 32, 1, {"aug": "fixed"})
    assert resolve_options("builtin:shapes", "cpu", 32, 1, {"aug": "fixed", "p": 0.2}).p == 0.2


@pytest.mark.parametrize("overrides, message", [
    ({"aug": "noaug", "target": 0.7}, "--aug noaug does not use --target (--aug ada does); drop it or change --aug"),
    ({"aug": "noaug", "p": 0.3, "target": 0.7, "augpipe": "bgcfnc"},
     "--aug noaug does not use --augpipe (--aug ada and fixed do), --p (--aug ada and fixed do) or --target (--aug ada does); "
     "drop them or change --aug"),
    ({"aug": "fixed", "p": 0.2, "ada_kimg": 100}, "--aug fixed does not use --ada-kimg (--aug ada does); drop it or change --aug"),
    ({"aug": "diffaug", "augpipe": "bg"}, "--aug diffaug does not use --augpipe (--aug ada and fixed do); drop it or change --aug"),
])
def test_augmentation_options_the_chosen_aug_ignores_are_refused(overrides, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        resolve_options("builtin:shapes", "cpu", 32, 1, overrides, num_images=100)


def test_ada_takes_every_augmentation_option():
    overrides = {"aug": "ada", "p": 0.1, "target": 0.7, "augpipe": "bgcfnc", "ada_kimg": 100}
    options = resolve_options("builtin:shapes", "stylegan2", 32, 1, overrides)
    assert (options.p, options.target, options.augpipe, options.ada_kimg) == (0.1, 0.7, "bgcfnc", 100)


def test_ada_options_where_the_cpu_preset_chose_noaug_are_a_note_not_an_error():
    with pytest.warns(UserWarning) as notes:
        options = resolve_options("builtin:shapes", "cpu", 32, 1, {"target": 0.7, "augpipe": "bgcfnc"}, num_images=60_000)
    assert options.aug == "noaug"
    assert [str(n.message) for n in notes] == [
        "--augpipe and --target are left unused: the cpu preset trains datasets of 20,000 images or more (60,000 here) "
        "without augmentation; add --aug ada to use them"]


def test_every_aug_mode_says_which_options_it_uses():
    assert set(config.AUG_OPTIONS) == set(AUG_MODES)


def test_a_subset_larger_than_the_dataset_is_refused_as_in_nvidias_train_py():
    message = ("--max-size 1000 (NVIDIA's --subset) is more than the 64 images of lab.zip; pass 1 to 64, or leave it out "
               "to train on all of them")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        resolve_options("lab.zip", "cpu", 32, 1, {"max_size": 1000}, num_images=64)  # the opened subset: all 64
    assert resolve_options("lab.zip", "cpu", 32, 1, {"max_size": 64}, num_images=64).max_size == 64


@pytest.mark.parametrize("cfg", [name for name in PRESETS if name != "cpu"] + ["auto"])
def test_official_presets_keep_ada_on_any_dataset(cfg):
    options = resolve_options("builtin:shapes", cfg, 32, 1, {}, num_images=10**6)
    assert options.aug == "ada"
    assert "preset uses ada below" not in setup_summary(options, "cpu", 10**6)[2]


def test_a_dataset_larger_than_the_networks_is_refused_with_the_conversion_to_run():
    message = ("photos: images are 2048 px (shorter side) but the networks go up to 1024; convert with "
               "`stylegan2 dataset --source photos --dest OUT.zip --resolution 1024 --transform center-crop`")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        resolve_options("photos", "auto", 2048, 1, {})
    assert resolve_options("photos", "auto", 1024, 1, {}).resolution == 1024


@pytest.mark.parametrize("gpus, overrides, batch, batch_gpu", [
    (1, {}, 64, 8),  # the preset's 64 over the 8 GPUs it assumes: 8 rounds of 8
    (1, {"batch": 32}, 32, 32),  # --batch: the whole per-process batch in one pass, as NVIDIA's batch_gpu = batch // gpus
    (4, {"batch": 32}, 32, 8),
    (1, {"batch": 32, "batch_gpu": 4}, 32, 4),
])
def test_batch_gpu_follows_nvidias_train_py(gpus, overrides, batch, batch_gpu):
    """NVIDIA's train.py sets batch_gpu = mb // ref_gpus, and batch // gpus when --batch is given; ours kept the preset's 8
    under --batch 32, four passes where theirs makes one."""
    options = resolve_options("builtin:shapes", "paper256", 32, gpus, overrides)
    assert (options.batch, options.batch_gpu) == (batch, batch_gpu)


def test_the_runs_first_lines_count_ds_frozen_layers_and_name_them():
    with pytest.warns(UserWarning, match="without --resume freezes D's first 2 layers at their random initial weights"):
        options = resolve_options("builtin:shapes", "cpu", 16, 1, {"freezed": 2, "clusters": 0, "pack": 1})
    G, D = build_networks(options, 0, 16, 3)
    unfrozen = build_networks(dataclasses.replace(options, freezed=0), 0, 16, 3)[1]
    total = sum(p.numel() for p in unfrozen.parameters())
    frozen = sum(t.numel() for layer in (unfrozen.b16.fromrgb, unfrozen.b16.conv0) for t in (layer.weight, layer.bias))
    assert parameters_summary(G, D, 2) == (f"G: {sum(p.numel() for p in G.parameters()):,} parameters; D: {total:,}, "
                                            f"{frozen:,} of them frozen (--freezed 2: b16.fromrgb, b16.conv0)")
    assert parameters_summary(G, unfrozen, 0).endswith(f"; D: {total:,}")


def test_run_differences_tell_another_jobs_run_from_this_ones(tmp_path, monkeypatch):
    """What --resume auto compares with a run's training_options.json."""
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    ours = resolve_options("data", "cpu", 32, 1, {"outdir": "runs", "gamma": 2.0, "mirror": True})
    recorded = dataclasses.asdict(ours)
    same = {**recorded, "data": str(tmp_path / "data"), "kimg": 9999.0, "resume": "x", "workers": 3}  # the same folder
    assert run_differences(ours, same) == []
    other = {**recorded, "gamma": 8.0, "mirror": False}
    assert run_differences(ours, other) == ["--no-mirror, not --mirror", "--gamma 8.0, not --gamma 2.0"]
    typed_batch = {**other, "batch": 64, "given": [*ours.given, "batch"]}  # a run that typed --batch 64
    assert run_differences(ours, typed_batch) == ["--no-mirror, not --mirror", "--gamma 8.0, not --gamma 2.0",
                                                  "--batch 64, not --batch 32"]
    auto = resolve_options("data", "auto", 32, 1, {"outdir": "runs"})  # the batch follows the GPU count, gamma the batch
    derived = {**dataclasses.asdict(auto), "batch": 64, "gamma": 1.0, "ema_kimg": 20.0}
    assert run_differences(auto, derived) == []  # refused with the --batch to pass instead
    assert run_differences(auto, {**derived, "glr": 0.1, "given": [*auto.given, "glr"]}) == [f"--glr 0.1, not --glr {auto.glr}"]
    assert run_differences(auto, {**derived, "glr": 0.1}) == [  # neither typed it: the preset's choice changed since
        f"--glr 0.1, not --glr {auto.glr} (neither typed: a default that changed)"]
    older = {key: value for key, value in other.items() if key not in ("gamma", "mirror")}  # a version without them
    assert run_differences(ours, older) == []
    assert run_differences(ours, {**recorded, "data": "builtin:shapes"}) == ["--data builtin:shapes, not --data data"]


def test_a_dataset_moved_or_copied_to_another_folder_is_the_same_runs(tmp_path, monkeypatch):
    """A job that copies its data to its own scratch folder at every start must find its run again."""
    monkeypatch.chdir(tmp_path)
    for folder, size in (("scratchB", 100), ("other", 100), ("bigger", 200)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "shapes.zip").write_bytes(bytes(size))
    ours = dataclasses.replace(resolve_options("builtin:shapes", "cpu", 32, 1, {"outdir": "runs"}), data="scratchB/shapes.zip")
    recorded = dataclasses.asdict(ours)
    assert run_differences(ours, {**recorded, "data": "scratchA/shapes.zip"}) == []  # gone: moved here
    assert run_differences(ours, {**recorded, "data": "other/shapes.zip"}) == []  # a copy
    assert run_differences(ours, {**recorded, "data": "bigger/shapes.zip"}) == [
        "--data bigger/shapes.zip, not --data scratchB/shapes.zip"]
    assert run_differences(ours, {**recorded, "data": "scratchA/cats.zip"}) == [
        "--data scratchA/cats.zip, not --data scratchB/shapes.zip"]


def test_a_gpu_count_the_presets_batch_does_not_split_over_names_the_preset_not_a_batch_never_given():
    with pytest.raises(ValueError, match=r"^3 GPUs/processes: the auto preset's batch 64 does not split over them; pass "
                                         r"a --batch that does, e.g. --batch 60, or use a power of two of them"):
        resolve_options("x.zip", "auto", 64, 3, {})
    assert resolve_options("x.zip", "auto", 64, 3, {"batch": 60}).batch == 60
    with pytest.raises(ValueError, match=r"the cpu preset's batch 32 does not split over them; pass a --batch that does, "
                                         r"e.g. --batch 36"):  # 33 splits, but --mbstd 4 must divide each process's 11
        resolve_options("x.zip", "cpu", 32, 3, {})
    assert resolve_options("x.zip", "cpu", 32, 3, {"batch": 36}).batch == 36
    with pytest.raises(ValueError, match=r"^--batch 64 must be a multiple of the number of GPUs/processes \(3\)$"):
        resolve_options("x.zip", "auto", 64, 3, {"batch": 64})


def test_an_error_about_a_batch_gpu_never_given_says_where_it_came_from():
    with pytest.raises(ValueError, match=r"^--mbstd 4 must divide --batch-gpu 6; --batch-gpu 6 comes from --batch 6 over 1 "
                                         r"process\(es\): pass a --batch-gpu that fits, or another --batch$"):
        resolve_options("x.zip", "cpu", 32, 1, {"batch": 6})
    with pytest.raises(ValueError, match=r"^--mbstd 4 must divide --batch-gpu 6$"):  # given: said as it was
        resolve_options("x.zip", "cpu", 32, 1, {"batch": 6, "batch_gpu": 6})


@pytest.mark.parametrize("cfg,device,noted", [("auto", "cpu", True), ("paper256", "cpu", True), ("cpu", "cpu", False),
                                              ("auto", "cuda", False)])
def test_a_gpu_preset_on_the_cpu_is_noted_with_the_cpu_preset(cfg, device, noted):
    """A newcomer who leaves out --cfg on a CPU got the GPU networks and a 25,000 kimg schedule without a word."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        options = resolve_options("d.zip", cfg, 256, 1, {}, device_type=device, num_images=1000)
    notes = [str(w.message) for w in caught if "--cfg cpu is the preset" in str(w.message)]
    assert bool(notes) == noted, [str(w.message) for w in caught]
    if noted:
        assert notes == [f"--cfg {cfg} sizes the networks (channel base {options.cbase:,}) and the schedule "
                         f"({options.kimg:,} kimg) for GPUs; on the CPU, --cfg cpu is the preset to start from "
                         f"(channel base {PRESETS['cpu'].channel_base:,}, {PRESETS['cpu'].kimg:,} kimg)"]


def test_the_gpu_preset_note_gives_the_presets_sizes_not_the_users_overrides():
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resolve_options("d.zip", "auto", 256, 1, {"cbase": 4096, "kimg": 10}, device_type="cpu", num_images=1000)
    (note,) = [str(w.message) for w in caught if "--cfg cpu is the preset" in str(w.message)]
    assert note.startswith("--cfg auto sizes the networks (channel base 16,384) and the schedule (25,000 kimg) for GPUs")


def test_the_diffaugment_policy_is_a_training_option_that_reaches_diffaugment():
    """AugmentConfig's policy had no option: --aug diffaug always used the default (qa-contributor M3)."""
    from stylegan2.training.ada import build_augmentation

    options = resolve_options("builtin:shapes", "cpu", 32, 1, {"aug": "diffaug", "diffaugment_policy": " color, cutout"})
    assert options.diffaugment_policy == "color,cutout" and options.to_json()["diffaugment_policy"] == "color,cutout"
    assert build_augmentation(options.augment).pipe.policy == ["color", "cutout"]


def test_an_unknown_diffaugment_transform_is_refused_naming_the_option_and_the_choices():
    message = ("--diffaugment-policy color,flip: unknown transform(s) flip; choose from color, translation, cutout, "
               "comma-separated (e.g. color,translation,cutout)")
    with pytest.raises(config.OptionError, match=f"^{re.escape(message)}$"):
        resolve_options("builtin:shapes", "cpu", 32, 1, {"aug": "diffaug", "diffaugment_policy": "color,flip"})


@pytest.mark.parametrize("aug", [None, "ada", "noaug"])
def test_a_diffaugment_policy_without_aug_diffaug_is_refused(aug):
    """Under the preset's ada (no --aug given) too, which the note for the preset's noaug took for noaug."""
    message = f"--aug {aug or 'ada'} does not use --diffaugment-policy (--aug diffaug does); drop it or change --aug"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        resolve_options("builtin:shapes", "cpu", 32, 1, {"aug": aug, "diffaugment_policy": "color"}, num_images=100)


def test_a_diffaugment_policy_where_the_cpu_preset_chose_noaug_is_a_note_naming_diffaug():
    with pytest.warns(UserWarning) as notes:
        options = resolve_options("builtin:shapes", "cpu", 32, 1, {"diffaugment_policy": "color"}, num_images=60_000)
    assert options.aug == "noaug" and options.to_json()["diffaugment_policy"] is None
    assert [str(n.message) for n in notes] == [
        "--diffaugment-policy is left unused: the cpu preset trains datasets of 20,000 images or more (60,000 here) "
        "without augmentation; add --aug diffaug to use it"]


def test_resume_auto_continues_only_a_run_of_the_same_diffaugment_policy():
    ours = resolve_options("builtin:shapes", "cpu", 32, 1, {"aug": "diffaug", "diffaugment_policy": "color"})
    theirs = resolve_options("builtin:shapes", "cpu", 32, 1, {"aug": "diffaug"}).to_json()
    assert run_differences(ours, theirs) == ["--diffaugment-policy color,translation,cutout, not --diffaugment-policy color"]


def test_resume_auto_takes_a_diffaug_run_recorded_before_the_policy_was_an_option_for_the_default_policy():
    """Every run before the option trained with color,translation,cutout: it is that policy's job, not another's."""
    ours = resolve_options("builtin:shapes", "cpu", 32, 1, {"aug": "diffaug"})
    older = {key: value for key, value in ours.to_json().items() if key != "diffaugment_policy"}
    assert run_differences(ours, older) == []
    other = resolve_options("builtin:shapes", "cpu", 32, 1, {"aug": "diffaug", "diffaugment_policy": "color"})
    assert run_differences(other, older) == ["--diffaugment-policy color,translation,cutout, not --diffaugment-policy color"]


def test_options_resolve_without_importing_the_networks():
    """config and networks imported each other (networks imports config): the --freezed note's D is built by
    training/freezing.py (qa-auditor L5)."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(config))
    imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert "networks" not in imported and "freezing" in imported
