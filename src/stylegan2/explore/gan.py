"""The GAN view's logic: settings -> ws -> image, which seed each w comes from, and the equivalent commands.

Every image is exactly what the shown `stylegan2 generate` command writes: one direction at most and no
mixing renders like `generate --seeds` (or like `generate --projected-w` on the explorer's own --projected-w
file, when it holds one w); anything else like `generate --projected-w` on the downloadable w.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from ..models import Generator
from ..tools.common import MAX_SEED, NOISE_MODES, ToolError, label_vector, seed_latent, seed_ws
from ..tools.generate import image_name, synthesize, truncate_ws
from ..tools.sefa import Directions, layer_presets, modulation_layers, select_ws_indices
from ..utils.text import number_ranges, option_value
from .settings import GanSettings, SettingsError, as_parameter, default_mix_styles, parse_gan_settings

W_FILE_STEM = "explore_w"
DIRECTIONS_DIR = "explore-directions"


@dataclass(frozen=True)
class DirectionSource:
    """Where the sliders' directions come from: a file the user gave, or SeFa run on load over `layers`."""

    path: str | None = None
    layers: str = "all"


def label_text(label: tuple[float, ...]) -> str:
    """A label vector as `--label` reads it back exactly: '0.5,0,1' (each number in full)."""
    return ",".join(option_value(value) for value in label)


