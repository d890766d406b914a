"""The `stylegan2` command: its entry point loads the command line (and torch) itself, so that a Ctrl-C in
those first seconds ends the command as a later one does, without a traceback."""

from __future__ import annotations

import signal
import sys

from .utils.provenance import record_command
from .utils.text import escape_unencodable_output

INTERRUPTED = 130  # the shell's status for a process stopped by SIGINT (training.launch has its own: this module loads before torch)


def main() -> None:
    """Run the `stylegan2` command line: exit 130 without a traceback on a Ctrl-C, even while it loads."""
    escape_unencodable_output()
    record_command(sys.argv[1:])
    try:
        from .cli import main as cli
    except KeyboardInterrupt:
        print("Aborted!", file=sys.stderr)  # what click prints for a Ctrl-C
        raise SystemExit(INTERRUPTED) from None
    try:
        cli()
    except SystemExit as end:
        if end.code in (None, 0) and hasattr(signal, "SIGTERM"):  # done: a job ended while this process exits is no failure
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise
