"""What every reader returns, and how networks are rebuilt from constructor arguments + tensors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
from torch import nn

from ..models import CooccurrenceDiscriminator, Discriminator, Generator, SwapEncoder, SwapGenerator
from .errors import CheckpointError

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
    """A loaded network file: our modules (eval mode, CPU) plus whatever else the file carried.

    `source` holds format-specific settings read from the file: for official pickles
    `training_set_kwargs` and `augment_pipe` ({class_name, init_kwargs, p}); for rosinality files
    `args` and `ada_aug_p`; for our files the provenance recorded when they were converted.
    """

    format: str
    networks: dict[str, nn.Module]
    extra_tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    training_state: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)

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

    Entries whose names end with a suffix in `keep_own` (fixed filters a format does not store)
    keep the values the constructor gave them when `state_dict` lacks them.
    """
    cls = NETWORK_CLASSES.get(class_name)
    if cls is None:
        raise CheckpointError(f"{where}: network class {class_name!r} is not one we can build (expected one of {sorted(NETWORK_CLASSES)})")
    try:
        module = cls(**init_kwargs)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{where}: cannot build {class_name} from the stored arguments {init_kwargs}: {exc}") from None
    expected = module.state_dict()
    own = {k: v for k, v in expected.items() if k.endswith(keep_own) and k not in state_dict} if keep_own else {}
    state_dict = {**own, **state_dict}
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{where}: stored tensors do not match a {class_name} with these arguments "
            f"(missing {_few(missing)}; unexpected {_few(unexpected)})"
        )
    wrong = [k for k, v in state_dict.items() if tuple(v.shape) != tuple(expected[k].shape)]
    if wrong:
        k = wrong[0]
        raise CheckpointError(
            f"{where}: tensor {k} has shape {list(state_dict[k].shape)}, but the {class_name} built from the "
            f"stored arguments expects {list(expected[k].shape)} ({len(wrong)} mismatched tensors)"
        )
    module.load_state_dict(dict(state_dict), strict=True)
    return module.eval()


def _few(names: list[str], limit: int = 5) -> str:
    if not names:
        return "none"
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
