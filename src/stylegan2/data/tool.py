"""The dataset tool: turn images from any source into NVIDIA's training zip (uncompressed PNGs + dataset.json)."""

import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image

from ..models.aspect import ASPECTS, MAX_RESOLUTION, SQUARE, aspect_of, image_size
from ..utils.files import OutputAppearedError, commit, create_temp, free_space_short, remove_stale_temps
from ..utils.notes import warn
from ..utils.progress import progress_bar
from ..utils.text import first_names
from .errors import DatasetError, DatasetOptionError
from .files import LABELS_FILE, FileSource, all_named, skipped_text
from .image_source import ImageSource, SkippedImage
from .images import ImageFileError, check_side, pad_center
from .sources import open_source

TRANSFORMS = ("center-crop", "center-crop-wide", "letterbox")
RESIZE_FILTERS = {"lanczos": PIL.Image.Resampling.LANCZOS, "box": PIL.Image.Resampling.BOX}


@dataclass(frozen=True)
class ConvertSummary:
    """What the dataset tool wrote."""

    dest: Path
    num_images: int
    resolution: int  # the shorter side
    num_channels: int
    has_labels: bool
    skipped: tuple[SkippedImage, ...]  # the images skip_bad left out as unusable (damaged, ...), and why
    num_dropped: int  # images too small or too wide for center-crop-wide
    width: int
    height: int
    num_unlabelled: int = 0  # images without a label in the source's labels, left out with skip_bad
    class_names: tuple[str, ...] = ()  # the folder of each class, by index, with labels_from_folders
    skipped_list: Path | None = None  # the file listing `skipped`, written when their note cannot name them all

    @property
    def num_skipped(self) -> int:
        """How many images skip_bad left out as unusable."""
        return len(self.skipped)

    def __str__(self) -> str:
        kind = "grayscale" if self.num_channels == 1 else "RGB"
        labels = "with labels" if self.has_labels else "without labels"
        if self.class_names:
            named = [f"{index} {name}" for index, name in enumerate(self.class_names)]
            labels = (f"labelled by folder as {len(named)} classes ({first_names(named, 10)}; "
                      f"the names are class_names in its {LABELS_FILE})")
        unlabelled = f" and {self.num_unlabelled} unlabelled" if self.num_unlabelled else ""
        return (
            f"Wrote {self.num_images} {kind} images at {self.width}x{self.height} {labels} to {self.dest} "
            f"(skipped {self.num_skipped} unusable{unlabelled}, dropped {self.num_dropped} by the transform)"
        )


def _to_pil(image: np.ndarray) -> PIL.Image.Image:
    """A uint8 [H, W, C] array as a PIL image of mode L (C = 1) or RGB (C = 3)."""
    return PIL.Image.fromarray(image.squeeze(2) if image.shape[2] == 1 else image)


def _resize(image: np.ndarray, width: int, height: int, resample: PIL.Image.Resampling) -> np.ndarray:
    """Resize a uint8 [H, W, C] image to [height, width, C] with a PIL filter."""
    if image.shape[:2] == (height, width):
        return image
    resized = _to_pil(image).resize((width, height), resample)
    return np.asarray(resized).reshape(height, width, -1)


def check_size(width: int, height: int) -> None:
    """Refuse output sizes no network makes: sides powers of two >= 4, square, 2:1 or 1:2 (width:height), and
    the shorter side at most MAX_RESOLUTION (training refuses larger datasets)."""
    for option, side in (("--width", width), ("--height", height)):
        check_side(option, side, maximum=None)  # the shorter side's limit below, with the sizes to pass instead
    if aspect_of(height, width) is None:
        raise DatasetOptionError(f"--width {width} --height {height}: the aspect must be {', '.join(ASPECTS)} (width:height); "
                           "crop or letterbox to one of them (--transform center-crop or letterbox)")
    if min(width, height) > MAX_RESOLUTION:
        scale = min(width, height) // MAX_RESOLUTION
        raise DatasetOptionError(f"--width {width} --height {height}: the networks go up to {MAX_RESOLUTION} px on the shorter "
                           f"side, so training would refuse these images; pass at most --width {width // scale} "
                           f"--height {height // scale}")


