"""The mapping network: z (and an optional class label) to the intermediate latent w."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..nn.layers import FullyConnectedLayer, normalize_2nd_moment
from .inputs import check_input, check_same_batch, check_size, check_truncation

LR_MULTIPLIER = 0.01  # the mapping layers learn this much slower than the rest of G, as in the paper


class MappingNetwork(nn.Module):
    """An MLP from normalized z (+ embedded label) to w, broadcast to `num_ws` copies.

    Keeps a running average of w (`w_avg`) for the truncation trick: w' = w_avg + psi (w - w_avg).
    The mapping layers learn 100x slower (`lr_multiplier` 0.01), as in the paper.

    `c_prior` (one probability per class) makes the labels optional: a network trained on clusters
    of unlabeled images (`--clusters`) draws its class from z when no c is given, with these odds.
    """

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        num_ws: int | None,
        num_layers: int = 8,
        embed_features: int | None = None,
        layer_features: int | None = None,
        activation: str = "lrelu",
        lr_multiplier: float = LR_MULTIPLIER,
        w_avg_beta: float | None = 0.995,
        c_prior: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        check_size(z_dim, "z_dim", 0)
        check_size(c_dim, "c_dim", 0)
        check_size(w_dim, "w_dim")
        check_size(num_layers, "num_layers")
        if z_dim + c_dim == 0:
            raise ValueError("the mapping network needs an input: z_dim or c_dim (or both) must be >= 1, got 0 and 0")
        if c_prior is not None:
            if len(c_prior) != c_dim or c_dim < 2 or z_dim < 1:
                raise ValueError(f"c_prior needs one probability per class ({c_dim}) and at least two classes and a z")
            if min(c_prior) < 0 or not math.isclose(math.fsum(c_prior), 1.0, abs_tol=1e-6):
                raise ValueError("c_prior must hold non-negative probabilities that sum to 1")
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.num_ws = num_ws
        self.num_layers = num_layers
        self.w_avg_beta = w_avg_beta
        self.c_prior = None if c_prior is None else [float(p) for p in c_prior]
        self._prior_edges: dict[torch.device, torch.Tensor] = {}  # per device, see `prior_edges`

        embed_features = 0 if c_dim == 0 else (w_dim if embed_features is None else embed_features)
        layer_features = w_dim if layer_features is None else layer_features
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]

        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for idx in range(num_layers):
            layer = FullyConnectedLayer(features[idx], features[idx + 1], activation=activation, lr_multiplier=lr_multiplier)
            setattr(self, f"fc{idx}", layer)
        if num_ws is not None and w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(
        self,
        z: torch.Tensor | None,
        c: torch.Tensor | None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
    ) -> torch.Tensor:
        """Map z [N, z_dim] and c [N, c_dim] to ws [N, num_ws, w_dim] (or w [N, w_dim]).

        With a `c_prior`, c may be None: the class is then drawn from z (see `draw_labels`).
        """
        self._check_inputs(z, c, truncation_psi, truncation_cutoff)
        if c is None and self.c_prior is not None:
            z, c = self.draw_labels(z)
        x = None
        if self.z_dim > 0:
            x = normalize_2nd_moment(z.to(torch.float32))
        if self.c_dim > 0:
            y = normalize_2nd_moment(self.embed(c.to(torch.float32)))
            x = torch.cat([x, y], dim=1) if x is not None else y

        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)

        if update_emas and self.w_avg_beta is not None:
            self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))

        if self.num_ws is not None:
            x = x.unsqueeze(1).repeat([1, self.num_ws, 1])  # [N, num_ws, w_dim]

        if truncation_psi != 1:
            if self.w_avg_beta is None:
                raise ValueError("truncation needs w_avg, but this mapping network does not track it")
            if self.num_ws is None or truncation_cutoff is None:
                x = self.w_avg.lerp(x, truncation_psi)
            else:
                x[:, :truncation_cutoff] = self.w_avg.lerp(x[:, :truncation_cutoff], truncation_psi)
        return x

    def _check_inputs(self, z: object, c: object, truncation_psi: object, truncation_cutoff: object) -> None:
        """Refuse, naming the argument, what would fail deep inside torch or be dropped silently."""
        check_truncation(truncation_psi, truncation_cutoff)
        if self.z_dim > 0:
            _check_shape(check_input(z, "z", self), self.z_dim, "z")
        if self.c_dim == 0:
            if c is not None and not (isinstance(c, torch.Tensor) and c.numel() == 0):  # NVIDIA's loop passes [N, 0]
                raise ValueError(f"this network is unconditional (c_dim 0): pass c=None, got {type(c).__name__}"
                                 + (" (truncation_psi is a keyword: G(z, None, truncation_psi=...))" if isinstance(c, float) else ""))
        elif c is None and self.c_prior is None:
            raise ValueError(f"this network is conditional: c (class label) must have shape [batch, {self.c_dim}], got None")
        elif c is not None:
            _check_shape(check_input(c, "c (class label)", self), self.c_dim, "c (class label)")
            if self.z_dim > 0:
                check_same_batch(c, "c (class label)", z, "z")

    @property
    def draws_labels(self) -> bool:
        """Whether the network picks its own class when none is given (it has a `c_prior`)."""
        return self.c_prior is not None

    def draw_labels(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(z', one-hot c) from z [N, z_dim]: the last coordinate of z picks the class with the prior's odds.

        u = Phi(z[:, -1]) is uniform; the class is the prior's bucket that holds u, and u's position
        inside its bucket, mapped back through Phi^-1, replaces z[:, -1]. So z' ~ N(0, I) independent
        of c ~ prior, as in training, and each z gives one image.
        """
        edges = self.prior_edges(z.device)
        u = (0.5 * (1 + torch.erf(z[:, -1].to(torch.float32) / math.sqrt(2)))).clamp(1e-7, 1 - 1e-7)
        label = (torch.searchsorted(edges[1:-1].contiguous(), u, right=True))
        lo, hi = edges[label], edges[label + 1]
        within = ((u - lo) / (hi - lo).clamp_min(1e-12)).clamp(1e-7, 1 - 1e-7)
        z = torch.cat([z[:, :-1], (math.sqrt(2) * torch.erfinv(2 * within - 1)).unsqueeze(1).to(z.dtype)], dim=1)
        return z, nn.functional.one_hot(label, self.c_dim).to(torch.float32)


    def prior_edges(self, device: torch.device) -> torch.Tensor:
        """The prior's bucket edges [c_dim + 1] from 0 to 1 on `device`, uploaded once per device: each upload of
        Python values makes the CPU wait until a GPU has caught up."""
        edges = self._prior_edges.get(device)
        if edges is None:
            edges = torch.tensor([0.0, *self.c_prior], dtype=torch.float32, device=device).cumsum(0)
            edges = self._prior_edges[device] = edges / edges[-1]
        return edges


def _check_shape(t: torch.Tensor, dim: int, name: str) -> None:
    if t.ndim != 2 or t.shape[1] != dim:
        raise ValueError(f"{name} must have shape [batch, {dim}], got {list(t.shape)}")
