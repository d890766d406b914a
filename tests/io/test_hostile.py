"""Hostile network files: crafted here, each refused with one line naming the file, never a crash.

The dangerous inputs (a segfault in C, allocations of gigabytes) are loaded in a child process
under an address-space limit, so a regression fails the test instead of taking the suite down.
The same child then loads good files, which must come out exactly as in a fresh process.
"""

from __future__ import annotations

import collections
import copy
import io
import json
import math
import os
import pickle
import re
import struct
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from stylegan2.io import CheckpointError, checkpoint_info, format_info, load_checkpoint, save_network
from stylegan2.io.safe_pickle import NetworkPickleUnpickler, _EasyDict, _rebuild_tensor

PROTO2, PROTO4 = b"\x80\x02", b"\x80\x04"


def unicode(text: str) -> bytes:
    """BINUNICODE opcode."""
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def global_(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def network_dict(value: bytes) -> bytes:
    """A pickle of {'G': value}."""
    return PROTO2 + b"}" + unicode("G") + value + b"s."


def persistent(class_name: str, state: bytes) -> bytes:
    """_reconstruct_persistent_obj({'type': 'class', 'class_name': ..., 'state': state}) as opcodes."""
    meta = b"}(" + unicode("type") + unicode("class") + unicode("class_name") + unicode(class_name) + unicode("state") + state + b"u"
    return global_("torch_utils.persistence", "_reconstruct_persistent_obj") + meta + b"\x85R"


def with_init_kwargs(kwargs: bytes) -> bytes:
    return network_dict(persistent("Generator", b"}" + unicode("_init_kwargs") + kwargs + b"s"))


def deep_tuple_key(depth: int) -> bytes:
    """{(((...),),): None}: hashing the key recurses `depth` levels in C."""
    return PROTO2 + b"}" + b")" + b"\x85" * depth + b"Ns."


def deep_list(depth: int) -> bytes:
    return with_init_kwargs(b"}" + unicode("x") + b"(" * depth + b"]" + b"l" * depth + b"s")


def self_referencing_list() -> bytes:
    return with_init_kwargs(b"}" + unicode("x") + b"]q\x00h\x00as")


def module_containing_itself() -> bytes:
    """A persistent object whose _modules table holds the object itself (via the memo)."""
    state = b"}q\x00" + unicode("_modules") + b"}" + unicode("child") + b"h\x01ss"
    obj = global_("torch_utils.persistence", "_reconstruct_persistent_obj") + b"}q\x01" + b"(" + unicode("type") + unicode("class")
    return network_dict(obj + unicode("class_name") + unicode("Generator") + unicode("state") + state + b"u\x85R")


def bytes8_claim() -> bytes:
    return PROTO4 + b"}" + unicode("G") + b"\x8e" + struct.pack("<Q", 2**40) + b"xx" + b"s."


def frame_claim() -> bytes:
    return PROTO4 + b"\x95" + struct.pack("<Q", 2**40) + b"}."


def memo_index_claim() -> bytes:
    return PROTO2 + b"}r" + struct.pack("<I", 2**32 - 16) + b"."


def build_on_easydict() -> bytes:
    """BUILD with slot state on the EasyDict stand-in class: `EasyDict.__setitem__ = None`."""
    return network_dict(global_("dnnlib.util", "EasyDict") + b"N}" + unicode("__setitem__") + b"Ns\x86b")


def build_on_rebuild_function() -> bytes:
    """BUILD with slot state on a rebuild function: `_rebuild_tensor_v2.__defaults__ = (1,)`."""
    return network_dict(global_("torch._utils", "_rebuild_tensor_v2") + b"N}" + unicode("__defaults__") + b"K\x01\x85s\x86b")


def unhashable_class_name() -> bytes:
    return network_dict(persistent_raw(b"]"))


def persistent_raw(class_name: bytes) -> bytes:
    meta = b"}(" + unicode("type") + unicode("class") + unicode("class_name") + class_name + unicode("state") + b"}u"
    return global_("torch_utils.persistence", "_reconstruct_persistent_obj") + meta + b"\x85R"


def build_changes_class_name() -> bytes:
    """A persistent object whose class_name a later BUILD replaces with a list (an unhashable name)."""
    state_change = b"N}" + unicode("class_name") + b"]s\x86b"
    return network_dict(persistent("Generator", b"}") + state_change)


PICKLES = {
    "deep_tuple_key.pkl": lambda: deep_tuple_key(200_000),
    "deep_tuple_key_50k.pkl": lambda: deep_tuple_key(50_000),
    "deep_list.pkl": lambda: deep_list(100_000),
    "self_list.pkl": self_referencing_list,
    "self_module.pkl": module_containing_itself,
    "bytes8.pkl": bytes8_claim,
    "frame.pkl": frame_claim,
    "memo.pkl": memo_index_claim,
    "poison_easydict.pkl": build_on_easydict,
    "poison_function.pkl": build_on_rebuild_function,
    "unhashable_class.pkl": unhashable_class_name,
    "class_name_changed.pkl": build_changes_class_name,
}


def tiny_generator_kwargs(**changes) -> dict:
    kwargs = dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=8, img_channels=3, mapping_kwargs={"num_layers": 2},
                  synthesis_kwargs={"channel_base": 32, "channel_max": 4})
    kwargs.update(changes)
    return kwargs


