"""The `stylegan2` command: its entry point loads the command line (and torch) itself, so that a Ctrl-C in
those first seconds ends the command as a later one does, without a traceback. It owns the process's signals: SIGTERM
and SIGUSR1 stop any command as Ctrl-C does, and none of them changes the exit status once the command has one."""

from __future__ import annotations

import sys

from .utils.provenance import record_command
from .utils.text import escape_unencodable_output

INTERRUPTED = 130  # the shell's status for a process stopped by SIGINT (training.signals has its own: this module loads before torch)


def main() -> None:
    """Run the `stylegan2` command line: exit 130 without a traceback on a Ctrl-C, even while it loads; 143 after
    SIGTERM, with what it was writing removed; and the status it decided, whatever signal comes while it exits."""
    escape_unencodable_output()
    record_command(sys.argv[1:])
    try:
        from .cli import main as cli
        from .training.signals import ignore_stop_signals, interrupt_on_signals
    except KeyboardInterrupt:
        print("Aborted!", file=sys.stderr)  # what click prints for a Ctrl-C
        raise SystemExit(INTERRUPTED) from None
    interrupt_on_signals(sigterm=True)
    try:
        cli()
    finally:  # a job's end while this process exits (after a run's Done.) must not turn its status into a failure
        ignore_stop_signals(sigterm=True)