def default_size(height: int, width: int, where: str) -> tuple[int, int]:
    """(height, width) to write when no size is given, from the first image: its size rounded up to powers of two.

    A 2:1 or 1:2 image keeps its aspect, as training opens a folder of such images; any other image sets a
    square of its longer side. Sizes training would refuse (shorter side above MAX_RESOLUTION) are refused.
    """
    aspect = aspect_of(height, width)
    side = max(height, width) if aspect in (None, SQUARE) else min(height, width)
    side = max(4, 1 << (side - 1).bit_length())
    size = image_size(side, SQUARE if aspect is None else aspect)
    if side > MAX_RESOLUTION:
        raise DatasetError(f"{where} is {width}x{height}, so the default output is {size[1]}x{size[0]}, but the networks "
                           f"go up to {MAX_RESOLUTION} px on the shorter side; pass --resolution {MAX_RESOLUTION} (or "
                           "--width/--height) with --transform center-crop or letterbox")
    return size


def fit_image(
    image: np.ndarray, height: int, width: int, transform: str | None, resample: PIL.Image.Resampling,
    band_height: int | None = None,
) -> np.ndarray | None:
    """Bring a uint8 [h, w, C] image to [height, width, C]; None when center-crop-wide drops it.

    None: keep images of the right size and pad smaller ones with black (the caller refuses larger ones).
    center-crop: crop the largest centred window of the target's aspect, then resize.
    letterbox: resize the whole image to fit inside, keeping its aspect, and pad with black.
    center-crop-wide (square targets): crop the centred band of aspect width:band_height (default 2:1), resize
    it to [band_height, width] and centre it on a black square; images narrower than `width` or wider than the
    band are dropped.
    """
    h, w = image.shape[:2]
    if transform is None:
        return pad_center(image, height, width)
    if transform == "center-crop":
        scale = _crop_scale(h, w, height, width)
        crop_h, crop_w = max(1, round(height * scale)), max(1, round(width * scale))
        top, left = (h - crop_h) // 2, (w - crop_w) // 2
        return _resize(image[top : top + crop_h, left : left + crop_w], width, height, resample)
    if transform == "letterbox":
        scale = _letterbox_scale(h, w, height, width)
        fit_h, fit_w = max(1, round(h * scale)), max(1, round(w * scale))
        return pad_center(_resize(image, fit_w, fit_h, resample), height, width)
    band_height = band_height or height // 2
    band = w * band_height // width  # the band's rows in the image
    if w < width or h < band:
        return None
    top = (h - band) // 2
    return pad_center(_resize(image[top : top + band], width, band_height, resample), height, width)


def _crop_scale(h: int, w: int, height: int, width: int) -> float:
    """Image pixels per output pixel of center-crop's window: the largest of the target's aspect."""
    return min(h / height, w / width)


def _letterbox_scale(h: int, w: int, height: int, width: int) -> float:
    """Output pixels per image pixel of letterbox: the whole image fits inside."""
    return min(height / h, width / w)


def enlargement(h: int, w: int, height: int, width: int, transform: str | None) -> float:
    """How many times `fit_image` enlarges an [h, w] image to [height, width] (1 when it does not)."""
    if transform == "center-crop":
        return max(1.0, 1 / _crop_scale(h, w, height, width))
    if transform == "letterbox":
        return max(1.0, _letterbox_scale(h, w, height, width))
    return 1.0  # no transform pads; center-crop-wide drops images narrower than the output


ENLARGED_NOTE = 2.0  # images enlarged more than this many times are named: they come out blurred


