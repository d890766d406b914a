"""Projection: find the w (or w+) whose image matches a real one, with NVIDIA's StyleGAN2-ADA recipe.

The recipe: start from the mean w (of 10,000 mapped samples) plus decaying noise, optimize w and
all noise maps with Adam under a learning-rate ramp (up over the first 5 %, cosine down over the
last 25 %), and regularize the noise maps so they stay noise (no spatial autocorrelation at any
scale) instead of painting the image themselves. The distance is LPIPS on NVIDIA's VGG16 when the
user supplies that network (their vgg16.pt, converted on first use into our VGG16LPIPS; see
stylegan2.metrics.convert); otherwise a multi-scale pixel MSE (blurrier matches, no download).
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..metrics.detectors import VGG16_FILE_NAMES, VGG16_HELP, VGG16_URL, default_cache_dir, find_metric_file, load_vgg16
from ..models import Generator
from ..utils.files import writing
from ..utils.image import write_png
from ..utils.notes import warn
from ..utils.progress import progress_bar
from .common import (
    DEFAULT_OUTDIR,
    Label,
    Network,
    ToolError,
    ToolOptionError,
    check_fps,
    check_inputs,
    check_label_options,
    class_label,
    load_generator,
    network_device,
    one_class,
)
from .files import (
    VideoFile,
    check_not_inputs,
    check_outputs,
    check_video,
    load_target_image,
    note_earlier_outputs,
    note_gif_fallback,
    output_set,
    video_suffix,
    write_npz,
)
from .generate import synthesize

PROJECTION_LOSSES = ("auto", "lpips", "pixel")
MAX_VIDEO_FRAMES = 300  # progression videos show at most this many optimization steps


@dataclass(frozen=True)
class ProjectionConfig:
    """NVIDIA's projector hyperparameters (their defaults)."""

    num_steps: int = 1000
    w_avg_samples: int = 10000
    initial_learning_rate: float = 0.1
    initial_noise_factor: float = 0.05  # w noise, relative to the spread of w, decaying to 0
    lr_rampdown_length: float = 0.25
    lr_rampup_length: float = 0.05
    noise_ramp_length: float = 0.75
    regularize_noise_weight: float = 1e5


@dataclass
class ProjectionResult:
    """The optimized latents, per step, and which distance produced them."""

    w: torch.Tensor  # [1, num_ws, w_dim], the final ws (all equal unless w_plus)
    w_steps: torch.Tensor  # [num_steps, num_ws, w_dim] on CPU
    distances: list[float]  # perceptual or pixel distance per step
    loss: str  # 'lpips' or 'pixel'
    noise: dict[str, torch.Tensor] = field(default_factory=dict)  # optimized noise maps, by buffer name


