"""Tool outputs and inputs: refusing to overwrite, atomic writes, .npz files, video encoding, target images.

Image conversion, grids and PNG writing are in `stylegan2.utils.image`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import zipfile
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import PIL.Image
from PIL import GifImagePlugin

from ..data.errors import DatasetError
from ..data.images import ALPHA_DROPPED, SIXTEEN_BIT_GRAY_MODES, check_size, has_alpha, open_image, to_8bit, upright
from ..io.detect import is_torch_save_file
from ..models.aspect import SQUARE, image_size
from ..utils.files import (
    ArchiveError,
    OutputAppearedError,
    atomic_path,
    atomic_paths,
    commit,
    create_temp,
    folder_blocker,
    new_folders_removed_on_failure,
    remove_stale_temps,
    write_failure,
    writing,
)
from ..utils.image import PIL_MODES, to_pil
from ..utils.notes import warn
from ..utils.npz import load_npz
from .common import ToolError, ToolOptionError

VIDEO_FORMATS = ("auto", "mp4", "gif")
VIDEO_EXTRA_HINT = "MP4 needs imageio and imageio-ffmpeg: pip install \"stylegan2[video]\""
# The command that writes each kind of .npz the tools read (by read_npz's `what`), for the message about a foreign file.
NPZ_WRITERS = {"projected w": "stylegan2 project", "directions": "stylegan2 directions", "codes": "stylegan2 swapae encode"}


class OutputExistsError(FileExistsError):
    """An output file is already there and --force was not given."""


def check_outputs(paths: Sequence[Path], force: bool, option: str = "--outdir") -> None:
    """Refuse, before any work, to overwrite existing outputs unless forced; `option` names where they go. Our stale
    temporaries in the outputs' folders (from a command killed while writing) are removed."""
    for folder in {Path(p).parent for p in paths}:
        remove_stale_temps(folder, legacy_names={Path(p).name for p in paths if Path(p).parent == folder})
    existing = [p for p in paths if os.path.lexists(p)]  # a dangling link too: the commit would meet its name
    broken = next((p for p in existing if not p.exists()), None)
    if broken is not None and not force:
        raise OutputExistsError(f"{broken} is a symbolic link to {os.readlink(broken)}, which does not exist; remove "
                                f"the link, pass --force to replace it (its target is left alone), or choose another {option}")
    if existing and not force:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise OutputExistsError(f"{existing[0]} already exists{more}; pass --force to overwrite, "
                                f"or choose another {option}")
    directories = [p for p in existing if p.is_dir()]
    if directories:
        raise OutputExistsError(f"{directories[0]} is a directory; it cannot be replaced by an output file")
    first_in: dict[Path, Path] = {}  # each folder, in order, with its first output
    for path in paths:
        first_in.setdefault(Path(path).parent, Path(path))
    for folder, first in first_in.items():
        blocker = folder_blocker(folder)
        if blocker is None:
            continue
        if option == "--outdir":
            raise ToolError(f"{option} {folder}: cannot write the outputs there ({blocker}); choose another {option}")
        raise ToolError(f"{option} {first}: cannot write it ({blocker}); choose another {option}")  # the file it names


def check_not_inputs(paths: Sequence[Path], inputs: Sequence[str | os.PathLike], option: str,
                     outputs_option: str = "--outdir") -> None:
    """Refuse, whatever --force says, an output that is one of the input files given by `option`: --force consents to
    replacing earlier outputs, never the image being read (a photo named target.png in project's --outdir)."""
    for path in paths:
        for source in inputs:
            if path.exists() and Path(source).exists() and os.path.samefile(path, source):
                raise ToolError(f"{path}: the destination is the source ({option}); choose another {outputs_option}")


def note_earlier_outputs(paths: Sequence[Path], pattern: str) -> None:
    """Warn when the outputs' folder holds files named like them (`pattern`) that this run does not write: files
    numbered by position (swap_s00_t01.png) would otherwise pass for part of the new outputs."""
    folder, written = Path(paths[0]).parent, set(paths)
    others = sorted(p for p in folder.glob(pattern) if p not in written)
    if others:
        warn(f"{folder} also holds {len(others)} {pattern} file(s) that this run does not write "
             f"(e.g. {others[0].name}), from an earlier one")


