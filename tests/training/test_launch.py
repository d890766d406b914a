"""`stylegan2 train --gpus N` starts N processes through torch's elastic launcher: the same run as torchrun's."""

import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import safetensors.torch
import torch
from torch import nn

from stylegan2.io import load_checkpoint
from stylegan2.metrics import calc_metrics
from stylegan2.metrics.detectors import INCEPTION_FILE_NAMES
from stylegan2.training.launch import LaunchError, ProcessLayout, launch, launch_local

TINY_RUN = ["--data", "builtin:shapes?n=64", "--cfg", "cpu", "--kimg", "0.016", "--batch", "8", "--cbase", "128",
            "--cmax", "16", "--tick", "0.008", "--snap", "1", "--workers", "0", "--aug", "noaug", "--device", "cpu",
            "--seed", "3"]


def run(cmd: list[str], outdir: Path) -> Path:
    """Run a training command line into `outdir`; the one run directory it made."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(cmd + ["--outdir", str(outdir)], capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    (run_dir,) = outdir.iterdir()
    return run_dir


def test_gpus_2_equals_torchrun_with_two_processes(tmp_path):
    torchrun = run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                    "-m", "stylegan2", "train", *TINY_RUN], tmp_path / "torchrun")
    launched = run([sys.executable, "-m", "stylegan2", "train", "--gpus=2", *TINY_RUN], tmp_path / "gpus")
    assert "2 x cpu" in (launched / "log.txt").read_text()
    names = sorted(p.name for p in torchrun.glob("network-snapshot-*"))
    assert names == sorted(p.name for p in launched.glob("network-snapshot-*")) and len(names) == 2
    expected = safetensors.torch.load_file(torchrun / names[-1])
    got = safetensors.torch.load_file(launched / names[-1])
    assert expected.keys() == got.keys()
    for key in expected:
        assert (expected[key] == got[key]).all(), key


def report_rank() -> int:
    return int(os.environ["RANK"]) * 10 + int(os.environ["WORLD_SIZE"])


def fail_on_rank_1() -> None:
    if os.environ["RANK"] == "1":
        raise ValueError("rank 1 cannot go on")


def test_launched_processes_get_torchruns_environment():
    assert launch_local(2, report_rank) == [2, 12]


def test_a_failing_process_stops_the_launch_with_its_message(capfd):
    with pytest.raises(LaunchError) as caught:
        launch_local(2, fail_on_rank_1)
    assert str(caught.value) == "rank 1 cannot go on (process 1 of 2)"
    assert "rank 1 cannot go on" not in capfd.readouterr().err  # the launcher's line says it


def meet_then_fail(folder: str, same: bool) -> None:
    """Both processes reach the error together (a bad option each checks), with the same message or their own."""
    rank = os.environ["RANK"]
    Path(folder, rank).touch()
    while len(list(Path(folder).iterdir())) < 2:
        time.sleep(0.01)
    raise ValueError("--batch 16: its run trained with --batch 8" if same else f"rank {rank} has its own reason")


def test_an_error_every_process_finds_is_said_once(tmp_path, capfd):
    with pytest.raises(LaunchError) as caught:
        launch_local(2, meet_then_fail, str(tmp_path), True)
    assert str(caught.value) == "--batch 16: its run trained with --batch 8"
    assert "--batch" not in capfd.readouterr().err


def test_different_errors_are_each_said_with_their_process(tmp_path, capfd):
    with pytest.raises(LaunchError, match=r"process [01] of 2 stopped with exit code 1; its message is above"):
        launch_local(2, meet_then_fail, str(tmp_path), False)
    printed = capfd.readouterr().err.splitlines()
    assert "Error (process 0): rank 0 has its own reason" in printed and "Error (process 1): rank 1 has its own reason" in printed


def fail_then_die(restarted: str) -> None:
    """Rank 1 fails with a message, and after the restart dies without one, once rank 0 has started again (has
    touched `restarted`; a rank 0 still starting on a loaded machine was stopped before it could say so)."""
    restart = os.environ["TORCHELASTIC_RESTART_COUNT"]
    if os.environ["RANK"] == "1":
        if restart == "0":
            raise ValueError("the first attempt's reason")
        deadline = time.monotonic() + 60
        while not os.path.exists(restarted) and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGKILL)
    elif restart != "0":
        Path(restarted).touch()
    time.sleep(60)  # stopped by the launcher when rank 1 ends


def test_under_max_restarts_each_attempt_says_why_it_ended_and_a_restart_says_so(tmp_path, capfd):
    with pytest.raises(LaunchError, match="process 1 of 2 was killed by SIGKILL"):
        launch(ProcessLayout(nproc_per_node=2, max_restarts=1), fail_then_die, str(tmp_path / "restarted"))
    printed = capfd.readouterr().err.splitlines()
    start = printed.index("Error (process 1): the first attempt's reason")
    assert printed[start + 1:].count("Restarting the processes (restart 1 of 1)") == 1
    assert sum("first attempt" in line for line in printed) == 1


def interrupted_then_ctrl_c_at_exit() -> None:
    """Stopped by Ctrl-C; another SIGINT (the launcher's copy, or a second press) comes while Python exits."""
    atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(0.2)))
    raise KeyboardInterrupt


