"""Train NVIDIA's networks and loss on MNIST 32x32 with the `cpu` preset's settings, for comparison.

    python experiments/official_mnist.py --official PATH/stylegan2-ada-pytorch \
        --mnist ../shared/data/mnist/mnist.npz --kimg 20 --snap 10 --outdir official-mnist
    python experiments/mnist_quality.py --network official-mnist/official-000020.safetensors --mnist ...

Does the `cpu` recipe's early collapse come from our implementation or from the recipe? This runs
NVIDIA's Generator, Discriminator and StyleGAN2Loss (from a checkout of NVlabs/stylegan2-ada-pytorch)
through the official loop's schedule: phases Gmain, Dmain and Dreg every 16 minibatches, lazy
regularization's lr and beta scaling, gain = interval, G_ema with ramp-up, no augmentation. The
settings are the preset's: 64 channels, z = w = 128, 2 mapping layers, batch 32, lr 0.0025,
R1 gamma 1, no path length or style mixing, fp32. G_ema snapshots are written in our format
(the parameter names are the same), so experiments/mnist_quality.py scores them like our own runs.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch
from scoring import MNIST_FILE, require_file

from stylegan2.data import InfiniteSampler, open_dataset
from stylegan2.io import save_network
from stylegan2.models import Generator as OurGenerator
from stylegan2.training.progress import kimg_label

Z_DIM, MAP_LAYERS, BATCH, LR, EMA_KIMG, EMA_RAMPUP = 128, 2, 32, 0.0025, 2.0, 0.05
SYNTHESIS = dict(channel_base=2048, channel_max=64, num_fp16_res=0, conv_clamp=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--official", required=True, help="checkout of NVlabs/stylegan2-ada-pytorch")
    parser.add_argument("--mnist", required=True, help=MNIST_FILE)
    parser.add_argument("--kimg", type=float, default=20, help="training length (default %(default)g)")
    parser.add_argument("--snap", type=float, default=10, help="write a G_ema snapshot every this many kimg (default %(default)g)")
    parser.add_argument("--gamma", type=float, default=1.0, help="R1 weight (default %(default)g, the preset's)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    parser.add_argument("--outdir", default="official-mnist", help="a new or empty folder for the snapshots (default %(default)s)")
    args = parser.parse_args()
    if not (Path(args.official) / "training" / "networks.py").is_file():
        parser.error(f"--official {args.official}: no training/networks.py there; give a checkout of NVlabs/stylegan2-ada-pytorch")
    require_file(parser, "--mnist", args.mnist, MNIST_FILE)
    if args.kimg <= 0 or args.snap <= 0:
        parser.error(f"--kimg and --snap must be positive, got {args.kimg} and {args.snap}")
    if Path(args.outdir).exists() and any(Path(args.outdir).iterdir()):
        parser.exit(1, f"--outdir {args.outdir} is not empty: choose a new folder (nothing was overwritten)\n")

    sys.path.insert(0, args.official)
    from training.loss import StyleGAN2Loss  # noqa: E402  (NVIDIA's code, from --official)
    from training.networks import Discriminator, Generator  # noqa: E402

    torch.manual_seed(args.seed)
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    data = open_dataset(args.mnist, resolution=32)
    g_kwargs = dict(z_dim=Z_DIM, c_dim=0, w_dim=Z_DIM, img_resolution=32, img_channels=1,
                    mapping_kwargs=dict(num_layers=MAP_LAYERS), synthesis_kwargs=SYNTHESIS)
    G = Generator(**g_kwargs).train().requires_grad_(False)
    D = Discriminator(c_dim=0, img_resolution=32, img_channels=1, architecture="resnet", channel_base=2048, channel_max=64,
                      num_fp16_res=0, conv_clamp=None, epilogue_kwargs=dict(mbstd_group_size=4)).train().requires_grad_(False)
    G_ema = copy.deepcopy(G).eval()
    ours = OurGenerator(**g_kwargs)
    loss = StyleGAN2Loss(device=torch.device("cpu"), G_mapping=G.mapping, G_synthesis=G.synthesis, D=D,
                         r1_gamma=args.gamma, style_mixing_prob=0.0, pl_weight=0.0)

    def adam(module: torch.nn.Module, interval: int) -> torch.optim.Optimizer:
        ratio = interval / (interval + 1)
        return torch.optim.Adam(module.parameters(), lr=LR * ratio, betas=(0.0, 0.99**ratio), eps=1e-8)

    opt_G, opt_D = adam(G, 4), adam(D, 16)
    phases = [("Gmain", G, opt_G, 1), ("Dmain", D, opt_D, 1), ("Dreg", D, opt_D, 16)]
    loader = iter(torch.utils.data.DataLoader(data, batch_size=BATCH, sampler=InfiniteSampler(data, seed=args.seed)))
    no_labels = torch.zeros(BATCH, 0)
    cur_nimg, batch_idx, next_snap, start = 0, 0, args.snap * 1000, time.time()
    while cur_nimg < args.kimg * 1000:
        real = next(loader)[0].float() / 127.5 - 1
        for name, module, opt, interval in phases:
            if batch_idx % interval:
                continue
            opt.zero_grad(set_to_none=True)
            module.requires_grad_(True)
            loss.accumulate_gradients(phase=name, real_img=real, real_c=no_labels, gen_z=torch.randn(BATCH, Z_DIM),
                                      gen_c=no_labels, sync=True, gain=interval)
            module.requires_grad_(False)
            opt.step()
        beta = 0.5 ** (BATCH / max(min(EMA_KIMG * 1000, cur_nimg * EMA_RAMPUP), 1e-8))
        with torch.no_grad():
            for p_ema, p in zip(G_ema.parameters(), G.parameters()):
                p_ema.copy_(p.lerp(p_ema, beta))
            for b_ema, b in zip(G_ema.buffers(), G.buffers()):
                b_ema.copy_(b)
        cur_nimg += BATCH
        batch_idx += 1
        if cur_nimg >= next_snap or cur_nimg >= args.kimg * 1000:
            next_snap += args.snap * 1000
            ours.load_state_dict(G_ema.state_dict())
            path = save_network(outdir / f"official-{kimg_label(cur_nimg)}.safetensors", {"G_ema": ours})
            print(f"kimg {cur_nimg / 1000:g}  {time.time() - start:.0f} s  {path}", flush=True)


if __name__ == "__main__":
    main()
