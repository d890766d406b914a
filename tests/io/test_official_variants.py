"""Network pickles as other versions of NVIDIA's code write them: protocol 3, PyTorch 1.x, NumPy 2."""

from __future__ import annotations

import collections
import pickle
import sys
import types

import numpy as np
import pytest
import torch

from stylegan2.io import load_checkpoint


@pytest.fixture
def nvidia_names(monkeypatch):
    """Importable stand-ins for `torch_utils.persistence` and `dnnlib.util`, so pickle can name them."""
    persistence = types.ModuleType("torch_utils.persistence")
    util = types.ModuleType("dnnlib.util")

    def _reconstruct_persistent_obj(meta):
        raise AssertionError("the loader must never call this")

    class EasyDict(dict):
        pass

    _reconstruct_persistent_obj.__module__ = persistence.__name__
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    EasyDict.__module__ = util.__name__
    EasyDict.__qualname__ = "EasyDict"
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    util.EasyDict = EasyDict
    for name, module in [("torch_utils", types.ModuleType("torch_utils")), ("torch_utils.persistence", persistence),
                         ("dnnlib", types.ModuleType("dnnlib")), ("dnnlib.util", util)]:
        monkeypatch.setitem(sys.modules, name, module)
    return persistence._reconstruct_persistent_obj, EasyDict


class Persistent:
    """Pickles the way NVIDIA's `persistent_class` does: a call of _reconstruct_persistent_obj(meta)."""

    def __init__(self, reconstruct, class_name, state):
        self.reconstruct, self.meta = reconstruct, dict(type="class", version=6, module_src="import os\n",
                                                          class_name=class_name, state=state)

    def __reduce__(self):
        return self.reconstruct, (self.meta,)


def as_nvidia_pickle_tree(module, names, pytorch1: bool, init_args=(), init_kwargs=None):
    """A module tree as their pickles hold it; PyTorch 1.x used OrderedDicts and fewer hook entries."""
    reconstruct, EasyDict = names
    table = collections.OrderedDict if pytorch1 else dict
    state = {
        "training": False,
        "_parameters": table(module._parameters),
        "_buffers": table(module._buffers),
        "_non_persistent_buffers_set": set(),
        "_backward_hooks": collections.OrderedDict(),
        "_forward_hooks": collections.OrderedDict(),
        "_modules": table((k, as_nvidia_pickle_tree(v, names, pytorch1)) for k, v in module._modules.items()),
        "weight_gain": np.float64(0.125),
    }
    if not pytorch1:
        state["_forward_hooks_with_kwargs"] = collections.OrderedDict()
        state["_is_full_backward_hook"] = None
    if init_kwargs is not None:
        state["_init_args"] = tuple(init_args)
        state["_init_kwargs"] = EasyDict({k: EasyDict(v) if isinstance(v, dict) else v for k, v in init_kwargs.items()})
    return Persistent(reconstruct, type(module).__name__, state)


@pytest.mark.parametrize("protocol, pytorch1", [(3, True), (4, False), (5, True)])
def test_pickles_of_other_versions_load_bit_exact(tmp_path, nvidia_names, tiny_networks, protocol, pytorch1):
    G, D = tiny_networks["G_ema"], tiny_networks["D"]
    d_kwargs = dict(D.init_kwargs)
    d_args = [d_kwargs.pop(k) for k in ("c_dim", "img_resolution", "img_channels")]  # positional, as _init_args
    data = {
        "G_ema": as_nvidia_pickle_tree(G, nvidia_names, pytorch1, init_kwargs=G.init_kwargs),
        "D": as_nvidia_pickle_tree(D, nvidia_names, pytorch1, init_args=d_args, init_kwargs=d_kwargs),
        "augment_pipe": None,
    }
    path = tmp_path / "net.pkl"
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    if protocol == 3:
        assert b"cbuiltins\nset\n" in path.read_bytes()  # GLOBAL opcode, sets as builtins.set
    assert b"numpy._core.multiarray" in path.read_bytes()  # NumPy 2 name of the scalar reconstructor

    ckpt = load_checkpoint(path)
    assert ckpt.augment_pipe is None
    assert ckpt.networks["D"].init_kwargs == D.init_kwargs
    for name, net in (("G_ema", G), ("D", D)):
        loaded = ckpt.networks[name].state_dict()
        assert all(torch.equal(v, loaded[k]) for k, v in net.state_dict().items())
    z = torch.randn(2, G.z_dim)
    with torch.no_grad():
        assert torch.equal(ckpt.networks["G_ema"](z, None, noise_mode="const"), G(z, None, noise_mode="const"))