def test_a_ctrl_c_while_a_stopped_process_exits_prints_no_traceback(capfd):
    with pytest.raises(KeyboardInterrupt):
        launch_local(2, interrupted_then_ctrl_c_at_exit)
    assert "KeyboardInterrupt" not in capfd.readouterr().err


def print_a_polish_city() -> None:
    print("Łódź", flush=True)


def test_launched_processes_escape_what_the_output_encoding_lacks(capfd, monkeypatch):
    """Windows prints redirected output in its code page: a launched process must not fail on a path it lacks."""
    monkeypatch.setenv("PYTHONIOENCODING", "ascii")
    launch_local(2, print_a_polish_city)
    assert capfd.readouterr().out.count("\\u0141\\xf3d\\u017a") == 2


def test_gpus_under_torchrun_is_refused(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(LaunchError, match="already runs under torchrun"):
        launch_local(2, report_rank)


def wait_for(path: Path, process: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None and time.monotonic() < deadline, f"no {path.name}: {process.poll()}"
        time.sleep(0.2)


def signalled_run(tmp_path: Path, to_group: bool, signum: int, extra: list[str], cache: Path | None = None,
                  again_after: float | None = None) -> tuple[int, Path]:
    """A long `--gpus 2` run given `signum` (to its whole process group, as a terminal's Ctrl-C, or to the launcher
    alone) once its first snapshot (and metrics) are written, and `again_after` seconds later once more; its exit
    status and run directory."""
    cmd = [sys.executable, "-m", "stylegan2", "train", "--gpus=2", *TINY_RUN, "--kimg", "100", *extra,
           "--outdir", str(tmp_path / "runs")]
    env = dict(os.environ, OMP_NUM_THREADS="1", STYLEGAN2_CACHE=str(cache or tmp_path / "cache"))
    with open(tmp_path / "out.txt", "w") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            wait_for(tmp_path / "runs", process)
            (run_dir,) = (tmp_path / "runs").iterdir()
            wait_for(run_dir / ("metric-fid1k_full.jsonl" if cache else "network-snapshot-000000-008.safetensors"), process)
            (os.killpg if to_group else os.kill)(process.pid, signum)
            if again_after is not None:
                time.sleep(again_after)
                with contextlib.suppress(ProcessLookupError):
                    (os.killpg if to_group else os.kill)(process.pid, signum)
            return process.wait(timeout=120), run_dir
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)


def test_ctrl_c_stops_every_process_at_one_step_with_a_last_snapshot_and_metrics_use_every_process(tmp_path):
    """The terminal sends Ctrl-C to the launcher and its processes (one process group), and the launcher passes it
    on: the processes stop together after a whole step and write a last snapshot, the command exits 130 with no
    traceback. The snapshot metrics before it are computed by both processes, each on its share of the images."""
    cache = tmp_path / "cache"
    cache.mkdir()
    torch.jit.script(nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten())).save(str(cache / INCEPTION_FILE_NAMES[0]))
    status, run_dir = signalled_run(tmp_path, True, signal.SIGINT, ["--metrics", "fid1k_full"], cache)
    printed = (tmp_path / "out.txt").read_text()
    assert status == 130 and "Traceback" not in printed and "signal" not in printed, printed[-3000:]
    lines = (run_dir / "log.txt").read_text().splitlines()
    final = sorted(run_dir.glob("network-snapshot-*.safetensors"))[-1]
    stopped = lines[lines.index("Interrupted: writing a final snapshot before exiting") + 1:]
    scores = f"stylegan2 metrics --network {final} --metrics fid1k_full --run-dir {run_dir} --gpus 2 --device cpu"
    assert stopped in ([f"Saved {final.name}", f"note: metrics are left out at this snapshot; to add them: {scores}", "Stopped."],
                       [f"Kept {final.name}: it already holds this state", "Stopped."])  # a tick's snapshot was the last step's
    assert load_checkpoint(final).training_state["cur_nimg"] == int(final.stem.split("-", 2)[2].replace("-", ""))
    records = [json.loads(line) for line in (run_dir / "metric-fid1k_full.jsonl").read_text().splitlines()]
    assert records and all(record["num_gpus"] == 2 for record in records)  # both processes took their share
    snapshot, value = str(run_dir / records[0]["snapshot_pkl"]), records[0]["results"]["fid1k_full"]
    assert launch_local(2, score, snapshot, str(cache)) == [value, value]  # `stylegan2 metrics` on two processes
    assert score(snapshot, str(cache)) != value  # one process draws other fakes