def safetensors_with(path: Path, kwargs: dict | None = None, *, raw_meta: str | None = None) -> Path:
    """A small safetensors file whose metadata declares a Generator with `kwargs` (tensors of a tiny one)."""
    from stylegan2.models import Generator

    tensors = {f"G.{k}": v.contiguous() for k, v in Generator(**tiny_generator_kwargs()).state_dict().items()}
    meta = raw_meta or json.dumps({"format_version": 1, "networks": {"G": {"class": "Generator", "init_kwargs": kwargs}}})
    save_file(tensors, str(path), metadata={"stylegan2": meta})
    return path


SAFETENSORS = {
    "z_dim_2e25.safetensors": tiny_generator_kwargs(z_dim=33_554_432),
    "z_dim_2e28.safetensors": tiny_generator_kwargs(z_dim=2**28),
    "z_dim_2e22.safetensors": tiny_generator_kwargs(z_dim=2**22),  # a 32M-element tensor: planned on the meta device
    "wide_deep_mapping.safetensors": tiny_generator_kwargs(z_dim=8192, w_dim=8192, mapping_kwargs={"num_layers": 16}),
    "z_dim_float.safetensors": tiny_generator_kwargs(z_dim=1e9),
    "channel_max_float.safetensors": tiny_generator_kwargs(synthesis_kwargs={"channel_base": 64, "channel_max": 1.5}),
    "w_dim_negative.safetensors": tiny_generator_kwargs(w_dim=-8),
    "half_dtype_unknown.safetensors": tiny_generator_kwargs(synthesis_kwargs={"channel_base": 32, "channel_max": 4,
                                                                               "half_dtype": "float8"}),
    "mapping_100k.safetensors": tiny_generator_kwargs(mapping_kwargs={"num_layers": 100_000}),
}


