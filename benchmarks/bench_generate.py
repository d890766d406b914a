"""Images per second of G_ema at 32, 64 and 256 px: fused vs non-fused modulation, optional torch.compile.

    python benchmarks/bench_generate.py                   # current device, batch 16
    python benchmarks/bench_generate.py --compile --batch 32 --threads 2

Networks use the official config-F channel table (channel_base 32768, channel_max 512) unless
--cbase/--cmax say otherwise; on CUDA the 4 highest resolutions run in fp16 as the official
networks trained with fp16 do. Each row is the median of --repeats timed batches after warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from bench_train import check_at_least_one, check_device, parse_resolutions

from stylegan2.models import Generator


def time_batches(fn, repeats: int, device: torch.device) -> float:
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolutions", default="32,64,256", help="comma-separated (default %(default)s)")
    parser.add_argument("--batch", type=int, default=16, help="images per call (default %(default)s)")
    parser.add_argument("--cbase", type=int, default=32768, help="channel base (default %(default)s)")
    parser.add_argument("--cmax", type=int, default=512, help="channel maximum (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs; the median is reported (default %(default)s)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile'd synthesis")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    check_at_least_one(parser, batch=args.batch, threads=args.threads, repeats=args.repeats)
    resolutions = parse_resolutions(parser, args.resolutions)
    check_device(parser, args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    fp16 = dict(num_fp16_res=4, conv_clamp=256) if device.type == "cuda" else {}

    print(f"device {device} ({torch.get_num_threads()} CPU threads), batch {args.batch}, "
          f"cbase {args.cbase}, cmax {args.cmax}; images/second, median of {args.repeats}")
    print(f"{'res':>5}{'fused':>10}{'non-fused':>12}" + (f"{'compiled':>12}" if args.compile else "") + "  fastest")
    for res in resolutions:
        G = Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=res, img_channels=3,
                      synthesis_kwargs=dict(channel_base=args.cbase, channel_max=args.cmax, **fp16)).to(device).eval()
        ws = G.mapping(torch.randn(args.batch, 512, device=device), None)
        rates = {}
        with torch.no_grad():
            for name, fused in (("fused", True), ("non-fused", False)):
                seconds = time_batches(lambda: G.synthesis(ws, noise_mode="const", fused_modconv=fused), args.repeats, device)
                rates[name] = args.batch / seconds
            if args.compile:
                compiled = torch.compile(G.synthesis)
                seconds = time_batches(lambda: compiled(ws, noise_mode="const"), args.repeats, device)
                rates["compiled"] = args.batch / seconds
        row = f"{res:>5}{rates['fused']:>10.1f}{rates['non-fused']:>12.1f}"
        if args.compile:
            row += f"{rates['compiled']:>12.1f}"
        print(row + f"  {max(rates, key=rates.get)}")


if __name__ == "__main__":
    main()
