"""What every reader returns, and how networks are rebuilt from constructor arguments + tensors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
from torch import nn

from ..models import CooccurrenceDiscriminator, Discriminator, Generator, SwapEncoder, SwapGenerator
from ..utils.rng import GLOBAL_RNG_LOCK
from .errors import CheckpointError, one_line
from .validate import check_state, is_materialized, plan_network, stored_bytes

NETWORK_CLASSES: dict[str, type[nn.Module]] = {
    "Generator": Generator,
    "Discriminator": Discriminator,
    "SwapEncoder": SwapEncoder,
    "SwapGenerator": SwapGenerator,
    "CooccurrenceDiscriminator": CooccurrenceDiscriminator,
}
NETWORK_NAMES = ("G", "D", "G_ema")


@dataclass
class Checkpoint:
    """A loaded network file: our modules (eval mode, CPU, requires_grad False) plus whatever else the file carried.

    `source` holds format-specific settings read from the file: for official pickles
    `training_set_kwargs` and `augment_pipe` ({class_name, init_kwargs, p}); for rosinality files
    `args` and `ada_aug_p`; for our files the provenance recorded when they were converted.
    `w_avg_estimated` names the generators whose average w (what truncation pulls toward) the file
    did not store and the reader estimated.
    """

    format: str
    networks: dict[str, nn.Module]
    extra_tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    training_state: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)
    w_avg_estimated: list[str] = field(default_factory=list)

    @property
    def augment_pipe(self) -> dict[str, Any] | None:
        """ADA settings stored with the networks ({class_name, init_kwargs, p}), when the file has them."""
        return self.source.get("augment_pipe")


def build_network(
    class_name: str,
    init_kwargs: dict[str, Any],
    state_dict: Mapping[str, torch.Tensor],
    where: str,
    keep_own: tuple[str, ...] = (),
) -> nn.Module:
    """Construct one of our networks from its keyword arguments and load its tensors exactly (strict).

    The arguments are checked and the network planned first (`validate.plan_network`: limits,
    large tensors not allocated); it is built for real only once the file's tensors match it.
    Entries whose names end with a suffix in `keep_own` (fixed filters a format does not store)
    keep the values the constructor gave them when `state_dict` lacks them.
    """
    cls = NETWORK_CLASSES.get(class_name) if isinstance(class_name, str) else None
    if cls is None:
        shown = repr(class_name)[:80] if isinstance(class_name, str) else f"a {type(class_name).__name__}"
        raise CheckpointError(f"{where}: network class {shown} is not one we can build (expected one of {sorted(NETWORK_CLASSES)})")
    # Built on the CPU with random initial values, which the file's tensors replace: drawn under fork_rng, so that
    # loading leaves the caller's random state as it was (and in turn with threads that seed it: seeded_global_rng).
    with GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=[]):
        rng = torch.get_rng_state()
        # Large tensors only planned, on the meta device; and as many real elements as the file's tensors hold bytes (and
        # a little), so that a small file that describes a large network does not allocate it.
        stored = stored_bytes(v for v in state_dict.values() if isinstance(v, torch.Tensor))
        module = plan_network(cls, init_kwargs, where, real_budget=stored + 2**20)
        expected = {k: v.shape for k, v in module.state_dict().items()}
        own_names = {k for k in expected if k.endswith(keep_own) and k not in state_dict} if keep_own else set()
        missing = sorted(set(expected) - set(state_dict) - own_names)
        unexpected = sorted(set(state_dict) - set(expected))
        if missing or unexpected:
            raise CheckpointError(
                f"{where}: stored tensors do not match a {class_name} with these arguments "
                f"(missing {_few(missing)}; unexpected {_few(unexpected)})"
            )
        check_state(state_dict, where)
        wrong = [k for k, v in state_dict.items() if tuple(v.shape) != tuple(expected[k])]
        if wrong:
            k = wrong[0]
            raise CheckpointError(
                f"{where}: tensor {k} has shape {list(state_dict[k].shape)}, but the {class_name} built from the "
                f"stored arguments expects {list(expected[k])} ({len(wrong)} mismatched tensors)"
            )
        try:
            if not is_materialized(module):
                torch.set_rng_state(rng)  # the same random initial values as a direct build
                module = cls(**init_kwargs)
            own = {k: v for k, v in module.state_dict().items() if k in own_names}
            module.load_state_dict({**own, **state_dict}, strict=True)
        except Exception as exc:  # noqa: BLE001 -- the checks above should make this unreachable; keep it one line
            raise CheckpointError(f"{where}: cannot build {class_name} from the stored arguments and tensors ({one_line(exc)})") from None
    return module.eval().requires_grad_(False)  # as NVIDIA's pickles hold their networks


def _few(names: list[str], limit: int = 5) -> str:
    if not names:
        return "none"
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