def score(network: str, cache: str) -> float:
    """fid1k_full of a snapshot against its run's data (the processes' rank and number from torchrun's variables)."""
    (record,) = calc_metrics(network, None, "fid1k_full", device="cpu", cache_dir=cache, progress=False)
    return record["results"]["fid1k_full"]


def test_two_quick_ctrl_c_are_one(tmp_path):
    """Pressed twice within 2 s: still one Ctrl-C (torch's agent, had it seen the second, would have stopped the
    processes with SIGTERM, without a snapshot)."""
    status, run_dir = signalled_run(tmp_path, True, signal.SIGINT, [], again_after=0.5)
    lines = (run_dir / "log.txt").read_text().splitlines()
    assert status == 130 and "Interrupted: writing a final snapshot before exiting" in lines and lines[-1] == "Stopped."


def test_sigterm_to_the_launcher_stops_every_process_with_one_line_each(tmp_path):
    status, run_dir = signalled_run(tmp_path, False, signal.SIGTERM, [])
    printed = (tmp_path / "out.txt").read_text()
    assert status == 1 and "Traceback" not in printed, printed[-3000:]
    said = [line for line in printed.splitlines() if "stopped by SIGTERM from the launcher or the system at step " in line]
    if len(said) == 1:  # both at the same step: the launcher's line says it for both
        assert said[0].startswith("Error: ") and said[0] == printed.rstrip().splitlines()[-1]
    else:
        assert [line.split(":")[0] for line in said] == ["Error (process 0)", "Error (process 1)"], said
        assert printed.rstrip().endswith("Error: stopped by SIGTERM: the processes were stopped too, each saying where (above)")
    assert (run_dir / "log.txt").read_text().splitlines()[-1] == "Failed."


