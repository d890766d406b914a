"""`stylegan2 train` with this script's arguments, for tests/training/test_multinode.py: run by torchrun in each
process, or as `stylegan2 train --nnodes` (then again in each process it starts, which imports this script).

With $WEIGHTS_DIR set, every rank also writes the networks it ends with to WEIGHTS_DIR/rank<R>.safetensors,
so the test can compare the ranks (only rank 0 writes the run directory). With $FAIL_RANK, $FAIL_STEP and
$FAIL_SIGNAL (KILL or STOP), that rank sends itself the signal as step FAIL_STEP begins, in the job's
first attempt only (torchrun's restarts run normally): a machine that dies or hangs at a known moment.
"""

import os
import signal
import sys

from safetensors.torch import save_file

from stylegan2.cli import main
from stylegan2.training import session

if os.environ.get("WEIGHTS_DIR"):
    finish = session.TrainingSession.run

    def run_and_save(self: session.TrainingSession, hooks: session.LoopHooks) -> None:
        finish(self, hooks)
        tensors = {f"{name}.{key}": value.detach().cpu().contiguous()
                   for name, module in self.networks.items() for key, value in module.state_dict().items()}
        save_file(tensors, os.path.join(os.environ["WEIGHTS_DIR"], f"rank{self.ctx.rank}.safetensors"))

    session.TrainingSession.run = run_and_save

if os.environ.get("FAIL_RANK"):
    step = session.TrainingSession._step

    def step_or_fail(self: session.TrainingSession, hooks: session.LoopHooks) -> None:
        # The restart count is read here: `stylegan2 train --nnodes` sets a process's variables after it imports this.
        first_attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0"
        if first_attempt and self.ctx.rank == int(os.environ["FAIL_RANK"]) and self.batch_idx == int(os.environ["FAIL_STEP"]):
            os.kill(os.getpid(), getattr(signal, "SIG" + os.environ["FAIL_SIGNAL"]))
        step(self, hooks)

    session.TrainingSession._step = step_or_fail

if __name__ == "__main__":
    main(["train", *sys.argv[1:]])
