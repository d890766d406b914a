"""The CPU allocator tuning that training applies: it must take effect on glibc and leave memory usable."""

import sys

import pytest
import torch

from stylegan2.training import session
from stylegan2.utils.allocator import keep_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's (Linux)")
def test_keep_freed_memory_takes_effect_and_allocation_still_works():
    assert keep_freed_memory() is True
    for _ in range(3):  # allocate and free activation-sized blocks, as a training step does
        blocks = [torch.ones(2 << 20) * i for i in range(8)]  # 8 MB each
        assert [float(b[-1]) for b in blocks] == [float(i) for i in range(8)]
        del blocks


def test_cpu_training_processes_tune_the_allocator(monkeypatch):
    calls = []
    monkeypatch.setattr(session, "keep_freed_memory", lambda: calls.append(True) or True)
    ctx = session.start_process("cpu", seed=0)
    assert ctx.device.type == "cpu" and calls == [True]