def session_processes(session: int) -> list[int]:
    """The processes alive in a session (Linux: from /proc)."""
    alive = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError):
            if os.getsid(int(entry.name)) == session:
                alive.append(int(entry.name))
    return alive


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="lists processes through /proc (Linux)")
def test_processes_whose_launcher_was_killed_stop_as_ctrl_c_stops_them(tmp_path):
    """A SIGKILLed launcher (out of memory, `kill -9`) passes nothing on, and where SIGINT is ignored (nohup) the
    SIGINT that torch has Linux send its processes then is lost too: they notice that the launcher is gone and stop
    with a final snapshot instead of training on unseen; multiprocessing's resource tracker then ends too, without
    a warning about the semaphores it cleans up."""
    cmd = [sys.executable, "-m", "stylegan2", "train", "--gpus=2", *TINY_RUN, "--kimg", "100",
           "--outdir", str(tmp_path / "runs")]
    with open(tmp_path / "out.txt", "w") as out:
        launcher = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ, OMP_NUM_THREADS="1"),
                                    start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        try:
            wait_for(tmp_path / "runs", launcher)
            (run_dir,) = (tmp_path / "runs").iterdir()
            wait_for(run_dir / "network-snapshot-000000-008.safetensors", launcher)
            launcher.kill()
            assert launcher.wait(timeout=60) == -signal.SIGKILL
            deadline = time.monotonic() + 60
            while session_processes(launcher.pid) and time.monotonic() < deadline:
                time.sleep(0.5)
            assert session_processes(launcher.pid) == [], "the launched processes went on without their launcher"
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(launcher.pid, signal.SIGKILL)
    printed = (tmp_path / "out.txt").read_text()
    # The first process to notice asks for the stop, which the other one takes at the same step, noticed or not.
    assert f"The launcher (process {launcher.pid}) is gone: stopping" in printed, printed[-3000:]
    assert "Traceback" not in printed and "leaked" not in printed, printed[-3000:]
    lines = (run_dir / "log.txt").read_text().splitlines()
    assert "Interrupted: the launcher is gone (killed?); writing a final snapshot before exiting" in lines, lines[-5:]
    assert lines[-1] == "Stopped."


SLEEPING_LAUNCH = """
import sys, time
from stylegan2.training.launch import LaunchError, launch_local
try:
    launch_local(2, time.sleep, 60)
except LaunchError as err:
    sys.exit(f"Error: {err}")
"""


def test_sigterm_before_the_processes_could_say_where_is_one_plain_line():
    """Processes that SIGTERM ends outside a training loop (clustering, say) leave no word: none is promised."""
    process = subprocess.Popen([sys.executable, "-c", SLEEPING_LAUNCH], stderr=subprocess.PIPE, text=True)
    time.sleep(8)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1 and err.strip().splitlines()[-1] == "Error: stopped by SIGTERM: the processes were stopped too"


LINGERING = """
import atexit, pathlib, time

def finish(folder):  # returns at once, then takes seconds to exit (torch's teardown, say), saying when it is exiting
    def exiting():
        pathlib.Path(folder, f"exiting-{time.monotonic_ns()}").touch()
        time.sleep(60)
    atexit.register(exiting)
    return 1
"""
FINISHED_THEN_LINGERING = """
import sys
from lingering import finish
from stylegan2.training.launch import LaunchError, SignalledAfterFinishing, launch_local
try:
    launch_local(2, finish, sys.argv[1])
except SignalledAfterFinishing as err:
    sys.exit(f"finished: {err}")
except LaunchError as err:
    sys.exit(f"Error: {err}")
"""


def test_a_sigterm_while_finished_processes_exit_is_told_apart_from_a_stop(tmp_path):
    """A job ended just after its processes finished their work (a run that logged Done.) must not read as a failure."""
    (tmp_path / "lingering.py").write_text(LINGERING)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    process = subprocess.Popen([sys.executable, "-c", FINISHED_THEN_LINGERING, str(tmp_path)], stderr=subprocess.PIPE,
                               text=True, env=env)
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("exiting-*"))) < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert err.strip().splitlines()[-1] == "finished: stopped by SIGTERM after every process had finished its work", err


def test_the_launcher_leaves_this_processs_signal_handlers_as_they_were():
    """torch's agent installs its own; left behind, a later Ctrl-C here would raise its SignalException."""
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    launch_local(2, report_rank)
    assert {sig: signal.getsignal(sig) for sig in before} == before


