"""The `stylegan2` command: argument parsing only; each subcommand calls a library function."""

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="stylegan2")
def main() -> None:
    """StyleGAN2: train, convert, inspect and use style-based GANs."""
