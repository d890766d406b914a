"""--device selection for every command: defaults, Apple's MPS when present (mocked here), and one-line errors."""

import pytest
import torch
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.io import save_checkpoint
from stylegan2.models import Generator
from stylegan2.utils.device import (
    DeviceError,
    HostCopy,
    check_gpus,
    configure_backends,
    explain_unsupported_ops,
    rank_cuda_device,
    same_device,
    select_device,
    unsupported_op_message,
)
from stylegan2.utils.errors import OptionError


@pytest.fixture
def mac(monkeypatch):
    """A machine whose PyTorch has a usable MPS backend and no CUDA."""
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: True)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_default_is_cuda_when_available_else_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert select_device(None) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert select_device(None) == torch.device("cuda")


def test_mps_is_chosen_only_when_asked_for(mac):
    assert select_device("mps") == torch.device("mps")
    assert select_device(None) == torch.device("cpu")


def test_mps_on_a_build_without_it_says_so(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: False)
    with pytest.raises(DeviceError, match="built without Apple's MPS backend.*--device cpu"):
        select_device("mps")


def test_mps_without_a_usable_apple_gpu_says_so(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: True)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="macOS 12.3"):
        select_device("mps")


def test_cuda_without_a_gpu_points_to_the_devices_there_are(mac):
    with pytest.raises(DeviceError, match="no CUDA device.*--device cpu or --device mps"):
        select_device("cuda")


def test_a_cuda_index_past_the_last_gpu_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert select_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(DeviceError, match="2 CUDA GPU"):
        select_device("cuda:2")


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "xpu"])
def test_unknown_devices_are_named(name):
    with pytest.raises(DeviceError, match=f"--device {name}"):
        select_device(name)


MPS_MISSING_OP = NotImplementedError(
    "The operator 'aten::_upsample_bicubic2d_aa.out' is not currently implemented for the MPS device. If you want "
    "this op to be added in priority during the prototype phase of this feature, please comment on "
    "https://github.com/pytorch/pytorch/issues/77764. As a temporary fix, you can set the environment variable "
    "`PYTORCH_ENABLE_MPS_FALLBACK=1` to use the CPU as a fallback for this op.")
MPS_FLOAT64 = TypeError("Cannot convert a MPS Tensor to float64 dtype as the MPS framework doesn't support float64. "
                        "Please use float32 instead.")


def test_an_op_mps_lacks_becomes_one_line_of_advice():
    message = unsupported_op_message(MPS_MISSING_OP)
    assert "aten::_upsample_bicubic2d_aa.out" in message and "PYTORCH_ENABLE_MPS_FALLBACK=1" in message
    assert "--device cpu" in message and "\n" not in message
    assert "float64" in unsupported_op_message(MPS_FLOAT64)
    assert unsupported_op_message(RuntimeError("CUDA out of memory")) is None


def test_explain_unsupported_ops_rewrites_mps_errors_only():
    with pytest.raises(DeviceError, match="PYTORCH_ENABLE_MPS_FALLBACK"):
        with explain_unsupported_ops():
            raise MPS_MISSING_OP
    with pytest.raises(RuntimeError, match="something else"):
        with explain_unsupported_ops():
            raise RuntimeError("something else")


def test_a_tool_reports_an_op_mps_lacks_in_one_line(mac, monkeypatch, tmp_path):
    def fails_on_mps(*args, **kwargs):
        raise MPS_MISSING_OP

    monkeypatch.setattr("stylegan2.cli.tools.generate_images", fails_on_mps)
    result = CliRunner().invoke(main, ["generate", "--network", str(tmp_path / "G.pkl"), "--seeds", "0", "--device", "mps"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith("Error: ") and "PYTORCH_ENABLE_MPS_FALLBACK=1" in result.output


def test_training_and_tools_refuse_mps_where_torch_has_none(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: False)
    network = tmp_path / "G.safetensors"
    save_checkpoint(network, {"G_ema": Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=8, img_channels=3,
                                                 mapping_kwargs={"num_layers": 1},
                                                 synthesis_kwargs={"channel_base": 64, "channel_max": 8})})
    for command in (["train", "--data", "builtin:shapes?n=8", "--dry-run"],
                    ["generate", "--network", str(network), "--seeds", "0", "--outdir", str(tmp_path)],
                    ["metrics", "--network", str(network), "--data", "builtin:shapes?n=8"]):
        result = CliRunner().invoke(main, [*command, "--device", "mps"])
        assert result.exit_code != 0 and "without Apple's MPS backend" in result.output, command


def test_training_backends_follow_nvidia_tf32_off_unless_allowed():
    # Saved and restored by hand: torch's cuBLAS settings object has no deletable attributes, which
    # some pytest versions' monkeypatch tries at teardown.
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark)
    try:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark = True, True, False
        configure_backends(torch.device("cpu"))  # nothing to set off CUDA
        assert torch.backends.cudnn.allow_tf32 is True
        configure_backends(torch.device("cuda"))
        def settings() -> tuple[bool, bool, bool]:
            return torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark

        assert settings() == (False, False, True)
        configure_backends(torch.device("cuda"), allow_tf32=True, cudnn_benchmark=False)
        assert settings() == (True, True, False)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark = saved


