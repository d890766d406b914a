"""The `stylegan2` command: argument parsing only; each subcommand calls a library function."""

from typing import Any

import click

from stylegan2 import __version__
from stylegan2.cli.flags import WholeSummariesGroup, group_quiet_option
from stylegan2.training.signals import SignalInterrupt, interrupted_status


class MainGroup(WholeSummariesGroup):
    """The `stylegan2` group: a Ctrl-C in any command ends it with the shell's status for SIGINT (click's own
    handling exits 1), the status `train` and the console entry point give too; SIGTERM with the shell's for it."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as err:
            click.echo(err if isinstance(err, SignalInterrupt) else "Aborted!", err=True)
            raise click.exceptions.Exit(interrupted_status(err)) from None


@click.group(cls=MainGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(version=__version__, package_name="stylegan2")
@group_quiet_option
def main() -> None:
    """StyleGAN2: train, convert, inspect and use style-based GANs."""


from stylegan2.cli.dataset import dataset_command  # noqa: E402

main.add_command(dataset_command)

from stylegan2.cli.metrics import metrics_command  # noqa: E402

main.add_command(metrics_command)

from stylegan2.cli.train import train_command  # noqa: E402

main.add_command(train_command)
from stylegan2.cli.tools import tool_commands  # noqa: E402

for _command in tool_commands:  # generate, mix, video, project, directions
    main.add_command(_command)

from stylegan2.cli.convert import convert_command, info_command  # noqa: E402

main.add_command(convert_command)
main.add_command(info_command)

from stylegan2.cli.swapae import swapae_group  # noqa: E402

main.add_command(swapae_group)

from stylegan2.cli.explore import explore_command  # noqa: E402

main.add_command(explore_command)

from stylegan2.cli.export import export_command  # noqa: E402

main.add_command(export_command)
