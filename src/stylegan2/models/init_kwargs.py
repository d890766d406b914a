"""Constructor arguments recorded once: `@records_init_kwargs` on a network's `__init__` fills `init_kwargs`.

Our checkpoints store a network as its class name, `init_kwargs` and its tensors, and rebuild it as
`cls(**init_kwargs)`; recording the arguments from the signature means a new argument cannot be
forgotten in the record (as diffusers' `register_to_config` does for its models).
"""

from __future__ import annotations

import copy
import functools
import inspect
from typing import Any, Callable, TypeVar

Init = TypeVar("Init", bound=Callable[..., None])


def records_init_kwargs(init: Init) -> Init:
    """Decorate `__init__` so that, once it has run, `self.init_kwargs` holds every argument by name (and
    `self.init_args` is empty, so NVIDIA's `type(G)(*G.init_args, **G.init_kwargs)` rebuilds it too).

    Defaults are filled in, so the record rebuilds the same network even if a default changes
    later. Arguments named `*_kwargs` are recorded as dicts (None becomes {}), as the constructors
    read them. The record is a deep copy: changing it later does not change the network, and the
    caller's dicts are not shared with it.
    """
    signature = inspect.signature(init)
    variadic = [p.name for p in signature.parameters.values() if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if variadic:
        raise TypeError(f"{init.__qualname__}: *{variadic[0]} cannot be recorded by name; list the arguments")

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        _, *names = bound.arguments
        recorded = copy.deepcopy({name: _recorded(name, bound.arguments[name]) for name in names})
        init(self, *args, **kwargs)
        self.init_args: tuple[()] = ()
        self.init_kwargs = recorded

    return wrapper  # type: ignore[return-value]


def _recorded(name: str, value: Any) -> Any:
    return dict(value or {}) if name.endswith("_kwargs") else value
