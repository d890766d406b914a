#!/usr/bin/env bash
# Issue #27's GPU measurement in one device run of under 7 minutes (docs/experiments/speed.md, "Measuring on a GPU"):
# NVIDIA's CUDA plugins built, the test suite, then bench_train.py ours vs NVIDIA's at 256 px, bench_run.py (whole
# training runs, ours vs NVIDIA's train.py), bench_loop.py (this tree's loop against .official/before, an earlier tree),
# profile_gpu.py, more bench_train.py sizes, bench_fir.py and --compile.
# Run from the repo root with OUT set (the device tool sets it) and .official/ carried beside the repo's files.
# GPU_CHECK_DRY=1 runs the same steps on CPU with tiny networks and a few tests: a check of this script.
set -uo pipefail

OUT=${OUT:?OUT must name the folder for the logs}
BUDGET=${GPU_CHECK_BUDGET:-420}            # seconds for the whole run: with the machine's start, a rerun fits in 15 device minutes
TEST_BUDGET=${GPU_CHECK_TEST_BUDGET:-150}  # seconds for the test suite (it runs while the plugins build)
BENCH_STEP_MAX=150                         # seconds for one benchmark configuration
RUN_TIMEOUT=140                            # seconds for each of bench_run.py's two training runs
COMPILE_STEP_MAX=240                       # the --compile one (its first round compiles)
OFFICIAL=.official/stylegan2-ada-pytorch
WHEELS=.official/wheels
PEAK_TFLOPS=989.4  # H100/H200 SXM dense fp16/bf16 tensor-core peak: docs/experiments/speed.md says where it comes from
export TORCH_EXTENSIONS_DIR=/tmp/torch_extensions  # the plugins are built once, then loaded by every benchmark
export MAX_JOBS=${MAX_JOBS:-16}
mkdir -p "$OUT"

say() { echo "[+${SECONDS}s] $*" | tee -a "$OUT/summary.txt"; }

if [ "${GPU_CHECK_DRY:-0}" = 1 ]; then
    CONFIGS=("fir paper256 32 2 2" "bench paper256 32 4 1" "run paper256 32 8 0.1" "loop paper256 32 4 2"
             "profile paper256 32 4 1" "augment paper256 16 4 1" "augment-nobench paper256 16 4 1"
             "compile paper256 16 4 1" "bench stylegan2 16 4 1")
    # script, net, resolution, batch, repeats (run: kimg; loop: timed minibatches)
    BENCH_ARGS=(--device cpu --threads 1 --channels 3 --cbase 256 --cmax 32 --z-dim 32)
    FIR_ARGS=(--device cpu --cbase 256)
    RUN_ARGS=(--tick 0.05 --images 64 --ours-args "--cbase 256 --cmax 32 --device cpu")
    LOOP_ARGS=(--device cpu --threads 1 --cbase 256 --cmax 32 --data "builtin:shapes?n=64" --warmup 1)
    TESTS=(-q tests/utils)
else
    # Most wanted first: 256 px at batch 32 (phases, then whole runs of 4 kimg), then where ours spends its time;
    # what earlier runs measured already (the filters, --compile, batch 64) only if time is left.
    CONFIGS=("bench paper256 256 32 3" "run paper256 256 32 4" "loop paper256 256 32 40" "profile paper256 256 32 3"
             "bench stylegan2 256 32 3" "augment paper256 256 32 5"
             "augment-nobench paper256 256 32 5"
             "bench paper256 64 32 5" "bench stylegan2 64 32 5" "fir paper256 256 32 10" "compile paper256 256 32 3"
             "bench paper256 256 64 3" "bench stylegan2 256 64 3")
    BENCH_ARGS=(--device cuda --channels 3)
    FIR_ARGS=(--device cuda)
    RUN_ARGS=(--tick 1)
    LOOP_ARGS=(--device cuda --warmup 10)
    TESTS=(-v)  # -v (not with -q: they cancel) names each test as it ends, so a suite cut off at its budget says which failed
    # pytest-xdist (in the device image) spreads the suite over the cores, one torch thread per worker
    # (16 threads each oversubscribed the machine).
    python3 -c 'import xdist' 2>/dev/null && TESTS+=(-n 14)
