"""launch_local (the training Python API's several processes) refuses a script's top-level call outside
`if __name__ == "__main__":` before any process starts, as calc_metrics(gpus=N) does: each process imports the
script again and would make the call again."""

import subprocess
import sys
from pathlib import Path


def run_script(folder: Path, text: str) -> subprocess.CompletedProcess:
    (folder / "script.py").write_text(text)
    return subprocess.run([sys.executable, "script.py"], cwd=folder, capture_output=True, text=True, timeout=120)


def test_a_script_calling_launch_local_without_the_main_guard_is_told_to_add_it(tmp_path: Path):
    done = run_script(tmp_path, "import os\n"
                                "from stylegan2.training.launch import launch_local\n"
                                "launch_local(2, os.getpid)\n")
    last = done.stderr.strip().splitlines()[-1]
    assert last == (f"ValueError: {tmp_path / 'script.py'}, line 3: launch_local starts processes that each import "
                    "this script again and would run this line again; put the script's top-level code under "
                    '`if __name__ == "__main__":`'), done.stderr
    assert "bootstrapping" not in done.stderr


def test_a_script_read_from_standard_input_is_told_to_be_saved_as_a_file(tmp_path: Path):
    """Each spawned process would open '<stdin>' as the script to import again (notebook35): one line, no process."""
    script = ("import os\nfrom stylegan2.training.launch import launch_local\n"
              "if __name__ == '__main__':\n    launch_local(2, os.getpid)\n")
    done = subprocess.run([sys.executable, "-"], input=script, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.stderr.strip().splitlines()[-1] == (
        "ValueError: launch_local starts processes that each import the calling script again, and this one was read "
        "from <stdin>, which they cannot read; save it as a file and run that"), done.stderr
    assert "FileNotFoundError" not in done.stderr
