"""`stylegan2 dataset`: convert images into a training zip (argument parsing only)."""

import warnings

import click

from stylegan2.data import convert_dataset
from stylegan2.data.errors import SKIP_BAD_OPTION, advise_skip_bad
from stylegan2.data.sources import DATASET_KINDS_TEXT
from stylegan2.data.tool import RESIZE_FILTERS, TRANSFORMS
from stylegan2.models.aspect import MAX_RESOLUTION
from stylegan2.utils.notes import show_note

from .defaults import default_of
from .flags import OptionHintsCommand, UserPath, quiet_option, say, user_error


@click.command("dataset", cls=OptionHintsCommand)
@click.option("--source", required=True, metavar="SRC", type=UserPath(),
              help=f"Images to convert: {DATASET_KINDS_TEXT}.")
@click.option("--dest", required=True, type=UserPath(dir_okay=False), help="Output .zip.")
@click.option("--resolution", type=int, help=f"Output size, a power of two up to {MAX_RESOLUTION} [default: the first image's "
              "size rounded up to powers of two; 2:1 and 1:2 images stay so, others give a square].")
@click.option("--width", type=int, help="Output width, with --height: 2:1 or 1:2 images (powers of two) for non-square networks.")
@click.option("--height", type=int, help="Output height, with --width. With center-crop-wide, as NVIDIA's: the band's "
              "height (the band is width:height, the output a square of side --width).")
@click.option("--transform", type=click.Choice(TRANSFORMS),
              help="Fit larger images: center-crop to the output's aspect, letterbox (pad with black), or NVIDIA's "
              "center-crop-wide (a band padded to a square). Without one, smaller images are padded with black.")
@click.option("--resize-filter", type=click.Choice(list(RESIZE_FILTERS)), default=default_of(convert_dataset, "resize_filter"),
              show_default=True, help="How --transform resizes images: lanczos (sharp, as NVIDIA's tool) or box (an "
              "average of the pixels each output pixel covers).")
@click.option("--max-images", type=click.IntRange(min=1),
              help="Stop after writing this many images, taken in path order (from class folders, the first classes').")
@click.option("--skip-bad", is_flag=True,
              help="Skip images that cannot be used (damaged, broken links, unsupported pixel formats) and "
                   "images without a label in dataset.json, with a note naming them by reason instead of failing.")
@click.option("--labels-from-folders", is_flag=True,
              help="Label a folder (or zip) of class folders by folder: classes 0, 1, ... in sorted order of the folder "
              "names, which dataset.json keeps as class_names, with their count as num_classes.")
@click.option("--force", is_flag=True, help="Overwrite --dest if it exists.")
@quiet_option
def dataset_command(
    source: str,
    dest: str,
    resolution: int | None,
    width: int | None,
    height: int | None,
    transform: str | None,
    resize_filter: str,
    max_images: int | None,
    skip_bad: bool,
    labels_from_folders: bool,
    force: bool,
) -> None:
    """Convert images into a training dataset zip (NVIDIA's layout: PNGs + dataset.json with labels).

    \b
    Examples:
      stylegan2 dataset --source mnist.npz --dest mnist32.zip --resolution 32
      stylegan2 dataset --source photos/ --dest cats256.zip --resolution 256 --transform center-crop
      stylegan2 dataset --source photos/ --dest wide.zip --width 512 --height 256 --transform letterbox
      stylegan2 dataset --source cifar-10-python.tar.gz --dest cifar10.zip
      stylegan2 dataset --source pets/ --dest pets64.zip --resolution 64 --labels-from-folders
    """
    try:
        with warnings.catch_warnings(record=True) as caught, advise_skip_bad(SKIP_BAD_OPTION):
            warnings.simplefilter("always")
            summary = convert_dataset(
                source,
                dest,
                resolution=resolution,
                width=width,
                height=height,
                transform=transform,
                resize_filter=resize_filter,
                max_images=max_images,
                skip_bad=skip_bad,
                labels_from_folders=labels_from_folders,
                force=force,
                progress=True,
            )
    except (ValueError, OSError) as err:
        _print_notes(caught)  # what was left out on the way may be why it failed (links outside a folder, say)
        raise user_error(err) from err
    _print_notes(caught)
    say(str(summary))


def _print_notes(caught: list[warnings.WarningMessage]) -> None:
    for warning in caught:
        show_note(warning.message)