fi
# GPU_CHECK_CONFIGS="bench paper256 256 32 3;..." replaces the list (a rerun of what a first run missed);
# GPU_CHECK_TESTS="tests/nn tests/models" runs those tests only.
[ -n "${GPU_CHECK_CONFIGS:-}" ] && IFS=';' read -r -a CONFIGS <<<"$GPU_CHECK_CONFIGS"
[ -n "${GPU_CHECK_TESTS:-}" ] && read -r -a paths <<<"$GPU_CHECK_TESTS" && TESTS+=("${paths[@]}")

BEFORE=.official/before/src  # an earlier tree (git archive), timed beside this one by bench_loop.py: a change's before/after
LOOP_TREES=()
[ -d "$BEFORE/stylegan2" ] && LOOP_TREES=(--src "$BEFORE")
OFFICIAL_ARGS=(--official "$OFFICIAL")
if [ ! -d "$OFFICIAL" ]; then
    OFFICIAL_ARGS=()
    say "$OFFICIAL is missing (run the device tool with carry [\".official\"]): timing ours only"
fi

# 1. What the machine has.
{
    date -u; nproc; nvidia-smi
    command -v python3 nvcc ninja gcc
    python3 -c 'import sys, torch; print(sys.version); print("torch", torch.__version__, "cuda", torch.version.cuda,
                "available", torch.cuda.is_available())'
    nvcc --version; gcc --version | head -1
} >"$OUT/env.txt" 2>&1
say "environment: $(python3 -c 'import torch; print(torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device")' 2>&1)"

# 2. Our package (the device's Python lacks it) and the carried wheels of what the image may lack.
if ! python3 -c 'import stylegan2' 2>/dev/null; then
    if python3 -m pip install -q --no-deps --no-build-isolation --no-index -e . >>"$OUT/env.txt" 2>&1; then
        say "installed stylegan2 (editable, offline)"
    else
        export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
        say "pip could not install stylegan2 (see env.txt); using PYTHONPATH=src"
    fi
fi
export PATH="$(dirname "$(python3 -c 'import sys; print(sys.executable)')"):$PATH"  # torchrun and pip-installed ninja
if ! command -v ninja >/dev/null && ! python3 -c 'import ninja' 2>/dev/null; then
    if python3 -m pip install -q --no-index --no-deps "$WHEELS"/ninja-*.whl >>"$OUT/env.txt" 2>&1 \
        || timeout 60 python3 -m pip install -q --timeout 10 --retries 0 ninja >>"$OUT/env.txt" 2>&1; then
        say "installed ninja"
    else
        say "ninja missing and not installable (no carried wheel, no registry): NVIDIA's plugins cannot build"
    fi
fi
if ! python3 -c 'import flask' 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps "$WHEELS"/{flask,itsdangerous,blinker}-*.whl >>"$OUT/env.txt" 2>&1 \
        && say "installed flask (the explorer's tests)" || say "flask not installed: the explorer's tests skip"
fi

