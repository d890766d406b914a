"""Seconds per training phase, amortized images/second and seconds per kimg, ours vs. NVIDIA's code.

    python benchmarks/bench_train.py                        # ours only, 32 px, cbase 4096, cmax 128, gamma 0.05
    python benchmarks/bench_train.py --net paper256 --resolution 256 --channels 3 --official PATH --peak-tflops 989.4
    python benchmarks/bench_train.py --official ~/src/stylegan2-ada-pytorch --threads 2
    python benchmarks/bench_train.py --cbase 2048 --cmax 64 --gamma 0.25 --pack 4    # the cpu preset, with and without packing
    python benchmarks/bench_train.py --cbase 2048 --cmax 64 --gamma 0.25 --pack 4 --pl-weight 0 --style-mixing 0 \
        --loss stylegan2 --loss r3gan --aug-p 0.02                                    # the two objectives, cpu preset
    python benchmarks/bench_train.py --threads 2 --cbase 2048 --cmax 64 --gamma 1 --pl-weight 0 --style-mixing 0 \
        --bf16                                                                        # the cpu preset, float32 vs bfloat16

Phases are those of the official loop: Gmain and Dmain every minibatch, Greg (path length) every
4th and Dreg (R1) every 16th, so one minibatch costs Gmain + Dmain + Greg/4 + Dreg/16 on average.
With --official, both implementations run the same network configuration and loss settings in
one process, interleaved, so the ratio is meaningful on a noisy machine. --net takes the network
and R1 settings of NVIDIA's train.py --cfg (explicit options override them). After timing, each
phase runs once more under a FLOP counter (benchmarks/flops.py): dense FLOPs (convolutions other
than depthwise filters, and matrix products) over the measured time give TFLOP/s, and with
--peak-tflops the fraction of that peak. FLOPs are counted with the resampling filters unfolded
(fp16 layers fold them into larger convolutions: more FLOPs for the same work). Optimizer steps,
EMA and data loading are not timed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import statistics
import sys
import time
import types
from typing import Callable

import torch
from flops import FlopCounter, matmul_flops_per_s
from official_ops import import_official, plugin_status

from stylegan2.models.aspect import MAX_RESOLUTION, check_img_resolution
from stylegan2.training.config import PRESETS, TrainingOptions
from stylegan2.training.networks import precision_kwargs
from stylegan2.utils.allocator import keep_freed_memory
from stylegan2.utils.device import configure_backends

PHASES = ("Gmain", "Dmain", "Dreg", "Greg")
INTERVAL = {"Gmain": 1, "Dmain": 1, "Dreg": TrainingOptions.d_reg_interval, "Greg": TrainingOptions.g_reg_interval}
# NVIDIA's train.py cfg_specs, as our presets of the same names hold them (and fp16 layers: see parse_args).
NETS = {name: dict(cbase=spec.channel_base, cmax=spec.channel_max, map=spec.map, z_dim=spec.z_dim, mbstd=spec.mbstd,
                   gamma=float(spec.gamma))
        for name, spec in PRESETS.items() if name in ("paper256", "stylegan2")}


def network_kwargs(args: argparse.Namespace, nhwc: bool = False, bf16: bool = False) -> tuple[dict, dict]:
    """G and D kwargs (NVIDIA's names, so both implementations take them); `nhwc`: channels_last fp16 layers, as train.py --nhwc;
    `bf16`: ours only, the top 4 resolutions in bfloat16 without conv_clamp, as `stylegan2 train --precision bf16`."""
    common = dict(c_dim=0, img_resolution=args.resolution, img_channels=args.channels)
    precision, layout = precision_kwargs("bf16" if bf16 else "fp16" if args.fp16 else "fp32", nhwc)
    g = dict(z_dim=args.z_dim, w_dim=args.z_dim, mapping_kwargs=dict(num_layers=args.map),
             synthesis_kwargs=dict(channel_base=args.cbase, channel_max=args.cmax, **precision, **layout), **common)
    d = dict(channel_base=args.cbase, channel_max=args.cmax, epilogue_kwargs=dict(mbstd_group_size=args.mbstd),
             block_kwargs=layout, **precision, **common)
    return g, d


@contextlib.contextmanager
def filters_unfolded():
    """fp16 layers keep their resampling filter as a pass of its own instead of folding it into the weights."""
    module = importlib.import_module("stylegan2.nn.conv2d_resample")  # the package's attribute is the function
    saved, module.FOLD_FP16 = module.FOLD_FP16, False
    try:
        yield
    finally:
        module.FOLD_FP16 = saved


def compiled(G: torch.nn.Module, D: torch.nn.Module) -> tuple[types.SimpleNamespace, torch.nn.Module]:
    """G's mapping and synthesis and D under torch.compile, sharing their parameters, for the loss's main phases
    (torch.compile cannot take the double backward of R1 and path length, so Dreg and Greg keep the plain networks)."""
    G_compiled = types.SimpleNamespace(mapping=torch.compile(G.mapping), synthesis=torch.compile(G.synthesis), parameters=G.parameters)
    return G_compiled, torch.compile(D)


def ours(args: argparse.Namespace, device: torch.device, pack: int = 1, loss_name: str = "stylegan2",
         nhwc: bool = False, augment: bool = True, compile_main: bool = False,
         unfolded: bool = False, bf16: bool = False) -> Callable[[str, dict], None]:
    from stylegan2.models import Discriminator, Generator
    from stylegan2.training.augment import augment_pipe_from_preset
    from stylegan2.training.loss import LOSSES

    g_kwargs, d_kwargs = network_kwargs(args, nhwc, bf16)
    d_kwargs["img_channels"] *= pack  # a packed D (PacGAN) sees `pack` images at once
    G = Generator(**g_kwargs).to(device).train().requires_grad_(False)
    D = Discriminator(**d_kwargs).to(device).train().requires_grad_(False)
    aug_p = getattr(args, "aug_p", None) if augment else None
    pipe = None if aug_p is None else augment_pipe_from_preset("bgc", aug_p).to(device)
    settings = dict(augment_pipe=pipe, r1_gamma=args.gamma, pl_weight=getattr(args, "pl_weight", 2.0),
                    style_mixing_prob=getattr(args, "style_mixing", 0.9), pack=pack)
    loss = LOSSES[loss_name](G, D, **settings)
    main_loss = LOSSES[loss_name](*compiled(G, D), **settings) if compile_main else loss
    modules = {"G": G, "D": D}

    def run(phase: str, batch: dict) -> None:
        module = modules[phase[0]]
        module.requires_grad_(True)
        phase_loss = main_loss if phase in ("Gmain", "Dmain") else loss
        with filters_unfolded() if unfolded else contextlib.nullcontext():
            phase_loss.accumulate_gradients(phase, batch["real"], batch["c"], batch["z"], batch["c"], gain=1.0)
        module.requires_grad_(False)
        for p in module.parameters():
            p.grad = None

    return run


def official(args: argparse.Namespace, device: torch.device) -> Callable[[str, dict], None]:
    import_official(args.official, build=device.type == "cuda" and not args.official_reference_ops)
    from training.loss import StyleGAN2Loss  # noqa: E402  (NVIDIA's code, from --official)
    from training.networks import Discriminator, Generator  # noqa: E402

    g_kwargs, d_kwargs = network_kwargs(args)
    G = Generator(**g_kwargs).to(device).train().requires_grad_(False)
    D = Discriminator(**d_kwargs).to(device).train().requires_grad_(False)
    loss = StyleGAN2Loss(device=device, G_mapping=G.mapping, G_synthesis=G.synthesis, D=D, r1_gamma=args.gamma,
                         pl_weight=args.pl_weight, style_mixing_prob=args.style_mixing)
    modules = {"G": G, "D": D}

    def run(phase: str, batch: dict) -> None:
        module = modules[phase[0]]
        module.requires_grad_(True)
        loss.accumulate_gradients(phase=phase, real_img=batch["real"], real_c=batch["c"], gen_z=batch["z"],
                                  gen_c=batch["c"], sync=True, gain=1)
        module.requires_grad_(False)
        for p in module.parameters():
            p.grad = None

    return run


def random_batch(args: argparse.Namespace, device: torch.device) -> dict[str, torch.Tensor]:
    """One minibatch of random reals and latents (no labels), as every phase takes it."""
    return {
        "real": torch.randn(args.batch, args.channels, args.resolution, args.resolution, device=device),
        "z": torch.randn(args.batch, args.z_dim, device=device),
        "c": torch.zeros(args.batch, 0, device=device),
    }


def timed_phases(args: argparse.Namespace) -> list[str]:
    """The official loop's phases, without path length (Greg) when its weight is 0."""
    return [p for p in PHASES if p != "Greg" or args.pl_weight != 0]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def add_network_arguments(parser: argparse.ArgumentParser, *, cbase: int, cmax: int, gamma: float) -> None:
    """The data, network-size and R1 options that `ours` reads (shared with profile_step.py)."""
    parser.add_argument("--resolution", type=int, default=32, help="image size (default %(default)s)")
    parser.add_argument("--channels", type=int, default=1, help="image channels (default %(default)s)")
    parser.add_argument("--batch", type=int, default=32, help="images per step (default %(default)s)")
    parser.add_argument("--cbase", type=int, default=cbase, help="channel base (default %(default)s)")
    parser.add_argument("--cmax", type=int, default=cmax, help="channel maximum (default %(default)s)")
    parser.add_argument("--z-dim", type=int, default=128, help="z and w size (default %(default)s)")
    parser.add_argument("--map", type=int, default=2, help="mapping layers (default %(default)s)")
    parser.add_argument("--mbstd", type=int, default=4, help="D's minibatch-stddev group size (default %(default)s)")
    parser.add_argument("--gamma", type=float, default=gamma, help="R1 weight (default %(default)s)")


def check_network_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """One-line errors for bad values of add_network_arguments' options, before any network is built."""
    check_resolution(parser, "--resolution", args.resolution)
    check_at_least_one(parser, mbstd=args.mbstd, cmax=args.cmax)
    if args.cbase < args.resolution:  # the networks' own refusal, as one line instead of a traceback
        parser.error(f"--cbase {args.cbase} gives no channels at {args.resolution} px (channels are --cbase / "
                     f"resolution); use at least {args.resolution}")
    if args.batch < 1 or args.batch % min(args.mbstd, args.batch):
        parser.error(f"--batch must be a positive multiple of D's minibatch-stddev group (--mbstd {args.mbstd}), got {args.batch}")


def check_pack(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A one-line error unless --pack splits the minibatch into whole packs that D's minibatch-stddev groups divide."""
    check_at_least_one(parser, pack=args.pack)
    packs = args.batch // args.pack
    if args.batch % args.pack or packs % min(args.mbstd, packs):
        parser.error(f"--batch {args.batch} must split into packs of --pack {args.pack} whose count "
                     f"D's minibatch-stddev group (--mbstd {args.mbstd}) divides")


def check_resolution(parser: argparse.ArgumentParser, option: str, value: int, *, least: int = 4) -> None:
    """A one-line error unless the networks accept `value` (models.aspect.check_img_resolution) and it is at least `least`."""
    try:
        check_img_resolution(value)
        accepted = value >= least
    except ValueError:
        accepted = False
    if not accepted:
        parser.error(f"{option} must be a power of two from {least} to {MAX_RESOLUTION}, got {value}")


def parse_resolutions(parser: argparse.ArgumentParser, text: str) -> list[int]:
    """--resolutions (comma-separated powers of two) as a list, or a one-line error."""
    try:
        values = [int(value) for value in text.split(",")]
    except ValueError:
        parser.error(f"--resolutions: give comma-separated powers of two, e.g. 32,64,256, got {text!r}")
    for value in values:
        check_resolution(parser, "--resolutions", value)
    return values


def check_device(parser: argparse.ArgumentParser, name: str) -> None:
    """A one-line error for a --device that is not a device name, or is CUDA on a machine without a GPU."""
    try:
        device = torch.device(name)
    except RuntimeError:
        parser.error(f"--device {name}: not a device name (cpu, cuda, cuda:1)")
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {name}: no CUDA GPU here (or this torch was built without CUDA); use --device cpu")


def check_at_least_one(parser: argparse.ArgumentParser, **options: int | None) -> None:
    """A one-line error for the first given option (name=value; None: not given) that is below 1."""
    for name, value in options.items():
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")


def parse_args(parser: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    """This script's options, added to `parser` when another script (profile_gpu.py) brings its own."""
    parser = parser or argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_network_arguments(parser, cbase=4096, cmax=128, gamma=0.05)
    parser.add_argument("--net", choices=sorted(NETS), help="network and R1 settings of NVIDIA's train.py --cfg of this name")
    parser.add_argument("--fp16", action=argparse.BooleanOptionalAction,
                        help="fp16 layers in the top 4 resolutions with conv_clamp 256, as the official default "
                             "(default: on with --net on CUDA; ours runs them in fp32 on CPU, NVIDIA's emulates them)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs; the median is reported (default %(default)s)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--pack", type=int, default=1, help="also time ours with a D that judges this many images at once")
    parser.add_argument("--nhwc", action="store_true",
                        help="also time ours with channels_last fp16 layers (train.py's and our --nhwc)")
    parser.add_argument("--bf16", action="store_true",
                        help="also time ours with bfloat16 layers in the top 4 resolutions (stylegan2 train --precision bf16)")
    parser.add_argument("--unfolded-filters", action="store_true",
                        help="also time ours with fp16 layers' resampling filters as a pass of their own, not folded into the weights")
    parser.add_argument("--compile", action="store_true",
                        help="also time ours with torch.compile of G and D in Gmain and Dmain (the first round compiles)")
    parser.add_argument("--loss", action="append", choices=["stylegan2", "r3gan"],
                        help="time ours with this objective (repeat to compare; default stylegan2)")
    parser.add_argument("--aug-p", type=float,
                        help="run D's inputs through the bgc augmentation pipe at this p (ours; also timed without it)")
    parser.add_argument("--nobench", action="store_true",
                        help="cuDNN autotuning off (as train --nobench): with --aug-p, each new padded image size of the "
                             "geometric augmentations otherwise gets its own algorithm search")
    parser.add_argument("--pl-weight", type=float, default=2.0, help="path-length weight (0: no Greg phase, as the cpu preset)")
    parser.add_argument("--style-mixing", type=float, default=0.9, help="style-mixing probability")
    parser.add_argument("--official", help="path to a checkout of NVlabs/stylegan2-ada-pytorch to compare with")
    parser.add_argument("--official-reference-ops", action="store_true",
                        help="time NVIDIA's reference ops without trying to build its CUDA plugins")
    parser.add_argument("--keep-freed-memory", action="store_true",
                        help="tune malloc as `stylegan2 train` does on CPU (process-wide: applies to --official too)")
    parser.add_argument("--peak-tflops", type=float,
                        help="the device's dense half-precision peak, to print each TFLOP/s as a fraction of it")
    net = parser.parse_known_args()[0].net
    if net:
        parser.set_defaults(**NETS[net])
    args = parser.parse_args()
    check_network_arguments(parser, args)
    check_at_least_one(parser, repeats=args.repeats, threads=args.threads)
    check_pack(parser, args)
    check_device(parser, args.device)
    if args.fp16 is None:
        args.fp16 = bool(args.net) and args.device.startswith("cuda")
    return args


def count_flops(run: Callable[[str, dict], None], phase: str, batch: dict) -> int:
    """Dense FLOPs of one run of `phase`, counted in a pass of its own so that timing is not perturbed."""
    counter = FlopCounter()
    with counter:
        run(phase, batch)
    return counter.dense


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.keep_freed_memory and not keep_freed_memory():
        sys.exit("--keep-freed-memory: this platform's malloc has no mallopt (glibc only)")
    device = torch.device(args.device)
    configure_backends(device, cudnn_benchmark=not args.nobench)  # TF32 off and cuDNN autotuning on, as both loops set them
    torch.manual_seed(0)

    losses = args.loss or ["stylegan2"]
    impls = {}
    # A compiled step does the same math as its plain twin, which the FLOP counter can run (it cannot trace compiled code).
    flop_twins: dict[str, str] = {}
    for loss_name in losses:
        suffix = "" if losses == ["stylegan2"] else f", {loss_name}"
        impls["ours" + suffix] = ours(args, device, loss_name=loss_name)
        if args.pack > 1:
            impls[f"ours{suffix}, pack {args.pack}"] = ours(args, device, pack=args.pack, loss_name=loss_name)
        if args.nhwc:
            impls[f"ours{suffix}, --nhwc"] = ours(args, device, loss_name=loss_name, nhwc=True)
        if args.compile:
            impls[f"ours{suffix}, torch.compile"] = ours(args, device, loss_name=loss_name, compile_main=True)
            flop_twins[f"ours{suffix}, torch.compile"] = "ours" + suffix
        if args.bf16:
            impls[f"ours{suffix}, bf16"] = ours(args, device, loss_name=loss_name, bf16=True)
        if args.unfolded_filters:
            impls[f"ours{suffix}, unfolded"] = ours(args, device, loss_name=loss_name, unfolded=True)
        if args.aug_p is not None:
            impls[f"ours{suffix}, no augmentation"] = ours(args, device, loss_name=loss_name, augment=False)
    if args.official:
        impls["official"] = official(args, device)
        ops_line = plugin_status(device, build=not args.official_reference_ops)
    batch = random_batch(args, device)
    phases = timed_phases(args)
    times: dict[str, dict[str, list[float]]] = {name: {p: [] for p in phases} for name in impls}
    for repeat in range(args.repeats + 1):  # the first round warms up (allocator, cuDNN autotuning)
        for phase in phases:
            for name, run in impls.items():
                sync(device)
                start = time.perf_counter()
                run(phase, batch)
                sync(device)
                if repeat > 0:
                    times[name][phase].append(time.perf_counter() - start)
    counted = {name: impls[flop_twins.get(name, name)] for name in impls}
    with filters_unfolded():  # the work done, not the extra FLOPs of folded filters
        flops = {name: {p: count_flops(counted[name], p, batch) for p in phases} for name in impls}

    net = f"--net {args.net}, " if args.net else ""
    print(f"device {device} ({torch.get_num_threads()} CPU threads), {args.resolution} px, {args.channels} ch, "
          f"batch {args.batch}, {net}cbase {args.cbase}, cmax {args.cmax}, map {args.map}, z/w {args.z_dim}, "
          f"mbstd {args.mbstd}, gamma {args.gamma:g}, fp16 {args.fp16}"
          + (f", cuDNN autotuning {'off' if args.nobench else 'on'}" if device.type == "cuda" else "")
          + f"; median of {args.repeats}")
    if device.type == "cuda":
        rate = matmul_flops_per_s(device, torch.float16, size=8192, repeats=10)
        print(f"{torch.cuda.get_device_name(device)}: float16 8192 x 8192 matmul {rate / 1e12:.0f} TFLOP/s")
    if args.official:
        print(ops_line)
    header = f"{'implementation':<26}" + "".join(f"{p + ' s':>10}" for p in phases) + f"{'img/s':>10}{'s/kimg':>10}"
    print(header)
    throughput = {}
    for name in impls:
        med = {p: statistics.median(times[name][p]) for p in phases}
        per_batch = sum(med[p] / INTERVAL[p] for p in phases)
        throughput[name] = args.batch / per_batch
        print(f"{name:<26}" + "".join(f"{med[p]:>10.3f}" for p in phases)
              + f"{throughput[name]:>10.1f}{1000 / throughput[name]:>10.2f}")
    if "official" in throughput:
        first = next(iter(impls))
        print(f"speed-up ({first} / official, amortized img/s): {throughput[first] / throughput['official']:.2f}x")
    peak = f"{'% of ' + format(args.peak_tflops, 'g'):>12}" if args.peak_tflops else ""
    print("dense FLOPs (convolutions except depthwise filters, matrix products), counted in an untimed pass:")
    print(f"{'implementation':<26}" + "".join(f"{p + ' TF/s':>12}" for p in phases) + f"{'GFLOP/img':>11}{'TFLOP/s':>9}" + peak)
    for name in impls:
        rates = {p: flops[name][p] / statistics.median(times[name][p]) / 1e12 for p in phases}
        per_img = sum(flops[name][p] / INTERVAL[p] for p in phases) / args.batch
        achieved = per_img * throughput[name] / 1e12
        share = f"{100 * achieved / args.peak_tflops:>11.1f}%" if args.peak_tflops else ""
        print(f"{name:<26}" + "".join(f"{rates[p]:>12.3f}" for p in phases) + f"{per_img / 1e9:>11.2f}{achieved:>9.3f}" + share)


if __name__ == "__main__":
    main()