def failed_write(err: OSError, outcome: str) -> ToolError:
    """A failed write as one line: the file and why (`write_failure`), then `outcome`, what the user has now; a
    file that appeared meanwhile (OutputAppearedError) in that error's own words."""
    if isinstance(err, OutputAppearedError):
        return ToolError(str(err))
    return ToolError(f"{write_failure(err)}; {outcome}")


def unchanged(paths: Sequence[Path]) -> str:
    """What a failed all-or-nothing write of `paths` leaves: the earlier files as they were, or nothing."""
    earlier = [p.name for p in paths if p.exists()]
    if not earlier:
        return "nothing was written"
    return f"the earlier {', '.join(earlier)} {'is' if len(earlier) == 1 else 'are'} unchanged"


@contextlib.contextmanager
def output_set(paths: Sequence[Path], *, force: bool) -> Iterator[list[Path]]:
    """A temporary for each of `paths`, put in place together or none (utils.files.atomic_paths; without `force` a
    file that appeared meanwhile is left alone); a failed write is one line naming the file and what the user still
    has (failed_write, unchanged)."""
    outcome = unchanged(paths)
    try:
        with atomic_paths(paths, replace=force) as temps:
            yield temps
    except OSError as err:
        raise failed_write(err, outcome) from None


def write_atomically(path: Path, write: Callable[[Path], None], *, replace: bool = True) -> Path:
    """Write through a temporary file next to `path` (same suffix, for format detection), then rename; without
    `replace`, a file that appeared at `path` meanwhile is left alone (OutputAppearedError). Errors name `path`; a
    folder made for it is removed again when the write fails."""
    with new_folders_removed_on_failure(path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
        with writing(path), atomic_path(path, replace=replace) as tmp:
            write(tmp)
    return path


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write plain arrays (loadable with allow_pickle=False) into the file `path`, as it is (not atomically)."""
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def save_npz(path: Path, *, replace: bool = True, **arrays: np.ndarray) -> Path:
    """Save arrays to .npz atomically (plain arrays, loadable with allow_pickle=False); `replace` as write_atomically's."""
    return write_atomically(path, lambda tmp: write_npz(tmp, arrays), replace=replace)


def read_npz(path: str | os.PathLike, option: str, what: str, keys: Sequence[str]) -> tuple[Path, dict[str, np.ndarray]]:
    """The arrays named `keys` that an .npz named by `option` holds (no pickled objects; sizes checked before they
    are read, other arrays never read), or an error naming the file.

    A file that is not an .npz archive, or that holds pickled objects, is called not the writing tool's .npz,
    without NumPy's advice to load it with allow_pickle (which would run code from the file).
    """
    path = Path(path).expanduser()
    writer = NPZ_WRITERS.get(what)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such {what} file ({option})" + (f"; `{writer}` writes one" if writer else ""))
    not_ours = f"{path}: not an .npz written by `{writer}` ({option})" if writer else f"{path}: not a {what} .npz ({option})"
    if not zipfile.is_zipfile(path):
        raise ToolError(f"{not_ours}; it is not a (complete) .npz archive")
    if is_torch_save_file(path):
        raise ToolError(f"{not_ours}; it is a PyTorch file (torch.save, as rosinality's factor.pt and projector "
                        "output are), which is not read here")
    try:
        return path, load_npz(path, keys)
    except ArchiveError as err:
        raise ToolError(f"{err} ({option})") from None
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise ToolError(f"{not_ours}; it holds pickled Python objects, which are never loaded") from err
        raise ToolError(f"{path}: cannot read as a {what} .npz ({option}; {err})") from err
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise ToolError(f"{path}: cannot read as a {what} .npz ({option}; {err})") from err


def mp4_available() -> bool:
    """True when imageio with its ffmpeg binary package is installed."""
    return importlib.util.find_spec("imageio") is not None and importlib.util.find_spec("imageio_ffmpeg") is not None


def video_suffix(video_format: str) -> str:
    """'.mp4' or '.gif' for a requested format; 'auto' picks MP4 when it can be written (`note_gif_fallback` says
    when it cannot)."""
    if video_format not in VIDEO_FORMATS:
        raise ToolOptionError(f"--format must be one of {', '.join(VIDEO_FORMATS)}, got {video_format!r}")
    if video_format == "mp4" and not mp4_available():
        raise ToolError(f"--format mp4: {VIDEO_EXTRA_HINT}; or use --format gif")
    if video_format == "auto":
        return ".mp4" if mp4_available() else ".gif"
    return f".{video_format}"


def note_gif_fallback(video_format: str) -> None:
    """The note that --format auto writes a GIF for want of MP4: given once every check has passed, so that no
    command notes a video it then refuses to write."""
    if video_format == "auto" and not mp4_available():
        warn(f"writing an animated GIF: {VIDEO_EXTRA_HINT} (--format gif: a GIF without this note)")


MAX_GIF_FPS = 50  # a GIF frame lasts whole hundredths of a second, and 1 is played as 10 by browsers


class GifStream:
    """Animated GIF written frame by frame, each with its own palette and every frame kept.

    Pillow's `save_all` would merge identical consecutive frames (e.g. at the turning point of a
    two-seed loop), so the frames are encoded one at a time with its GIF block writers instead.
    """

    def __init__(self, path: Path, fps: float) -> None:
        self.file = open(path, "wb")
        self.fps = fps
        self.frames = 0

    def append(self, image: PIL.Image.Image) -> None:
        frame = image if image.mode == "L" else image.convert("RGB").quantize(256)
        if not self.frames:
            header, _ = GifImagePlugin.getheader(frame, info={"loop": 0})  # loop forever
            self.file.write(b"".join(header))
        # GIF delays are whole hundredths of a second: each frame ends at its exact time rounded, so 30 fps
        # alternates 3 and 4 hundredths and the video lasts as long as asked.
        end, start = (round(100 * t / self.fps) for t in (self.frames + 1, self.frames))
        self.file.write(b"".join(GifImagePlugin.getdata(frame, duration=10 * (end - start), include_color_table=True)))
        self.frames += 1

    def close(self) -> None:
        try:
            self.file.write(b";")  # GIF trailer
        finally:
            self.file.close()


def check_video(path: Path, fps: float) -> None:
    """Refuse a video name that is not .mp4 or .gif, and a GIF faster than browsers play."""
    if path.suffix not in (".mp4", ".gif"):
        raise ToolError(f"{path}: videos are written as .mp4 or .gif")
    if path.suffix == ".gif" and fps > MAX_GIF_FPS:
        raise ToolOptionError(f"--fps {fps:g}: a GIF shows at most {MAX_GIF_FPS} frames a second (browsers play shorter "
                        f"delays at 10); use --fps {MAX_GIF_FPS} or less, or MP4 ({VIDEO_EXTRA_HINT})")


class VideoFile:
    """Appends uint8 frames [H, W, C] to an MP4 (imageio-ffmpeg) or animated GIF written straight into `path`, a
    temporary that the caller commits (`VideoWriter` makes and commits its own; `project` commits it with its set).
    `path` keeps its target's suffix (.mp4 or .gif, see check_video), which picks the format."""

    def __init__(self, path: Path, fps: float) -> None:
        self.num_frames = 0
        if path.suffix == ".mp4":
            import imageio.v2 as imageio  # optional dependency: the `video` extra
            self.stream = imageio.get_writer(path, format="FFMPEG", mode="I", fps=float(fps), codec="libx264",
                                             quality=8, macro_block_size=1, ffmpeg_log_level="error")
        else:
            self.stream = GifStream(path, float(fps))

    def append(self, frame: np.ndarray) -> None:
        """Add one uint8 frame [H, W, C]."""
        if isinstance(self.stream, GifStream):
            self.stream.append(to_pil(frame))
        else:
            self.stream.append_data(np.repeat(frame, 3, axis=2) if frame.shape[2] == 1 else frame[:, :, :3])
        self.num_frames += 1

    def close(self) -> None:
        """Finish the file."""
        self.stream.close()

    def __enter__(self) -> VideoFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        """Finish the file; after an error, as far as it can be (the error raised is the first one)."""
        if kind is None:
            self.close()
            return
        with contextlib.suppress(OSError):
            self.close()


class VideoWriter:
    """A VideoFile written into a temporary beside `path`, which `close` moves into place (atomically; without
    `replace`, a file that appeared at `path` meanwhile is left alone and the video is kept beside it: see commit)."""

    def __init__(self, path: Path, fps: float, *, replace: bool = True) -> None:
        check_video(path, fps)
        self.path, self.replace = path, replace
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with writing(path):
            fd, self.tmp = create_temp(path)  # a name of its own: two videos rendered into one folder never share it
        os.close(fd)
        try:
            self.file = VideoFile(self.tmp, fps)
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise

    @property
    def num_frames(self) -> int:
        return self.file.num_frames

    def append(self, frame: np.ndarray) -> None:
        """Add one uint8 frame [H, W, C]."""
        with writing(self.path):
            self.file.append(frame)

    def close(self) -> Path:
        """Finish the file and move it into place."""
        if self.num_frames == 0:
            self.abort()
            raise ToolError(f"{self.path}: no frames to write")
        try:
            with writing(self.path):
                self.file.close()
                commit(self.tmp, self.path, replace=self.replace, keep=True)
        finally:
            self.tmp.unlink(missing_ok=True)
        return self.path

    def abort(self) -> None:
        """Drop a partly written video (its temporary goes even when finishing the stream fails, as on a full disk)."""
        try:
            with contextlib.suppress(OSError):
                self.file.close()
        finally:
            self.tmp.unlink(missing_ok=True)


def scale_to_8bit(image: PIL.Image.Image, path: Path, from_png: bool) -> PIL.Image.Image:
    """16-bit grayscale scaled to 8 bits as the dataset reader scales it, with a warning; other modes unchanged.
    Floating-point images are refused: their range is unknown."""
    if image.mode == "F":
        raise ToolError(f"{path}: a floating-point image (mode F) has no known range; save it as 8- or 16-bit")
    if image.mode not in SIXTEEN_BIT_GRAY_MODES:
        return image
    try:
        scaled = to_8bit(image, str(path), from_png=from_png)
    except DatasetError as err:
        raise ToolError(str(err)) from None
    warn(f"{path}: 16-bit grayscale scaled to 8 bits")
    return scaled


def load_target_image(path: str | os.PathLike, resolution: int, channels: int, aspect: str = SQUARE) -> np.ndarray:
    """Read an image for projection as uint8 [H, W, C] at the network's size (shorter side `resolution`,
    `aspect` width:height) and channels.

    Images of another aspect are center-cropped to the network's and other sizes resized (Lanczos), each with a warning;
    16-bit grayscale is scaled to 8 bits first.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a directory; give one image file as the target (--target)")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such target image (--target)")
    try:
        with open_image(path) as opened:
            check_size(opened, str(path), advice=" first")
            image = upright(opened).copy()  # a phone's portrait shot, as the user sees it
            from_png = opened.format == "PNG"
    except DatasetError as err:
        raise ToolError(str(err)) from None
    except (OSError, PIL.Image.DecompressionBombError) as err:
        raise ToolError(f"{path}: cannot read as an image ({err})") from err
    mode = PIL_MODES.get(channels)
    if mode is None:
        raise ToolError(f"cannot project onto a network with {channels} image channels (supported: 1, 3, 4)")
    image = scale_to_8bit(image, path, from_png)
    if image.mode != mode:
        # only when some pixel was transparent: an opaque RGBA screenshot loses nothing
        dropped = f" ({ALPHA_DROPPED})" if "A" not in mode and has_alpha(image) else ""
        warn(f"{path}: converted from {image.mode} to {mode} to match the network's {channels} channel(s)"
             f"{dropped}")
        image = image.convert(mode)
    w, h = image.size
    height, width = image_size(resolution, aspect)
    unit = min(w // (width // resolution), h // (height // resolution))  # the largest centred crop of the network's aspect
    crop_w, crop_h = unit * (width // resolution), unit * (height // resolution)
    if (crop_w, crop_h) != (w, h):
        warn(f"{path}: {w}x{h} is not {aspect} (width:height); center-cropped to {crop_w}x{crop_h}")
        left, top = (w - crop_w) // 2, (h - crop_h) // 2
        # Cropped as an array: PIL's crop applies Pillow's own bomb limit again, below a raised $STYLEGAN2_MAX_IMAGE_PIXELS.
        image = PIL.Image.fromarray(np.asarray(image)[top : top + crop_h, left : left + crop_w])
    if image.size != (width, height):
        warn(f"{path}: resized from {image.size[0]}x{image.size[1]} to the network's "
             f"{width}x{height}")
        image = image.resize((width, height), PIL.Image.Resampling.LANCZOS)
    array = np.array(image, dtype=np.uint8)  # a writable copy
    return array[:, :, None] if array.ndim == 2 else array