# 3. NVIDIA's plugins build while the test suite runs (the README's test command; GPU tests run where CUDA is available).
build=
if [ ${#OFFICIAL_ARGS[@]} -gt 0 ]; then
    (timeout 300 python3 benchmarks/official_ops.py "$OFFICIAL" >"$OUT/plugins.txt" 2>&1; echo "exit $?" >>"$OUT/plugins.txt") &
    build=$!
else
    echo "official: not carried" >"$OUT/plugins.txt"
fi
OMP_NUM_THREADS=1 timeout -k 10 "$TEST_BUDGET" python3 -m pytest -rfE -p no:cacheprovider --durations=10 "${TESTS[@]}" \
    >"$OUT/tests.txt" 2>&1
status=$?
[ "$status" = 124 ] && echo "timed out after ${TEST_BUDGET} s" >>"$OUT/tests.txt"
say "tests: exit $status; $(grep -E '[0-9]+ (passed|failed|errors?)\b' "$OUT/tests.txt" | tail -1)"
failed=$(grep -oE '(FAILED|ERROR) tests/[^ ]+' "$OUT/tests.txt" | sort -u | tr '\n' ' ')
say "tests failed: ${failed:-none}"
[ -n "$build" ] && wait "$build"
plugins=$(grep '^official:' "$OUT/plugins.txt" || tail -1 "$OUT/plugins.txt")
say "plugins: $plugins"
echo "plugins (benchmarks/official_ops.py): $plugins" >"$OUT/bench.txt"
RUN_OFFICIAL=("${OFFICIAL_ARGS[@]}")  # NVIDIA's train.py in bench_run.py: with its compiled plugins only
if [ ${#OFFICIAL_ARGS[@]} -gt 0 ] && [ "$plugins" != "official: custom CUDA ops compiled" ]; then
    OFFICIAL_ARGS+=(--official-reference-ops)  # each benchmark would otherwise retry the failed build
    [ "${GPU_CHECK_DRY:-0}" = 1 ] || RUN_OFFICIAL=()
fi

# 4. Ours vs NVIDIA's, interleaved in one process per configuration.
#    And where ours spends its time (profile_gpu.py: busy fraction, launches, costliest kernels).
for config in "${CONFIGS[@]}"; do
    read -r script net res batch repeats <<<"$config"
    left=$((BUDGET - SECONDS))
    if [ "$left" -lt 45 ]; then
        say "$script --net $net --resolution $res --batch $batch: skipped, ${left} s left"
        continue
    fi
    args=("${BENCH_ARGS[@]}")
    if [ "$script" = fir ]; then  # D's down-sampling filters written four ways
        cmd=(benchmarks/bench_fir.py)
        args=("${FIR_ARGS[@]}")
    elif [ "$script" = run ]; then  # whole training runs on one zip: `stylegan2 train`, then NVIDIA's train.py
        cmd=(benchmarks/bench_run.py "${RUN_OFFICIAL[@]}" --cfg "$net" --resolution "$res" --batch "$batch"
             --kimg "$repeats" --timeout "$RUN_TIMEOUT")
        args=("${RUN_ARGS[@]}")
    elif [ "$script" = loop ]; then  # the whole loop's ms per minibatch, this tree and the earlier one in $BEFORE
        cmd=(benchmarks/bench_loop.py "${LOOP_TREES[@]}" --cfg "$net" --resolution "$res" --batch "$batch" --steps "$repeats"
             --repeats 1)
        args=("${LOOP_ARGS[@]}")
    elif [ "$script" = augment ] || [ "$script" = augment-nobench ]; then
        # ADA at p 0.2 (ours with and without it), with cuDNN autotuning as in training, then without: each new padded
        # size of the geometric augmentations may get an algorithm search of its own (gpupath QA M3)
        cmd=(benchmarks/bench_train.py --aug-p 0.2 $([ "$script" = augment-nobench ] && echo --nobench))
    elif [ "$script" = compile ]; then  # ours plain and under torch.compile (Gmain, Dmain), in one process
        cmd=(benchmarks/bench_train.py --compile --peak-tflops "$PEAK_TFLOPS")
    elif [ "$script" = bench ]; then
        # --nhwc, --unfolded-filters, --bf16: also ours with channels_last fp16 layers, with fp16 layers' filters as a
        # pass of their own, and with bfloat16 layers (--precision bf16)
        cmd=(benchmarks/bench_train.py "${OFFICIAL_ARGS[@]}" --nhwc --unfolded-filters --bf16 --peak-tflops "$PEAK_TFLOPS")
    else
        cmd=(benchmarks/profile_gpu.py)
    fi
    echo "=== $script --net $net --resolution $res --batch $batch --repeats $repeats" >>"$OUT/bench.txt"
    sizes=(--net "$net" --resolution "$res" --batch "$batch" --repeats "$repeats")  # bench_train's, bench_fir's, profile_gpu's
    case "$script" in
        compile) step_max=$COMPILE_STEP_MAX; cmd+=("${sizes[@]}") ;;
        run) step_max=$((2 * RUN_TIMEOUT + 60)) ;;  # its dataset zip, then two runs
        loop) step_max=$BENCH_STEP_MAX ;;
        *) step_max=$BENCH_STEP_MAX; cmd+=("${sizes[@]}") ;;
    esac
    timeout -k 5 $((left < step_max ? left : step_max)) python3 "${cmd[@]}" "${args[@]}" \
        >>"$OUT/bench.txt" 2>>"$OUT/bench_stderr.txt"
    status=$?
    say "$script --net $net --resolution $res --batch $batch: exit $status$([ "$status" = 124 ] && echo ' (timed out)')"
done
say "done: the tables are in bench.txt"