def _note_free_space(dest: Path, most: int, count: int, shape: tuple[int, ...]) -> None:
    """A note, at the first image, when the zip may not fit: it is written for minutes or hours before a full disk
    would stop it. `most`: the bytes of the raw pixels, which PNG rarely exceeds."""
    free = free_space_short(dest.resolve().parent, most)
    if free is not None:
        warn(f"{dest}: the zip may take up to {most / 1e9:.3g} GB ({count:,} PNGs of {'x'.join(map(str, shape))}) and "
             f"its disk has {free / 1e9:.3g} GB free; a full disk stops it with nothing written")


def _size_options(width: int, height: int, nvidia_size: bool) -> str:
    """The options that ask for this output size: --resolution N for a square, unless NVIDIA's --width and --height
    gave it, else --width W --height H."""
    return f"--resolution {width}" if width == height and not nvidia_size else f"--width {width} --height {height}"


def _too_large(where: str, image: np.ndarray, width: int, height: int, size: str, first: str | None) -> DatasetError:
    """Refuse an image larger than the output when no transform is given: `size` gives the output's options, and
    `first` names the image that set its size (None: the options did)."""
    h, w = image.shape[:2]
    if first is None:
        return DatasetError(f"{where} is {w}x{h}, larger than {size}; pass --transform center-crop (or letterbox) to fit it")
    return DatasetError(f"{where} is {w}x{h}, larger than the {width}x{height} that the first image ({first}) set; pass "
                        f"{size} --transform center-crop (or letterbox) to fit every image to one size")


def _png_bytes(image: np.ndarray) -> bytes:
    """Encode a uint8 [H, W, C] image as an uncompressed PNG (fast to decode during training)."""
    buffer = io.BytesIO()
    _to_pil(image).save(buffer, format="png", compress_level=0)
    return buffer.getvalue()


def _label_json(label: np.ndarray) -> int | list[float]:
    """A label as dataset.json stores it: class index, or list of floats."""
    return int(label) if label.ndim == 0 else [float(x) for x in label]


def _source_labels(src: ImageSource, labels_from_folders: bool, skip_bad: bool) -> tuple[np.ndarray | None, Any, int | None]:
    """The labels to write, the class names (the folders' with labels_from_folders, else what the source records:
    its dataset.json's "class_names") and the number of classes (None: not classes, or not known up front); with
    skip_bad, reading a source's labels leaves out its unlabelled images."""
    if not labels_from_folders:
        labels = src.labels(required=False, skip_bad=skip_bad)
        return labels, src.class_names, src.num_classes
    if not isinstance(src, FileSource):
        raise DatasetError(f"--labels-from-folders: {src.location} is not a folder or zip of images, so it has no class "
                           "folders; leave out --labels-from-folders")
    labels, folders = src.folder_labels()
    return labels, folders, len(folders)


def _labels_meta(written: list | None, class_names: Any, num_classes: int | None) -> dict:
    """dataset.json's contents: the labels, the class names (kept as the source has them), and the number of classes
    with class labels where it says more than the labels do (the source's top classes missing from the images
    written, as --max-images may leave) or where class names are kept (so the two travel together)."""
    meta: dict = {"labels": written}
    if class_names is not None:
        meta["class_names"] = class_names
    classes = [label for _, label in written or () if isinstance(label, int)]
    if classes and num_classes is not None and (num_classes > max(classes) + 1 or class_names is not None):
        meta["num_classes"] = num_classes
    return meta


def _check_wide_band(width: int, height: int) -> None:
    """Refuse --width/--height for center-crop-wide, where (as in NVIDIA's dataset_tool) they give the band's aspect
    and the output is a square of side --width."""
    check_side("--width", width)
    if not 1 <= height <= width:
        raise DatasetOptionError(f"--height {height}: with --transform center-crop-wide it is the height of the band the "
                           f"image is cropped to (width:height, as in NVIDIA's dataset_tool), so it must be from 1 "
                           f"to --width {width}")