@pytest.mark.parametrize("local_rank, count, expected", [(0, 4, "cuda:0"), (3, 4, "cuda:3"), (2, 1, "cuda:0")])
def test_each_rank_takes_its_local_gpu_or_the_one_it_sees(monkeypatch, local_rank, count, expected):
    """cuda:0 when a scheduler gives each process one GPU (CUDA_VISIBLE_DEVICES per task) while LOCAL_RANK counts on."""
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    assert rank_cuda_device(local_rank, torch.device("cuda")) == torch.device(expected)


def test_a_rank_without_a_gpu_of_its_own_or_a_fixed_gpu_is_refused_by_name(monkeypatch):
    """set_device failed with CUDA's 'invalid device ordinal'; --device cuda:1 put every rank on one GPU (NCCL: duplicate GPU)."""
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(DeviceError, match=r"^LOCAL_RANK 2, but this process sees 2 CUDA GPU\(s\): start at most 2 processes per "
                                          r"node \(torchrun --nproc_per_node\)$"):
        rank_cuda_device(2, torch.device("cuda"))
    with pytest.raises(DeviceError, match=r"^--device cuda:1: with several processes each uses the GPU of its LOCAL_RANK; "
                                          r"pass --device cuda"):
        rank_cuda_device(0, torch.device("cuda:1"))


def test_metrics_refuses_more_processes_than_gpus(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    result = CliRunner().invoke(main, ["metrics", "--network", str(tmp_path / "G.pkl"), "--data", "builtin:shapes",
                                       "--gpus", "2", "--device", "cuda"])
    assert result.exit_code == 1 and "--gpus 2: this machine has 1 CUDA GPU(s)" in result.output, result.output


def test_cuda_and_its_current_index_are_one_device(monkeypatch):
    """load_generator copied a network on cuda:0 on every call with device='cuda': torch.device('cuda') != 'cuda:0'."""
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    assert same_device(torch.device("cuda"), torch.device("cuda:1")) and not same_device(torch.device("cuda"), torch.device("cuda:0"))
    assert same_device(torch.device("cpu"), torch.device("cpu")) and same_device(torch.device("mps"), torch.device("mps:0"))
    assert not same_device(torch.device("cpu"), torch.device("cuda:0"))


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU"))])
def test_a_host_copy_holds_the_value_when_it_was_made(device):
    """The verdicts and stop votes are read a step after they are made; later work must not change them."""
    flag, values = torch.tensor(True, device=device), torch.arange(3.0, device=device)
    copies = HostCopy(flag), HostCopy(values)
    flag.fill_(False)
    values.mul_(10)
    if device == "cuda":
        torch.cuda._sleep(10_000_000)  # more work queued behind the copies
    assert copies[0].tolist() is True and copies[1].tolist() == [0.0, 1.0, 2.0]


def test_gpus_runs_check_the_device_beside_select_device(mac, monkeypatch):
    """--gpus N: more CUDA processes than GPUs, one named GPU, or MPS (one device) are refused; CPU processes are gloo's."""
    with pytest.raises(OptionError, match=r"^--gpus 2: Apple's MPS is one device and has no multi-process backend; drop --gpus$"):
        check_gpus(2, "mps")
    assert check_gpus(2, None) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(DeviceError, match=r"^--gpus 4: this machine has 2 CUDA GPU\(s\)$"):
        check_gpus(4, "cuda")
    with pytest.raises(OptionError, match=r"^--gpus 2 uses cuda:0 to cuda:1; pass --device cuda, not cuda:1$"):
        check_gpus(2, "cuda:1")
    assert check_gpus(2, "cuda") == torch.device("cuda")