def children(parent: int) -> list[int]:
    """The stylegan2 processes `parent` started (Linux: from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"stylegan2" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="lists processes through /proc (Linux)")
def test_a_stop_on_request_under_plain_torchrun_is_not_a_failure_to_restart(tmp_path):
    """torchrun takes exit status 130 for a failed process: with --max-restarts it restarted the run after the final
    snapshot (into the scheduler's SIGKILL), without it it printed ChildFailedError and exited 1."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--max-restarts=1",
           "-m", "stylegan2", "train", *TINY_RUN, "--kimg", "100", "--resume", "auto", "--outdir", str(tmp_path / "runs")]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with open(tmp_path / "out.txt", "w") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            wait_for(tmp_path / "runs", process)
            while not (made := [path for path in (tmp_path / "runs").iterdir() if path.is_dir()]):  # not the start claim
                time.sleep(0.2)
            (run_dir,) = made
            wait_for(run_dir / "network-snapshot-000000-008.safetensors", process)
            workers = children(process.pid)
            assert len(workers) == 2, workers
            for pid in workers:  # a scheduler's warning, passed to the workers
                os.kill(pid, signal.SIGUSR1)
            status = process.wait(timeout=120)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    printed = (tmp_path / "out.txt").read_text()
    assert status == 0 and "ChildFailedError" not in printed and "Restarting" not in printed, printed[-3000:]
    assert "Exit status 0: torchrun would take 130 for a failed process" in printed
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [run_dir.name]  # no restart into a second run
    assert (run_dir / "log.txt").read_text().splitlines()[-1] == "Stopped."


def test_with_stylegan2_sigterm_stop_a_sigterm_to_the_launcher_stops_with_a_final_snapshot(tmp_path, monkeypatch):
    """A SLURM preemption is a SIGTERM, then SIGKILL after the grace time: opted in, it costs no steps."""
    monkeypatch.setenv("STYLEGAN2_SIGTERM", "stop")
    status, run_dir = signalled_run(tmp_path, False, signal.SIGTERM, [])
    printed = (tmp_path / "out.txt").read_text()
    assert status == 130 and "Traceback" not in printed and "Error" not in printed, printed[-3000:]
    lines = (run_dir / "log.txt").read_text().splitlines()
    assert "Interrupted: writing a final snapshot before exiting" in lines and lines[-1] == "Stopped."


def test_a_resume_on_two_processes_with_the_path_length_penalty_is_exact(tmp_path):
    """Each process tracks its own path-length mean (and, within a tick, w_avg): snapshots kept rank 0's only, so a
    resume on two processes with the GPU presets' penalty drifted from the uninterrupted run (reproducibility QA H1)."""
    from stylegan2.training.start import train_process

    data = "builtin:shapes?n=64"
    run = dict(outdir=str(tmp_path / "a"), kimg=0.048, tick=0.016, snap=1, batch=8, cbase=128, cmax=16, map=2, workers=0,
               aug="noaug", clusters=0, pl_weight=2.0, seed=3)
    first, _ = launch_local(2, train_process, data, "cpu", "cpu", run, 600.0, ["the launcher's"])
    assert (first / "log.txt").read_text().splitlines()[1] == "note: the launcher's"  # what it showed, kept in the log
    middle = first / "network-snapshot-000000-016.safetensors"
    assert len(load_checkpoint(middle).training_state["per_process"]["pl_mean"]) == 2
    again, _ = launch_local(2, train_process, data, "cpu", "cpu", dict(run, outdir=str(tmp_path / "b"), resume=str(middle)),
                            600.0)
    ends = [load_checkpoint(folder / "network-snapshot-000000-048.safetensors") for folder in (first, again)]
    for name, net in ends[0].networks.items():
        for key, value in net.state_dict().items():
            assert torch.equal(value, ends[1].networks[name].state_dict()[key]), f"{name}.{key}"