class GanExplorer:
    """A generator plus its slider directions; turns `GanSettings` into images, ws files and command lines."""

    kind = "gan"

    def __init__(self, G: Generator, network: str, directions: Directions, source: DirectionSource, top_k: int,
                 projected: torch.Tensor | None = None, projected_path: str | None = None) -> None:
        """`projected`: ws [N, num_ws, w_dim] from `projected_path` (a `project` result) that images start from
        instead of seeds."""
        directions.check(0, G.num_ws, G.w_dim)
        if source.path is not None:
            directions.check_network(G, network, source.path, "--directions")
        self.G = G
        self.network = network  # as the user typed it, for the command lines
        self.directions = directions
        self.source = source
        self.num_directions = max(0, min(top_k, len(directions.directions)))
        self.projected = projected
        self.projected_path = projected_path
        self.num_projected = 0 if projected is None else len(projected)

    def info(self) -> dict[str, Any]:
        """What the page needs to build its controls (JSON-able)."""
        G = self.G
        presets = {name: number_ranges(indices) for name, indices in layer_presets(G).items()}
        return {
            "kind": self.kind,
            "network_file": Path(self.network).name,  # names the page's tab
            "resolution": G.img_resolution,  # the shorter side
            "width": G.img_width,
            "height": G.img_height,
            "channels": G.img_channels,
            "num_ws": G.num_ws,
            "c_dim": G.c_dim,
            "draws_labels": G.mapping.draws_labels,
            "label_kind": G.label_kind,  # "vectors": the page asks for a label vector, not a class
            "projected": self.num_projected,  # images start from w 0..N-1 of --projected-w (0: from seeds)
            "projected_file": Path(self.projected_path).name if self.projected_path else None,
            "max_seed": MAX_SEED,
            "noise_modes": list(NOISE_MODES),
            "mix_presets": presets,
            "default_mix_styles": default_mix_styles(G.num_ws),
            "directions": [{"index": i, "eigenvalue": float(self.directions.eigenvalues[i])}
                           for i in range(self.num_directions)],
            "direction_layers": number_ranges(self.directions.layers),
        }

    def parse(self, query: Mapping[str, str]) -> GanSettings:
        """Checked settings from request parameters (see `parse_gan_settings`), mix_styles included."""
        settings = parse_gan_settings(query, self.G.num_ws, self.G.c_dim, self.num_directions, self.G.mapping.draws_labels,
                                      self.num_projected, label_vectors=self.G.label_kind == "vectors")
        for name, label in (("label", settings.label), ("mix_label", settings.mix_label)):
            if label is not None:
                try:
                    label_vector(self.G, label, name)  # c_dim numbers, as generate --label checks them
                except ToolError as err:
                    raise as_parameter(err, name) from None
        self.mix_indices(settings)
        return settings

    def mix_indices(self, settings: GanSettings) -> list[int]:
        """ws indices taken from the second seed ([] without mixing)."""
        if settings.mix_seed is None:
            return []
        try:
            return select_ws_indices(self.G, settings.mix_styles, "mix_styles")
        except ValueError as err:
            raise SettingsError(str(err)) from None

    def moved(self, settings: GanSettings) -> list[int]:
        """Indices of the directions with a non-zero strength."""
        return [i for i, s in enumerate(settings.strengths) if s != 0]

    def uses_w_file(self, settings: GanSettings) -> bool:
        """Whether only `generate --projected-w` on the downloaded w can express these settings (mixing, several
        directions, or one of several projected ws: generate would write them all)."""
        return settings.mix_seed is not None or len(self.moved(settings)) > 1 or self.num_projected > 1

    @torch.no_grad()
    def ws(self, settings: GanSettings) -> torch.Tensor:
        """ws [1, num_ws, w_dim]: the seed's (or projected) truncated ws, the second seed's on the mixed layers, moved
        along directions."""
        G, s = self.G, settings
        if s.projected is not None:
            ws = truncate_ws(G, self.projected[s.projected:s.projected + 1], s.truncation_psi, s.truncation_cutoff)
        else:
            ws = seed_ws(G, s.seed, s.truncation_psi, s.truncation_cutoff, s.class_idx, s.label)
        indices = self.mix_indices(s)
        if indices:
            ws = ws.clone()
            mix_class = s.class_idx if s.mix_class is None else s.mix_class
            mix_label = s.label if s.mix_label is None else s.mix_label
            ws[:, indices] = seed_ws(G, s.mix_seed, s.truncation_psi, s.truncation_cutoff, mix_class, mix_label)[:, indices]
        for index in self.moved(s):
            ws = self.directions.move(ws, index, s.strengths[index])
        return ws

    def render(self, settings: GanSettings) -> np.ndarray:
        """uint8 image [H, W, C]; random noise is drawn as the equivalent `generate` command draws it."""
        # generate: projNN uses NN (here proj00: the downloaded w, or the file's one w), seedS uses S
        noise_seed = 0 if self.uses_w_file(settings) or settings.projected is not None else settings.seed
        return synthesize(self.G, self.ws(settings), settings.noise_mode, noise_seed=noise_seed)[0]

    def file_name(self, settings: GanSettings) -> str:
        """The image's download name: the file its equivalent `generate` command writes."""
        if self.uses_w_file(settings):
            return image_name(proj=0)
        moved = self.moved(settings)
        start = dict(proj=0) if settings.projected is not None else dict(seed=settings.seed)
        if not moved:
            return image_name(**start)
        return image_name(**start, index=moved[0], strength=settings.strengths[moved[0]])

    def w_file_name(self, settings: GanSettings) -> str:
        """The w download's name, one per image (`explore_w-<8 hex>.npz`): a second download of another image would be
        saved by the browser as 'explore_w (1).npz' while the command named 'explore_w.npz'."""
        return f"{W_FILE_STEM}-{hashlib.sha256(repr(dataclasses.astuple(settings)).encode()).hexdigest()[:8]}.npz"

    def w_npz(self, settings: GanSettings) -> bytes:
        """The current w as .npz bytes with array 'w' [1, num_ws, w_dim] float32, as `stylegan2 project` saves it."""
        buffer = io.BytesIO()
        np.savez(buffer, w=self.ws(settings).cpu().numpy().astype(np.float32))
        return buffer.getvalue()

    def layer_names(self) -> list[list[str]]:
        """For each ws index, the synthesis layers that read it, e.g. ['b8.conv0', 'b4.torgb']."""
        names: list[list[str]] = [[] for _ in range(self.G.num_ws)]
        for layer in modulation_layers(self.G):
            names[layer.ws_index].append(layer.name.removesuffix(".affine"))
        return names

    def seed_class(self, settings: GanSettings, mixed: bool) -> tuple[int | None, bool]:
        """The class of the seed a w comes from (the second seed's when `mixed`), and whether the network drew it from
        that seed's z; (None, False) for a projected w or an unconditional network.

        Without mix_class the second seed takes the first seed's class when one is picked; on a network trained on
        clusters with none picked, each seed draws its own cluster (as `seed_ws` does), and the table shows that
        cluster rather than claiming the first seed's."""
        if mixed:
            seed, picked = settings.mix_seed, settings.class_idx if settings.mix_class is None else settings.mix_class
        elif settings.projected is not None:
            return None, False
        else:
            seed, picked = settings.seed, settings.class_idx
        if picked is not None or not self.G.mapping.draws_labels or seed is None:
            return picked, False
        return self.drawn_class(seed), True

    def seed_label(self, settings: GanSettings, mixed: bool) -> str | None:
        """The label vector of the seed a w comes from (the second seed's when `mixed`) as `--label` writes it; None
        for a projected w or a network that takes classes."""
        if mixed:
            label = settings.label if settings.mix_label is None else settings.mix_label
        else:
            label = None if settings.projected is not None else settings.label
        return None if label is None else label_text(label)

    @torch.no_grad()
    def drawn_class(self, seed: int) -> int:
        """The cluster a network trained on clusters draws from `seed`'s z when none is picked (see `draw_labels`)."""
        return int(self.G.mapping.draw_labels(seed_latent(self.G, seed))[1].argmax())

    def layers(self, settings: GanSettings) -> list[dict[str, Any]]:
        """Per ws index: the seed it comes from and its class (`class_drawn`: drawn from that seed, not picked) or
        label vector, whether it is truncated, and whether a direction moves it."""
        mixed = set(self.mix_indices(settings))
        cutoff = self.G.num_ws if settings.truncation_cutoff is None else settings.truncation_cutoff
        moved = set(self.directions.layers) if self.moved(settings) else set()
        classes = {False: self.seed_class(settings, False), True: self.seed_class(settings, True) if mixed else (None, False)}
        return [{
            "index": i,
            "layers": names,
            "seed": settings.mix_seed if i in mixed else None if settings.projected is not None else settings.seed,
            "class": classes[i in mixed][0],
            "class_drawn": classes[i in mixed][1],
            "label": self.seed_label(settings, i in mixed),
            "projected": settings.projected if i not in mixed else None,  # the projected w it comes from (or None)
            "mixed": i in mixed,
            "truncated": i < cutoff and settings.truncation_psi != 1,
            "moved": i in moved,
        } for i, names in enumerate(self.layer_names())]

    def commands(self, settings: GanSettings) -> list[str]:
        """The shell commands that write this exact image (a w file download first when mixing or moving along several)."""
        s = settings
        net = shlex.quote(self.network)
        noise = ["--noise-mode", s.noise_mode] if s.noise_mode != "const" else []
        if self.uses_w_file(s):  # the w holds its class; generate refuses --class and --label with it
            return [" ".join(["stylegan2 generate --network", net, "--projected-w", self.w_file_name(s), *noise])]
        label = self.label_options(s)
        common = (label if s.projected is None else []) + noise
        if s.projected is not None:
            args = ["--projected-w", shlex.quote(str(self.projected_path))]
        else:
            args = ["--seeds", str(s.seed)]
        if s.truncation_psi != 1:
            args += ["--trunc", repr(s.truncation_psi)]
        if s.truncation_cutoff is not None:
            args += ["--trunc-cutoff", str(s.truncation_cutoff)]
        commands = []
        moved = self.moved(s)
        if moved:
            if self.source.path is None:
                # A folder of these style weights' and layers' own: every training run has the same snapshot names, so
                # a folder named after the file alone would hand a second run's `generate` the first run's directions.
                fingerprint = self.directions.fingerprint[:8]  # SeFa run on load: factorize records it
                folder = shlex.quote(f"{DIRECTIONS_DIR}/{Path(self.network).stem}-{fingerprint}-{self.source.layers}")
                commands.append(" ".join(["stylegan2 directions --network", net, "--layers", shlex.quote(self.source.layers),
                                          "--strips 0 --outdir", folder, *label]))
                path = f"{folder}/directions.npz"
            else:
                path = shlex.quote(self.source.path)
            args += ["--direction", path, "--index", str(moved[0]), "--strength", repr(s.strengths[moved[0]])]
        commands.append(" ".join(["stylegan2 generate --network", net, *args, *common]))
        return commands

    def label_options(self, settings: GanSettings) -> list[str]:
        """--class K or --label V1,V2,... for the seed's class or label vector ([] for none)."""
        if settings.label is not None:
            return ["--label", shlex.quote(label_text(settings.label))]
        return ["--class", str(settings.class_idx)] if settings.class_idx is not None else []

    def describe(self, settings: GanSettings) -> dict[str, Any]:
        """The page's text for these settings: per-layer sources and the equivalent commands."""
        return {"layers": self.layers(settings), "commands": self.commands(settings),
                "needs_w_file": self.uses_w_file(settings), "w_file": self.w_file_name(settings)}
