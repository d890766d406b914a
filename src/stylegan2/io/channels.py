"""Constructor arguments that reproduce a network's channel counts, read from its tensor shapes."""

from __future__ import annotations

from typing import Any, Iterable


def channel_arguments(counts: dict[int, int], bases: Iterable[int] = ()) -> dict[str, Any]:
    """`channel_base` and `channel_max` when `min(channel_base // res, channel_max)` gives `counts`
    ({resolution: channels}); otherwise those plus the explicit table `channels` (string keys, as JSON
    stores them). `bases` are the likeliest `channel_base` values, tried first."""
    channel_max = max(counts.values())
    bases = list(bases)
    candidates = bases + [res * ch for res, ch in counts.items() if ch < channel_max] + [channel_max * max(counts)]
    for base in candidates:
        if all(min(base // res, channel_max) == ch for res, ch in counts.items()):
            return {"channel_base": int(base), "channel_max": int(channel_max)}
    return {"channel_base": int(candidates[0]), "channel_max": int(channel_max),
            "channels": {str(res): int(ch) for res, ch in sorted(counts.items())}}