class LpipsDistance:
    """LPIPS distance to the target through NVIDIA's VGG16 (images in [0, 255], shorter side at most 256 px)."""

    name = "lpips"

    def __init__(self, vgg: torch.nn.Module, target: torch.Tensor) -> None:
        self.vgg = vgg
        self.target_features = self.features(target)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """[N, C, H, W] in [0, 255] -> LPIPS features; grayscale is repeated to RGB, alpha dropped."""
        images = images.repeat(1, 3, 1, 1) if images.shape[1] == 1 else images[:, :3]
        short = min(images.shape[2:])
        if short > 256:  # keeps a non-square network's aspect
            images = F.interpolate(images, size=(images.shape[2] * 256 // short, images.shape[3] * 256 // short), mode="area")
        return self.vgg(images, resize_images=False, return_lpips=True)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return (self.target_features - self.features(images)).square().sum()


class PixelDistance:
    """Mean squared error at every scale from full size down to 8 px, on images clamped to [-1, 1] as saved."""

    name = "pixel"

    def __init__(self, target: torch.Tensor) -> None:
        self.targets = self.pyramid(target / 127.5 - 1)

    @staticmethod
    def pyramid(images: torch.Tensor) -> list[torch.Tensor]:
        """[N, C, H, W] -> the image and its 2x box-downsampled versions down to 8 px (the shorter side)."""
        levels = [images]
        while min(levels[-1].shape[2:]) > 8:
            levels.append(F.avg_pool2d(levels[-1], kernel_size=2))
        return levels

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        levels = self.pyramid((images / 127.5 - 1).clamp(-1, 1))
        return sum(F.mse_loss(x, y) for x, y in zip(levels, self.targets)) / len(levels)


def noise_regularization(noise: torch.Tensor) -> torch.Tensor:
    """Squared autocorrelation of a noise map [H, W] with its 1-pixel shifts, summed over scales down to 8 px."""
    x = noise[None, None]  # [1, 1, H, W]
    loss = x.new_zeros([])
    while True:
        loss = loss + (x * torch.roll(x, shifts=1, dims=3)).mean() ** 2
        loss = loss + (x * torch.roll(x, shifts=1, dims=2)).mean() ** 2
        if x.shape[2] <= 8:
            return loss
        x = F.avg_pool2d(x, kernel_size=2)


def learning_rate(step: int, config: ProjectionConfig) -> float:
    """NVIDIA's schedule: linear ramp-up, flat, then a cosine ramp-down to 0."""
    t = step / config.num_steps
    ramp = min(1.0, (1.0 - t) / config.lr_rampdown_length)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    ramp = ramp * min(1.0, t / config.lr_rampup_length)
    return config.initial_learning_rate * ramp


@torch.no_grad()
def w_statistics(G: Generator, num_samples: int, c: torch.Tensor | None) -> tuple[torch.Tensor, float]:
    """Mean w [1, 1, w_dim] and the spread of w (root mean squared distance to the mean), from fixed samples."""
    z = torch.from_numpy(np.random.RandomState(123).randn(num_samples, G.z_dim)).to(network_device(G))
    w = G.mapping(z, c.repeat(num_samples, 1) if c is not None else None)[:, :1, :]  # [N, 1, w_dim]
    w_avg = w.mean(dim=0, keepdim=True)
    w_std = float(((w - w_avg).square().sum() / num_samples).sqrt())
    return w_avg, w_std


def project(
    G: Network,
    target: np.ndarray,
    *,
    config: ProjectionConfig = ProjectionConfig(),
    w_plus: bool = False,
    seed: int = 303,
    class_idx: int | None = None,
    label: Label = None,
    vgg: torch.nn.Module | None = None,
    progress: bool = False,
) -> ProjectionResult:
    """Optimize w (one w for all layers, or one per layer with `w_plus`) so G's image matches `target`, starting
    from the mean w of class `class_idx` (or of the label vector `label`) on a conditional network.

    `G` is a Generator or a network file; `target` is uint8 [H, W, C] at G's resolution and channels; `vgg` is
    NVIDIA's VGG16 (load_vgg16(...).module; LPIPS distance) or None (multi-scale pixel distance). G is not modified.
    """
    G = load_generator(G)
    _check_projection_args(G, target, config, vgg)
    device = network_device(G)
    G = copy.deepcopy(G).eval().requires_grad_(False)  # its noise maps are optimized in place
    generator = torch.Generator(device=device).manual_seed(seed)
    c = class_label(G, class_idx, label)

    w_avg, w_std = w_statistics(G, config.w_avg_samples, c)
    target_images = torch.from_numpy(target).permute(2, 0, 1)[None].to(device, torch.float32)  # [1, C, H, W]
    distance = LpipsDistance(vgg, target_images) if vgg is not None else PixelDistance(target_images)
    start = w_avg.repeat(1, G.num_ws, 1) if w_plus else w_avg  # [1, num_ws or 1, w_dim]
    noise_bufs = {name: buf for name, buf in G.synthesis.named_buffers() if "noise_const" in name}
    for buf in noise_bufs.values():
        buf.copy_(torch.randn(buf.shape, generator=generator, device=device))
    w_steps, distances = _optimize(G, distance, start, noise_bufs, w_std, config, generator, progress)
    noise = {name: buf.detach().clone() for name, buf in noise_bufs.items()}
    return ProjectionResult(w=w_steps[-1:].clone(), w_steps=w_steps, distances=distances, loss=distance.name, noise=noise)


def _check_projection_args(G: Generator, target: np.ndarray, config: ProjectionConfig, vgg: torch.nn.Module | None) -> None:
    """Refuse, before any work, a target that is not G's uint8 image, a config that cannot run, or a vgg that is a
    path (project_image takes those)."""
    if not isinstance(target, np.ndarray):
        raise ToolError(f"target must be a uint8 numpy array [H, W, C], got {type(target).__name__}; "
                        "stylegan2.tools.load_target_image(path, G.img_resolution, G.img_channels, G.img_aspect) reads "
                        "an image file as one (or call project_image with the path)")
    expected = (G.img_height, G.img_width, G.img_channels)
    if target.shape != expected:
        raise ToolError(f"target image has shape {list(target.shape)}, expected [H, W, C] = {list(expected)}")
    if target.dtype != np.uint8:  # pixels in [0, 1] or [-1, 1] would be read as nearly black
        raise ToolError(f"target must hold uint8 pixels (0-255), got {target.dtype}; e.g. (x * 255).round().astype(np.uint8)")
    if not isinstance(config, ProjectionConfig):
        raise ToolError(f"config must be a ProjectionConfig, got {type(config).__name__}")
    if config.num_steps < 1:
        raise ToolOptionError(f"--steps {config.num_steps}: must be at least 1")
    if config.w_avg_samples < 1:
        raise ToolOptionError(f"w_avg_samples {config.w_avg_samples}: must be at least 1 (the mean w is estimated from them)")
    if vgg is not None and not isinstance(vgg, torch.nn.Module):
        raise ToolError(f"vgg must be NVIDIA's VGG16 module (load_vgg16(path).module), got {type(vgg).__name__}; "
                        "project_image takes a path")


def _optimize(G: Generator, distance: LpipsDistance | PixelDistance, start: torch.Tensor,
              noise_bufs: dict[str, torch.Tensor], w_std: float, config: ProjectionConfig, generator: torch.Generator,
              progress: bool) -> tuple[torch.Tensor, list[float]]:
    """Adam on w (from `start`, [1, num_ws or 1, w_dim]) and G's noise maps (`noise_bufs`, changed in place) under
    NVIDIA's schedules; returns the ws of every step [num_steps, num_ws, w_dim] (CPU) and the distance of each."""
    device = start.device
    w_opt = start.clone().requires_grad_(True)
    for buf in noise_bufs.values():
        buf.requires_grad_(True)
    optimizer = torch.optim.Adam([w_opt, *noise_bufs.values()], betas=(0.9, 0.999), lr=config.initial_learning_rate)

    # Kept on the device and read once at the end: a read per step would make the CPU wait for a GPU every step.
    w_steps = torch.zeros([config.num_steps, G.num_ws, G.w_dim], device=device)
    distances = torch.zeros([config.num_steps], device=device)
    for step in progress_bar(range(config.num_steps), show=progress, desc="project", unit="step"):
        t = step / config.num_steps
        w_noise_scale = w_std * config.initial_noise_factor * max(0.0, 1.0 - t / config.noise_ramp_length) ** 2
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config)

        w_noise = torch.randn(w_opt.shape, generator=generator, device=device) * w_noise_scale
        ws = (w_opt + w_noise).expand(1, G.num_ws, G.w_dim)
        images = (G.synthesis(ws, noise_mode="const") + 1) * 127.5  # [1, C, H, W] in [0, 255]
        dist = distance(images)
        reg = sum(noise_regularization(buf) for buf in noise_bufs.values()) if noise_bufs else 0.0
        loss = dist + reg * config.regularize_noise_weight

        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        w_steps[step] = w_opt.detach().expand(1, G.num_ws, G.w_dim)[0]
        distances[step] = dist.detach()

        with torch.no_grad():  # keep every noise map zero-mean with unit variance
            for buf in noise_bufs.values():
                buf -= buf.mean()
                buf *= buf.square().mean().rsqrt()
    return w_steps.cpu(), distances.tolist()


def find_vgg16(vgg: str | os.PathLike | None, loss: str) -> Path | None:
    """The VGG16 file to use: --vgg (a file, or a folder holding vgg16.safetensors or vgg16.pt), else the
    cache dir's; None for the pixel loss."""
    if loss not in PROJECTION_LOSSES:
        raise ToolOptionError(f"--loss must be one of {', '.join(PROJECTION_LOSSES)}, got {loss!r}")
    if loss == "pixel":
        return None
    if vgg is not None:
        path = Path(vgg).expanduser()
        if path.is_dir():
            path = next((path / n for n in VGG16_FILE_NAMES if (path / n).is_file()), path / VGG16_FILE_NAMES[-1])
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file (--vgg); download {VGG16_URL}")
        return path
    try:  # the cache dir's, downloaded there the first time
        return find_metric_file(None, VGG16_FILE_NAMES, VGG16_HELP, default_cache_dir(), VGG16_URL)
    except FileNotFoundError as err:
        if loss == "lpips":
            raise FileNotFoundError(f"--loss lpips needs the VGG16 LPIPS network: {err}") from None
        warn(f"the projection uses a multi-scale pixel loss, which gives blurrier matches than NVIDIA's LPIPS, "
             f"because {err}")
    return None


def project_image(
    network: Network,
    target: str | os.PathLike,
    outdir: str | os.PathLike = DEFAULT_OUTDIR,
    *,
    steps: int = 1000,
    w_plus: bool = False,
    seed: int = 303,
    class_idx: int | None = None,
    label: Label = None,
    vgg: str | os.PathLike | None = None,
    loss: str = "auto",
    save_video: bool = True,
    video_format: str = "auto",
    fps: float = 10.0,
    force: bool = False,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> ProjectionResult:
    """Project an image file; write target.png, proj.png, projected_w.npz and proj.mp4/.gif (progression).

    proj.png is rendered with the network's own noise maps, as `stylegan2 generate --projected-w` renders it.
    The outputs are one set (see atomic_paths): all are written to temporaries first, then put in place together,
    so a failed write (a full disk) or a command writing the same --outdir leaves the earlier set whole.
    """
    if save_video:
        check_fps(fps)  # before the projection, not after it
    class_idx = one_class(class_idx, hint="a projection starts from one class's mean w; run it once per class")
    check_label_options(class_idx, label)
    G = load_generator(network, device)
    check_inputs(G, class_idx, label=label)
    outdir = Path(outdir)
    paths = [outdir / "target.png", outdir / "proj.png", outdir / "projected_w.npz"]
    video_path = outdir / f"proj{video_suffix(video_format)}" if save_video else None
    outputs = [*paths, *([video_path] if video_path else [])]
    check_not_inputs(outputs, [target], "--target")
    check_outputs(outputs, force)
    if video_path is not None:
        check_video(video_path, fps)
    target_image = load_target_image(target, G.img_resolution, G.img_channels, G.img_aspect)  # [H, W, C] uint8
    vgg_path = find_vgg16(vgg, loss)  # after the target and outputs are checked: it may download vgg16.pt
    note_earlier_outputs(outputs, "proj.*")  # an earlier target's video; the notes once nothing is left to refuse
    if video_path is not None:
        note_gif_fallback(video_format)
    device = network_device(G)
    vgg_module = load_vgg16(vgg_path, device=device).module if vgg_path is not None else None

    result = project(G, target_image, config=ProjectionConfig(num_steps=steps), w_plus=w_plus, seed=seed,
                     class_idx=class_idx, label=label, vgg=vgg_module, progress=progress)

    with output_set(outputs, force=force) as temps:
        with writing(paths[0]):
            write_png(target_image, temps[0])
        with writing(paths[1]):
            write_png(synthesize(G, result.w)[0], temps[1])
        with writing(paths[2]):
            write_npz(temps[2], {"w": result.w.numpy()})
        if video_path is not None:
            every = math.ceil(steps / MAX_VIDEO_FRAMES)
            shown = list(range(0, steps, every)) + ([steps - 1] if (steps - 1) % every else [])
            with writing(video_path), VideoFile(temps[3], fps) as video:
                for step in shown:
                    video.append(np.concatenate([target_image, synthesize(G, result.w_steps[step][None])[0]], axis=1))
    return result