def _check_options(
    dest: Path, resolution: int | None, width: int | None, height: int | None, transform: str | None,
    resize_filter: str, max_images: int | None, force: bool,
) -> tuple[int | None, int | None, int | None]:
    """Refuse bad options before any work; returns the output (width, height), or (None, None) for the default, and
    center-crop-wide's band height given as --height (else None)."""
    if transform is not None and transform not in TRANSFORMS:
        raise DatasetOptionError(f"transform must be one of {', '.join(TRANSFORMS)} or None, got {transform!r}")
    if resize_filter not in RESIZE_FILTERS:
        raise DatasetOptionError(f"resize_filter must be one of {', '.join(RESIZE_FILTERS)}, got {resize_filter!r}")
    if (width is None) != (height is None):
        raise DatasetOptionError("--width and --height go together: pass both (or --resolution for square images)")
    if width is not None and resolution is not None:
        raise DatasetOptionError("pass --resolution (square) or --width and --height, not both")
    band_height = None
    if width is not None and transform == "center-crop-wide":
        _check_wide_band(width, height)
        band_height, height = height, width
    elif width is not None:
        check_size(width, height)
    elif resolution is not None:
        check_side("--resolution", resolution)
        width = height = resolution
    elif transform is not None:
        raise DatasetOptionError(f"--transform {transform} needs --resolution (or --width and --height)")
    if max_images is not None and max_images < 1:
        raise DatasetOptionError(f"--max-images must be >= 1, got {max_images}")
    if dest.suffix.lower() != ".zip":
        raise DatasetOptionError(f"{dest}: the destination must be a .zip file")
    if dest.exists() and not force:
        raise DatasetError(f"{dest} already exists; choose another --dest or pass --force to overwrite it")
    return width, height, band_height


def _write_error(dest: Path, err: OSError) -> DatasetError:
    """A one-line error for a failed write, naming --dest and the reason rather than our temporary file."""
    in_the_way = next((folder for folder in reversed(dest.parents) if folder.exists() and not folder.is_dir()), None)
    if in_the_way is not None:
        reason = f"{in_the_way} is a file, not a folder"
    else:
        reason = (err.strerror or str(err)).lower()
    return DatasetError(f"--dest {dest}: cannot write it ({reason}); choose another --dest")