def nested_list(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def rosinality_file(path: Path, *, args: dict | None = None, latent_avg=None) -> Path:
    import argparse

    state = {"style.1.weight": torch.zeros(4, 4), "input.input": torch.zeros(1, 4, 4, 4)}
    ckpt = {"g_ema": state, "args": argparse.Namespace(**(args or {}))}
    if latent_avg is not None:
        ckpt["latent_avg"] = latent_avg
    torch.save(ckpt, path)
    return path


def deflated_torch_zip(path: Path) -> Path:
    """A torch.save zip re-packed with deflate, plus an entry of 64 MB of zeros in 64 KB."""
    plain = io.BytesIO()
    torch.save({"g_ema": {}}, plain)
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
        dst.writestr(src.infolist()[0].filename.split("/")[0] + "/data/99", bytes(64 * 2**20))
    return path


def write_hostile_files(directory: Path) -> list[Path]:
    paths = []
    for name, make in PICKLES.items():
        (directory / name).write_bytes(make())
        paths.append(directory / name)
    for name, kwargs in SAFETENSORS.items():
        paths.append(safetensors_with(directory / name, kwargs))
    deep_json = '{"format_version": 1, "networks": {}, "source": ' + "[" * 100_000 + "]" * 100_000 + "}"
    paths.append(safetensors_with(directory / "deep_json.safetensors", raw_meta=deep_json))
    paths.append(rosinality_file(directory / "multiplier_str.pt", args={"channel_multiplier": "2" * 100_000}))
    paths.append(rosinality_file(directory / "multiplier_tensor.pt", args={"channel_multiplier": torch.zeros(3)}))
    paths.append(deflated_torch_zip(directory / "deflated.pt"))
    return paths


@pytest.fixture
def nvidia_pickle(monkeypatch):
    """A function writing networks as NVIDIA's training loop pickles them (importable stand-in names)."""
    persistence, util = types.ModuleType("torch_utils.persistence"), types.ModuleType("dnnlib.util")

    def _reconstruct_persistent_obj(meta):
        raise AssertionError("the loader must never call this")

    class EasyDict(dict):
        pass

    for obj, module, name in ((_reconstruct_persistent_obj, persistence, "_reconstruct_persistent_obj"), (EasyDict, util, "EasyDict")):
        obj.__module__, obj.__qualname__ = module.__name__, name
        setattr(module, name, obj)
    for name, module in [("torch_utils", types.ModuleType("torch_utils")), ("torch_utils.persistence", persistence),
                         ("dnnlib", types.ModuleType("dnnlib")), ("dnnlib.util", util)]:
        monkeypatch.setitem(sys.modules, name, module)

    class Persistent:
        def __init__(self, module, init_kwargs=None):
            state = {"training": False, "_parameters": dict(module._parameters), "_buffers": dict(module._buffers),
                     "_non_persistent_buffers_set": set(), "_forward_hooks": collections.OrderedDict(),
                     "_modules": {k: Persistent(v) for k, v in module._modules.items()}, "gain": np.float64(0.5)}
            if init_kwargs is not None:
                state["_init_args"] = ()
                state["_init_kwargs"] = EasyDict({k: EasyDict(v) if isinstance(v, dict) else v for k, v in init_kwargs.items()})
            self.meta = dict(type="class", version=6, module_src="", class_name=type(module).__name__, state=state)

        def __reduce__(self):
            return _reconstruct_persistent_obj, (self.meta,)

    def write(path: Path, networks: dict) -> Path:
        data = {name: Persistent(net, net.init_kwargs) for name, net in networks.items()}
        path.write_bytes(pickle.dumps({**data, "augment_pipe": None}, protocol=4))
        return path

    return write


REASONS = {  # what each hostile file's one-line error says
    "deep_tuple_key.pkl": "nested more than 100 levels",
    "deep_tuple_key_50k.pkl": "nested more than 100 levels",
    "deep_list.pkl": "nested more than 100 levels",
    "self_list.pkl": "refer to themselves",
    "self_module.pkl": "refer to themselves",
    "bytes8.pkl": "claims 1,099,511,627,776 bytes",
    "frame.pkl": "FRAME claims 1,099,511,627,776 bytes",
    "memo.pkl": "memo index 4,294,967,280 out of range",
    "poison_easydict.pkl": "BUILD on a class or function",
    "poison_function.pkl": "BUILD on a class or function",
    "unhashable_class.pkl": "malformed persistent object",
    "class_name_changed.pkl": "class_name or state changed after it was built",
    "z_dim_2e25.safetensors": "a tensor of 268,435,456 elements (limit 67,108,864)",
    "z_dim_2e28.safetensors": "a tensor of 2,147,483,648 elements",
    "z_dim_2e22.safetensors": "expects [8, 4194304]",
    "wide_deep_mapping.safetensors": "more than 1,000,000,000 parameters",
    "z_dim_float.safetensors": "cannot build Generator",
    "channel_max_float.safetensors": "cannot build Generator",
    "w_dim_negative.safetensors": "cannot build Generator",
    "half_dtype_unknown.safetensors": "half_dtype must be one of float16, bfloat16, got 'float8'",
    "mapping_100k.safetensors": "more than 1,000 submodules",
    "deep_json.safetensors": "not valid JSON",
    "multiplier_str.pt": "expected an integer from 1 to 32",
    "multiplier_tensor.pt": "channel_multiplier is a Tensor",
    "deflated.pt": "compressed, which this reader does not inflate",
}
# Tested only in the child process: a segfault on regression, and files whose checks plan large
# tensors on the meta device, which loads PyTorch's compiler stack (seconds, once per process).
CHILD_ONLY = {"deep_tuple_key.pkl", "z_dim_2e22.safetensors", "wide_deep_mapping.safetensors"}


CHILD = """
import json, sys
from stylegan2.io import CheckpointError, load_checkpoint
*hostile, good_pkl, good_st = sys.argv[1:]
for path in hostile:
    try:
        load_checkpoint(path)
    except CheckpointError as exc:
        message = str(exc)
        assert "\\n" not in message and path in message, message
        print("refused", path, "|", message, flush=True)
    else:
        raise SystemExit(f"{path} was loaded")
sums = {}
for path in (good_pkl, good_st):
    for name, net in load_checkpoint(path).networks.items():
        sums[f"{path}:{name}"] = [float(v.double().sum()) for v in net.state_dict().values()]
print("GOOD " + json.dumps(sums))
"""


def test_the_isolated_child_cannot_allocate_beyond_its_headroom(memory_limited_python):
    """The cap the hostile files are opened under bites: what would exhaust a machine fails there instead."""
    beyond = memory_limited_python("import numpy; numpy.ones(2**29, dtype='uint8')", headroom=2**28)
    assert "MemoryError" in beyond.stderr, beyond.stderr[-2000:]
    within = memory_limited_python("import numpy; numpy.ones(2**26, dtype='uint8')", headroom=2**28)
    assert within.returncode == 0, within.stderr[-2000:]


def test_hostile_files_then_good_ones_in_one_process(tmp_path, nvidia_pickle, tiny_networks, memory_limited_python):
    """Each hostile file is refused with one line (no segfault, no MemoryError), and the loader is not
    poisoned: good files loaded afterwards in the same process match a clean load exactly."""
    hostile = write_hostile_files(tmp_path)
    good_pkl = nvidia_pickle(tmp_path / "good.pkl", {"G_ema": tiny_networks["G_ema"], "D": tiny_networks["D"]})
    good_st = save_network(tmp_path / "good.safetensors", tiny_networks)
    result = memory_limited_python(CHILD, *map(str, hostile), str(good_pkl), str(good_st))
    assert result.returncode == 0, f"child exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    refused = dict(line.split(" | ", 1) for line in result.stdout.splitlines() if line.startswith("refused"))
    assert sorted(refused) == sorted(f"refused {path}" for path in hostile)
    for path in hostile:
        assert REASONS[path.name] in refused[f"refused {path}"]
    sums = json.loads(result.stdout.split("GOOD ", 1)[1])
    for path in (good_pkl, good_st):
        for name, net in load_checkpoint(path).networks.items():
            assert sums[f"{path}:{name}"] == [float(v.double().sum()) for v in net.state_dict().values()]


def load_error(path: Path) -> str:
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


@pytest.mark.parametrize("name", sorted(set(PICKLES) - CHILD_ONLY))
def test_pickle_limits_are_checked_before_unpickling(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(PICKLES[name]())
    assert REASONS[name] in load_error(path)


@pytest.mark.parametrize("name", sorted(set(SAFETENSORS) - CHILD_ONLY))
def test_constructor_arguments_are_checked_before_anything_is_allocated(tmp_path, name):
    assert REASONS[name] in load_error(safetensors_with(tmp_path / name, SAFETENSORS[name]))


def test_large_but_plausible_arguments_must_match_the_stored_tensors(tmp_path):
    path = safetensors_with(tmp_path / "wide.safetensors", tiny_generator_kwargs(z_dim=4096))
    assert "has shape [8, 8], but the Generator built from the stored arguments expects [8, 4096]" in load_error(path)


@pytest.mark.parametrize("meta, reason", [
    ('{"format_version": 1, "networks": {}, "source": ' + "[" * 100_000 + "]" * 100_000 + "}", "not valid JSON"),
    ('{"format_version": 1, "networks": {}, "source": ' + "[" * 40 + "]" * 40 + "}", "nested more than 32 levels"),
    ('{"format_version": 1, "networks": {}, "notes": "text"}', "'notes' must be a list"),
    ('{"format_version": 1, "networks": {}, "notes": [1]}', "'notes' must be a list of strings"),
    ('{"format_version": 1, "networks": {}, "source": ["x"]}', "'source' must be a dict"),
    ('{"format_version": 1, "networks": {"G": {"class": ["Generator"], "init_kwargs": {}}}}', "needs 'class'"),
    ('{"format_version": 1, "networks": {"G": {"class": "Generator", "init_kwargs": {"z_dim": NaN}}}}', "non-finite"),
], ids=["deep", "nested", "notes", "note", "source", "class", "nan"])
def test_malformed_metadata_is_one_line(tmp_path, meta, reason):
    assert reason in load_error(safetensors_with(tmp_path / "bad.safetensors", raw_meta=meta))


def test_safetensors_header_claim_is_capped(tmp_path):
    path = tmp_path / "huge_header.safetensors"
    path.write_bytes(struct.pack("<Q", 2**40) + b"{" + bytes(100))
    assert "header claims 1,099,511,627,776 bytes" in load_error(path)


@pytest.mark.parametrize("args, latent_avg, reason", [
    ({"channel_multiplier": "2" * 100_000}, None, "expected an integer from 1 to 32"),
    ({"channel_multiplier": torch.zeros(3)}, None, "channel_multiplier is a Tensor"),
    ({"channel_multiplier": 2, "arch": ["x"]}, None, "architecture a list is not supported"),
    ({"deep": nested_list(150)}, None, "nested more than 100 levels deep"),
])
def test_rosinality_arguments_are_checked(tmp_path, args, latent_avg, reason):
    assert reason in load_error(rosinality_file(tmp_path / "r.pt", args=args, latent_avg=latent_avg))


def test_compressed_torch_zip_is_refused_before_inflating(tmp_path):
    assert "compressed, which this reader does not inflate" in load_error(deflated_torch_zip(tmp_path / "z.pt"))


def test_rosinality_latent_avg_of_the_wrong_size_or_on_meta_is_one_line(tmp_path, rosinality_path):
    ckpt = torch.load(rosinality_path, weights_only=False)
    for name, value, reason in (("short.pt", torch.zeros(3), "latent_avg has 3 values"),
                                ("meta.pt", torch.zeros(512, device="meta"), "on meta")):
        torch.save({"g_ema": ckpt["g_ema"], "latent_avg": value}, tmp_path / name)
        assert reason in load_error(tmp_path / name)


def test_meta_tensor_never_reaches_load_state_dict(tiny_networks):
    from stylegan2.io.checkpoint import build_network

    G = tiny_networks["G_ema"]
    state = dict(G.state_dict(), **{"mapping.fc0.weight": torch.zeros(8, 8, device="meta")})
    with pytest.raises(CheckpointError, match=r"^net\.pkl: tensor mapping\.fc0\.weight is a torch\.float32 .* on meta"):
        build_network("Generator", G.init_kwargs, state, "net.pkl")


def test_build_on_stand_ins_cannot_change_a_later_load():
    """Even past the opcode scan, BUILD reaches only this load's private copies of the stand-ins."""
    cases = ((build_on_easydict, ("dnnlib.util", "EasyDict")), (build_on_rebuild_function, ("torch._utils", "_rebuild_tensor_v2")))
    for make, key in cases:
        poisoned = NetworkPickleUnpickler(io.BytesIO(make()))
        poisoned.load()  # no scan here: the unpickler alone
        fresh = NetworkPickleUnpickler(io.BytesIO(b"")).find_class(*key)
        assert fresh is not poisoned.find_class(*key)
    assert _EasyDict.__setitem__ is dict.__setitem__ and "__setitem__" not in vars(_EasyDict)
    assert _rebuild_tensor.__defaults__ is None
    d = NetworkPickleUnpickler(io.BytesIO(b"")).find_class("dnnlib.util", "EasyDict")()
    d["a"] = 1
    assert d == {"a": 1}


def test_info_reports_non_finite_weights(tmp_path, tiny_networks):
    G = tiny_networks["G_ema"]
    with torch.no_grad():
        G.mapping.fc0.weight[0, 0] = float("nan")
        G.synthesis.b8.conv0.bias[0] = float("inf")
    path = save_network(tmp_path / "nan.safetensors", {"G_ema": G})
    info = checkpoint_info(path)
    assert sorted(info["nonfinite_tensors"]) == ["G_ema.mapping.fc0.weight", "G_ema.synthesis.b8.conv0.bias"]
    assert "warning:     2 tensors hold NaN or Inf values" in format_info(info)


def test_fifo_is_not_opened(tmp_path):
    fifo = tmp_path / "net.pkl"
    os.mkfifo(fifo)
    assert "not a regular file" in load_error(fifo)


def test_info_and_convert_are_one_line_and_warn_about_non_finite_weights(tmp_path, tiny_networks):
    from click.testing import CliRunner

    from stylegan2.cli import main

    os.mkfifo(tmp_path / "pipe.pkl")
    result = CliRunner().invoke(main, ["info", str(tmp_path / "pipe.pkl")])
    assert result.exit_code == 1 and result.output.count("\n") == 1 and "pipe.pkl: not a regular file" in result.output
    G = tiny_networks["G_ema"]
    with torch.no_grad():
        G.mapping.fc0.weight[0, 0] = float("inf")
    src = save_network(tmp_path / "inf.safetensors", {"G_ema": G})
    result = CliRunner().invoke(main, ["convert", str(src), str(tmp_path / "out.safetensors")])
    assert result.exit_code == 0 and "inf.safetensors: 1 tensor holds NaN or Inf values (G_ema.mapping.fc0.weight)" in result.stderr
    assert result.stderr.startswith("note: ")


def test_legacy_torch_files_are_scanned_too(tmp_path):
    path = tmp_path / "legacy.pt"
    torch.save({"g_ema": {}, "x": nested_list(150)}, path, _use_new_zipfile_serialization=False)
    assert "refusing this PyTorch file before unpickling (objects are nested more than 100 levels" in load_error(path)


def test_a_non_finite_average_w_is_said_to_spoil_truncation_only():
    from stylegan2.io.info import nonfinite_warning

    assert nonfinite_warning(["G_ema.mapping.w_avg"]) == ("1 tensor holds NaN or Inf values (G_ema.mapping.w_avg); truncated "
                                                          "images (truncation psi below 1) will be NaN")
    assert nonfinite_warning(["G_ema.mapping.w_avg", "G_ema.synthesis.b4.conv1.weight"]).endswith(
        "; the network will produce NaN images")


class SharedStorage:
    """Pickles as NVIDIA's storages do (torch.storage._load_from_bytes); one object, so the pickle stores it once."""

    def __init__(self, values: torch.Tensor) -> None:
        buffer = io.BytesIO()
        torch.save(values._typed_storage(), buffer, _use_new_zipfile_serialization=False)  # as tensors pickle theirs
        self.payload = buffer.getvalue()

    def __reduce__(self):
        return torch.storage._load_from_bytes, (self.payload,)


class ViewOf:
    """Pickles as a contiguous tensor of `shape` over the start of a SharedStorage."""

    def __init__(self, storage: SharedStorage, shape: torch.Size) -> None:
        self.storage, self.shape = storage, tuple(shape)
        self.stride = tuple(math.prod(self.shape[i + 1:]) for i in range(len(self.shape)))

    def __reduce__(self):
        return torch._utils._rebuild_tensor_v2, (self.storage, 0, self.shape, self.stride, False, collections.OrderedDict())


def _with_views(net: torch.nn.Module, view) -> torch.nn.Module:
    """`net` with every parameter and buffer replaced by `view(shape)`: what a crafted pickle can store."""
    net = copy.deepcopy(net)
    for module in net.modules():
        for table in (module._parameters, module._buffers):
            for name, value in table.items():
                if value is not None:
                    table[name] = view(value.shape)
    return net


def test_a_pickle_whose_tensors_repeat_one_stored_value_is_refused_before_the_build(tmp_path, nvidia_pickle, tiny_networks):
    """Stride-0 views over a one-element storage: an 8 KB file built a network of hundreds of MB (security QA H2)."""
    one = torch.ones(())
    path = nvidia_pickle(tmp_path / "strided.pkl", {"G_ema": _with_views(tiny_networks["G_ema"], lambda shape: one.expand(shape))})
    assert re.search(r"tensor \S+ of size \[\d+(, \d+)*\] repeats stored values \(strides \[0(, 0)*\]\); a saved network's "
                     r"tensors never do", load_error(path))


def test_a_pickle_whose_tensors_all_view_the_same_data_is_refused(tmp_path, nvidia_pickle, tiny_networks):
    """Views without repeats, each over the start of one shared storage: N tensors from the bytes of one."""
    largest = max(value.numel() for value in tiny_networks["G_ema"].state_dict().values())
    shared = SharedStorage(torch.ones(largest))  # pickled once: each tensor pickled alone would carry its own copy
    net = _with_views(tiny_networks["G_ema"], lambda shape: ViewOf(shared, shape))
    path = nvidia_pickle(tmp_path / "shared.pkl", {"G_ema": net})
    assert re.search(rf"its tensors view [\d,]+ bytes of {4 * largest:,} stored \(many tensors over the same data\); "
                     r"not a saved network$", load_error(path))


def test_rosinality_tensors_that_repeat_stored_values_are_refused(tmp_path):
    torch.save({"g_ema": {"style.1.weight": torch.ones(1).expand(4, 4), "input.input": torch.zeros(1, 4, 4, 4)}},
               tmp_path / "strided.pt")
    assert "repeats stored values" in load_error(tmp_path / "strided.pt")


def test_a_file_that_holds_few_bytes_plans_its_network_on_the_meta_device(tmp_path, nvidia_pickle, tiny_networks, monkeypatch):
    """A 3 KB pickle whose arguments describe a large Generator made the planner allocate ~500 MB for real before its
    tensors were found missing: real elements are now bounded by the bytes the file's tensors hold."""
    from stylegan2.io import checkpoint, validate

    budgets = []
    plan = validate.plan_network

    def recording_plan(cls, init_kwargs, where, real_budget=validate.MAX_REAL_ELEMENTS):
        budgets.append(real_budget)
        module = plan(cls, init_kwargs, where, real_budget=real_budget)
        budgets.append(validate.is_materialized(module))
        return module

    monkeypatch.setattr(checkpoint, "plan_network", recording_plan)
    empty = _with_views(tiny_networks["G_ema"], lambda shape: torch.ones(()).expand(shape))
    for module in empty.modules():
        module._parameters.clear()
        module._buffers.clear()
    path = nvidia_pickle(tmp_path / "empty.pkl", {"G_ema": empty})
    assert "stored tensors do not match" in load_error(path)
    assert budgets == [2**20, True]  # the tiny network fits in the slack; its file's tensors: none
    budgets.clear()
    load_checkpoint(nvidia_pickle(tmp_path / "good.pkl", {"G_ema": tiny_networks["G_ema"]}))
    stored = sum(v.numel() * v.element_size() for v in tiny_networks["G_ema"].state_dict().values())
    assert stored <= budgets[0] - 2**20 <= 2 * stored and budgets[1] is True
    plan_small = validate.plan_network(type(tiny_networks["G_ema"]), tiny_networks["G_ema"].init_kwargs, "x", real_budget=0)
    assert not validate.is_materialized(plan_small)  # nothing real: every tensor on the meta device