def _create_temp_beside(dest: Path) -> tuple[int, Path]:
    """Create dest's folder and a temporary beside dest to write into (fd, path), clearing our stale ones."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(dest.parent, legacy_names={dest.name})  # left by an earlier run that was killed
        return create_temp(dest)  # mode 0666 minus the umask, like any new file
    except OSError as err:
        raise _write_error(dest, err) from None


def _write_skipped_list(dest: Path, skipped: list[SkippedImage]) -> Path | None:
    """Write the images skip_bad left out, a line 'PATH<TAB>REASON' each, beside the zip as `<stem>.skipped.txt`, or
    `<stem>.skipped-1.txt`, ... where that name is taken (a file is never replaced); its path, or None (with a note)
    when it cannot be written: the zip is written already."""
    number = 0
    while True:
        path = dest.with_name(f"{dest.stem}.skipped{f'-{number}' if number else ''}.txt")
        try:
            with open(path, "x", encoding="utf-8", errors="surrogateescape") as file:  # a name's undecodable bytes
                file.writelines(f"{image.where}\t{image.reason}\n" for image in skipped)
            return path
        except FileExistsError:
            number += 1
        except OSError as err:
            warn(f"{path}: cannot write the list of skipped images ({(err.strerror or str(err)).lower()})")
            return None


def _entry(name: str) -> zipfile.ZipInfo:
    """A zip entry dated 1980-01-01 (zip's first date), not now: the same images give the same zip, byte for byte."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o600 << 16  # as writestr(name, ...) marks its entries
    return info


def convert_dataset(
    source: str | os.PathLike,
    dest: str | os.PathLike,
    *,
    resolution: int | None = None,
    width: int | None = None,
    height: int | None = None,
    transform: str | None = None,
    resize_filter: str = "lanczos",
    max_images: int | None = None,
    skip_bad: bool = False,
    labels_from_folders: bool = False,
    force: bool = False,
    progress: bool = False,
) -> ConvertSummary:
    """Write `source` (any spec `open_source` takes) as a training zip at `dest`.

    The zip holds `00000/img00000000.png`, ... and `dataset.json` with the source's labels (or
    `{"labels": null}`), in NVIDIA's layout. The images are `resolution` square, or `width` x `height`
    (2:1 or 1:2, for non-square networks); by default the first image's size rounded up to powers of
    two: 2:1 or 1:2 when it is (as training opens such images), else a square of its longer side
    (smaller images are padded with black, and a warning counts them). With center-crop-wide,
    `width` and `height` are NVIDIA's: the band's aspect, for squares of side `width`. Labels that do not
    match the images stop it, or with `skip_bad` unlabelled images are left out, as unusable ones are (damaged, of a
    pixel format not read, ...: `ConvertSummary.skipped` says which and why, and when their note cannot name them all,
    `<dest stem>.skipped.txt` beside the zip lists them).
    Grayscale images are written as RGB when any image is RGB (a warning counts them). `labels_from_folders`
    labels a folder or zip of class folders by folder instead: classes 0, 1, ... in sorted order of the folders'
    names, which dataset.json keeps as "class_names", with "num_classes" (the number of folders, also when
    `max_images` leaves out the last classes' images). A source's own "class_names" are kept.
    Written to a temporary file, then renamed, so `dest` is never half-written; the source is only read. Without
    `force`, a file that appeared at `dest` while this ran is left alone and the zip is kept beside it (dest-1.zip).
    """
    dest = Path(dest)
    nvidia_size = width is not None  # NVIDIA's --width/--height, with which their tool resizes smaller images
    width, height, band_height = _check_options(dest, resolution, width, height, transform, resize_filter, max_images,
                                                force)
    src = open_source(source, resolution=None if width is None else max(width, height))
    if isinstance(src, FileSource) and not src.is_zip:  # NVIDIA's order, so that --max-images keeps the same images
        src.sort_by_folder()
    if Path(getattr(src, "path", "")).resolve() == dest.resolve():
        raise DatasetError(f"{dest}: the destination is the source; choose another --dest")
    num_listed = len(src)
    labels, class_names, num_classes = _source_labels(src, labels_from_folders, skip_bad)
    unlabelled = num_listed - len(src)
    resample = RESIZE_FILTERS[resize_filter]
    total = len(src) if max_images is None else min(len(src), max_images)
    channels = 3 if src.has_color() else 1
    size_set_by = None  # the image that set the output size, when no option did

    fd, tmp_path = _create_temp_beside(dest)
    written: list[list] = []
    skipped: list[SkippedImage] = []
    promoted: list[str] = []  # grayscale images written as RGB
    transparent: list[str] = []  # images whose transparency was dropped
    enlarged: list[tuple[str, float]] = []  # images the transform enlarged more than ENLARGED_NOTE times
    dropped_names: list[str] = []  # images center-crop-wide left out
    dropped = padded = 0
    black = 0.0  # the largest share of an image that padding made black
    try:
        with os.fdopen(fd, "wb") as tmp_file, zipfile.ZipFile(tmp_file, "w", compression=zipfile.ZIP_STORED) as out:
            for index in progress_bar(range(len(src)), show=progress, total=total, desc="dataset", unit="img"):
                if len(written) == total:
                    break
                where = src.describe(index)
                try:
                    image, had_transparency = src.load_flattened(index)
                except ImageFileError as err:
                    if not skip_bad:
                        raise
                    skipped.append(SkippedImage(where, err.reason))
                    continue
                if had_transparency:
                    transparent.append(where)
                if width is None:
                    height, width = default_size(*image.shape[:2], where)
                    size_set_by = where
                if transform is None and image.shape[:2] != (height, width):
                    if image.shape[0] > height or image.shape[1] > width:
                        raise _too_large(where, image, width, height, _size_options(width, height, nvidia_size),
                                         size_set_by)
                    padded += 1
                    black = max(black, 1 - image.shape[0] * image.shape[1] / (height * width))
                factor = enlargement(*image.shape[:2], height, width, transform)
                image = fit_image(image, height, width, transform, resample, band_height)
                if image is None:
                    dropped += 1
                    dropped_names.append(where)
                    continue
                if factor > ENLARGED_NOTE:
                    enlarged.append((where, factor))
                if image.shape[2] < channels:
                    image = np.repeat(image, channels, axis=2)  # [H, W, 1] -> [H, W, 3]
                    promoted.append(where)
                name = f"{len(written) // 1000:05d}/img{len(written):08d}.png"
                out.writestr(_entry(name), _png_bytes(image))
                written.append([name, None if labels is None else _label_json(labels[index])])
                if len(written) == 1:
                    _note_free_space(dest, total * image.nbytes, total, image.shape)
            if not written:
                why = [f"{len(skipped)} skipped as unusable ({skipped_text(skipped)})"] if skipped else []
                why += [f"{dropped} dropped by --transform {transform}"] if dropped else []
                raise DatasetError(f"{src.location}: no images written" + (f": {', '.join(why)}" if why else ""))
            meta = _labels_meta(written if labels is not None else None, class_names, num_classes)
            out.writestr(_entry(LABELS_FILE), json.dumps(meta))
        commit(tmp_path, dest, replace=force, keep=True)  # a file put at dest meanwhile is replaced only with force
    except OutputAppearedError as err:
        raise DatasetError(str(err)) from None
    except OSError as err:
        raise _write_error(dest, err) from None
    finally:
        tmp_path.unlink(missing_ok=True)
    skipped_list = None if all_named(skipped) else _write_skipped_list(dest, skipped)
    if skipped:
        listed = f"; all are listed in {skipped_list}" if skipped_list else ""
        warn(f"skipped {len(skipped)} image(s): {skipped_text(skipped)}{listed}")
    if dropped_names:
        warn(f"--transform {transform} left out {len(dropped_names)} image(s) narrower than {width} px or "
             f"shorter than its band: {first_names(dropped_names)}")
    if enlarged:  # a thumbnail stretched to the output size is a blur the network learns
        most = max(factor for _, factor in enlarged)
        warn(f"--transform {transform} enlarged {len(enlarged)} image(s) more than {ENLARGED_NOTE:g} times (up "
             f"to {most:.3g} times), which blurs them: {first_names([name for name, _ in enlarged])}")
    if transparent:  # the colour under a transparent pixel is whatever the file stored there
        warn(f"dropped the transparency of {len(transparent)} image(s), keeping the colour stored under it: "
             f"{first_names(transparent)}")
    if promoted:
        warn(f"wrote {len(promoted)} grayscale image(s) as RGB, as other images are RGB: "
             f"{first_names(promoted)}")
    if padded:  # as asked (MNIST's 28 px to --resolution 32), or photos framed in black: say how much, and how to resize
        nvidia = " (NVIDIA's dataset_tool, given --width and --height, resizes them)" if nvidia_size else ""
        warn(f"padded {padded} image(s) smaller than {width}x{height} with black borders (up to {black:.0%} "
             f"of the image){nvidia}; to scale them to {width}x{height} instead, pass "
             f"{_size_options(width, height, nvidia_size)} --transform center-crop (or letterbox)")
    return ConvertSummary(dest, len(written), min(width, height), channels, labels is not None, tuple(skipped), dropped,
                          width, height, unlabelled, tuple(class_names) if labels_from_folders else (), skipped_list)
