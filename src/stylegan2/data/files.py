"""Image files in a folder tree or a zip archive, with the labels of their dataset.json.

Folders are walked without leaving them (links outside are skipped), and zips are read entry by entry
without extracting them.
"""

import hashlib
import json
import os
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..utils.files import MAX_ZIP_RATIO, ArchiveError, check_zip_entry, open_regular
from ..utils.notes import warn
from ..utils.text import first_names
from .errors import DatasetError, labels_off_advice, skip_bad_advice
from .image_source import ImageSource, SkippedImage
from .images import (
    IMAGE_EXTENSIONS,
    IMAGE_FORMATS,
    ImageFileError,
    decode_flattened,
    decode_image,
    is_image_name,
    read_header,
    unread_images,
)
from .labels import checked_classes, declared_classes, is_unlabelled, labels_array, unlabelled_error

LABELS_FILE = "dataset.json"
LMDB_DATA = "data.mdb"  # the data file of an LMDB database, as LSUN ships its images
OPEN_ERRORS = (OSError, zipfile.BadZipFile, ArchiveError, KeyError, RuntimeError, NotImplementedError)  # opening a file
BROKEN_LINK = "broken symbolic link(s)"  # why skip_bad left a file out, as images.DAMAGED and the others say it
NOT_OPENED = "that could not be opened"
SKIPPED_SHOWN = 5  # the names a note about skipped images shows of each reason


def file_stamp(path: str | os.PathLike) -> tuple[int, int, int, int]:
    """What shows that a file was rewritten, without reading it: size, modification and change times (the change time
    moves with any rewrite, also one that keeps the modification time, as `cp -p` and `rsync -a` do) and inode."""
    info = os.stat(path)
    return info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino


class FileSource(ImageSource):
    """Image files (PNG, JPEG, WebP, ...) in a folder tree or a zip archive, ordered by relative path.

    Labels come from an optional `dataset.json` at the top, as written by NVIDIA's dataset tool:
    {"labels": [["relative/path.png", class_index], ...]} or {"labels": null}, with an optional "num_classes" (the
    label size, when the images lack the top classes) and "class_names" (a record for people, which the dataset tool
    keeps).
    """

    def __init__(self, path: Path):
        self.path = path
        self.location = str(path)
        self.name = path.stem if path.is_file() else path.resolve().name
        self.is_zip = path.is_file()
        self._zip: zipfile.ZipFile | None = None
        self._zip_pid: int | None = None
        self._entries: dict[str, str] = {}  # a zip's names as read here -> as zipfile reads them, where they differ
        if self.is_zip:
            names, self._entries = _zip_names(self._archive(), path)
        else:
            names = _walk_folder(path)
        self.all_files = sorted(n for n in names if is_image_name(n))
        self.files = list(self.all_files)
        self._labels_file = _labels_file(names, self.all_files)
        unread = unread_images(names)
        if not self.files:
            if not self.is_zip and (LMDB_DATA in names or path.name.endswith("_lmdb")):
                raise lmdb_error(path)
            if any(name.endswith(".tfrecords") for name in names):  # NVIDIA's TensorFlow StyleGAN2 datasets
                raise DatasetError(f"{path}: holds TensorFlow .tfrecords, which are not read here; convert the source "
                                   "images with `stylegan2 dataset --source IMAGES --dest DATA.zip` (or train on their folder)")
            if unread:
                raise DatasetError(f"{path}: its {unread} are not read here, and it holds no other images; convert "
                                   "them to JPEG or PNG")
            archives = sorted(name for name in names if name.lower().endswith(".zip"))
            if archives:
                raise DatasetError(f"{path}: holds no images but {archives[0]}, an archive; unzip it, or pass it as "
                                   "the data")
            raise DatasetError(f"{path}: no images found (looked for {IMAGE_FORMATS} files); check the path")
        if unread:
            warn(f"{path}: left out {unread}, which are not read here; convert them to JPEG or PNG")
        stray = sorted(n for n in names if n.rpartition("/")[2] == LABELS_FILE and n != self._labels_file)
        if stray and self._labels_file is None:
            warn(f"{self.where(stray[0])}: not read, as it is not at the top of {path} (nor in the one "
                 f"folder holding every image); move it there, with paths relative to it")

    def sort_by_folder(self) -> None:
        """Order the images folder by folder ('cats/1.png' before 'cats-2/1.png', which a plain string sort puts
        after it), as NVIDIA's dataset tool lists a folder (its training, and zips, sort the plain strings)."""
        self.all_files.sort(key=lambda name: name.split("/"))
        self.files = list(self.all_files)

    def _archive(self) -> zipfile.ZipFile:
        """The zip handle, opened once per process (a handle shared across a fork would race on its offset)."""
        if self._zip is None or self._zip_pid != os.getpid():
            try:
                self._zip = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, OSError) as err:
                raise DatasetError(f"{self.path}: not a readable zip archive ({err}); re-create it") from err
            self._zip_pid = os.getpid()
        return self._zip

    def __getstate__(self) -> dict:
        """Pickle without the zip handle, so DataLoader workers open their own."""
        return dict(self.__dict__, _zip=None, _zip_pid=None)

    def close(self) -> None:
        """Close the zip handle of this process, if open."""
        if self._zip is not None and self._zip_pid == os.getpid():
            self._zip.close()
        self._zip = None

    def _open(self, name: str) -> BinaryIO:
        """Open an image of the source for binary reading (folders: regular files only; zips: readable entries only)."""
        try:
            return self._open_file(name, max_ratio=None)
        except OPEN_ERRORS as err:
            where = self.where(name)
            if not self.is_zip and os.path.islink(self.path / name) and not os.path.exists(self.path / name):
                raise ImageFileError(f"{where}: broken symbolic link to {os.readlink(self.path / name)}, which does "
                                     f"not exist; fix or remove the link, or {skip_bad_advice()}", BROKEN_LINK) from None
            reason = str(err).removeprefix(f"{where}: ")
            raise ImageFileError(f"{where}: cannot open ({reason}); fix or remove it, or {skip_bad_advice()}",
                                 NOT_OPENED) from None

    def _open_file(self, name: str, *, max_ratio: float | None) -> BinaryIO:
        """Open a file of the source for binary reading: a folder's if it is a regular file, a zip's entry if
        `check_zip_entry` passes it (`max_ratio`: the most its declared size may exceed its compressed size)."""
        if self.is_zip:
            archive = self._archive()
            info = archive.getinfo(self._entries.get(name, name))
            check_zip_entry(info, str(self.path), max_ratio=max_ratio)
            return archive.open(info)
        return open_regular(self.path / name)

    def __len__(self) -> int:
        return len(self.files)

    def file_identity(self) -> str:
        """The files' names and `file_stamp`s: a zip's own, a folder's images' and dataset.json's."""
        names = [""] if self.is_zip else [*self.files, *([self._labels_file] if self._labels_file else [])]
        digest = hashlib.sha256(str(self.path.resolve()).encode())
        for name in names:
            digest.update(repr((name, file_stamp(self.path / name if name else self.path))).encode())
        return digest.hexdigest()

    def where(self, name: str) -> str:
        """A file of the source in messages: a zip's entries after the archive's path, a folder's as a path of the
        platform (Windows' separators throughout)."""
        return f"{self.path}/{name}" if self.is_zip else str(self.path / name)

    def describe(self, index: int) -> str:
        return self.where(self.files[index])

    def load(self, index: int, *, drop_alpha: bool = False) -> np.ndarray:
        with self._open(self.files[index]) as file:
            return decode_image(file, self.describe(index), drop_alpha=drop_alpha)

    def load_flattened(self, index: int) -> tuple[np.ndarray, bool]:
        with self._open(self.files[index]) as file:
            return decode_flattened(file, self.describe(index))

    def has_color(self) -> bool:
        for index, name in enumerate(self.files):  # stops at the first RGB image, often the first file
            try:
                with self._open(name) as file:
                    if read_header(file, self.describe(index), drop_alpha=True)[2] == 3:
                        return True
            except ImageFileError:
                continue  # named (or skipped) when it is decoded
        return False

    def validate(self, *, skip_bad: bool = False) -> tuple[int, int, int]:
        shapes: dict[str, tuple[int, int, int]] = {}
        bad: dict[str, SkippedImage] = {}
        for index, name in enumerate(self.files):
            try:
                with self._open(name) as file:
                    shapes[name] = read_header(file, self.describe(index), full=skip_bad)
            except ImageFileError as err:
                if not skip_bad:
                    raise
                bad[name] = SkippedImage(self.where(name), err.reason)
        self.skipped = tuple(bad.values())
        self.files = [name for name in self.files if name not in bad]
        if not self.files:
            raise DatasetError(f"{self.path}: none of its {len(bad)} images can be used: {skipped_text(self.skipped)}")
        if bad:
            more = "" if all_named(self.skipped) else "; `stylegan2 dataset --skip-bad` lists them all"
            warn(f"{self.path}: skipped {len(bad)} image(s): {skipped_text(self.skipped)}{more}")
        first = self.files[0]
        for name in self.files[1:]:
            if shapes[name] != shapes[first]:
                raise DatasetError(_mismatch_message(self.path, first, shapes[first], name, shapes[name], skip_bad)
                                   + self._class_folders_option())
        return shapes[first]

    def _read_labels_file(self) -> Any:
        """dataset.json parsed, or None when there is none. A zip's entry is refused before it is inflated when it
        declares more than MAX_ZIP_RATIO times its compressed size (a few hundred KB of deflated JSON could inflate
        to gigabytes); a folder's file is read as it is, whatever its size: that size is real, not claimed."""
        if self._labels_file is None:
            return None
        where = self.where(self._labels_file)
        try:
            with self._open_file(self._labels_file, max_ratio=MAX_ZIP_RATIO) as file:
                text = file.read()
        except OPEN_ERRORS as err:
            reason = str(err).removeprefix(f"{where}: ")
            fix = f"store a genuine {LABELS_FILE} in the zip uncompressed (zip -0)" if self.is_zip else "fix it"
            raise DatasetError(f"{where}: cannot read ({reason}); {fix}, or delete it") from None
        try:
            return json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
            raise DatasetError(f"{where}: cannot parse ({type(err).__name__}: {err}); fix the JSON or delete the file") from None

    def _label_table(self, meta: Any) -> dict | None:
        """Path -> label from dataset.json's contents, or None when there is no file or its labels are null."""
        where = self.where(self._labels_file or LABELS_FILE)
        root = (self._labels_file or LABELS_FILE).removesuffix(LABELS_FILE)  # its paths are relative to its folder
        entries = meta.get("labels", ()) if isinstance(meta, dict) else ()
        if entries is None:
            return None
        if not isinstance(entries, list) or not all(
            isinstance(e, list) and len(e) == 2 and isinstance(e[0], str) for e in entries
        ):
            raise DatasetError(
                f'{where}: expected {{"labels": [["path/in/dataset.png", label], ...]}} or {{"labels": null}}'
            )
        # A name written in another Unicode normalization (macOS file systems give NFD, most editors NFC) is the file.
        files = {unicodedata.normalize("NFC", name): name for name in self.all_files}
        table: dict = {}
        conflicting = []
        for path, label in entries:
            name = root + path.replace("\\", "/").removeprefix("./")  # `find .` writes ./cat.png
            key = files.get(unicodedata.normalize("NFC", name), name)
            if key in table and table[key] != label:
                conflicting.append(key)
            table[key] = label
        if conflicting:  # NVIDIA's loader keeps the last entry too; a labelling mistake deserves a word
            warn(f"{where}: lists {len(conflicting)} image(s) again with another label, of which the last is "
                 f"used: {first_names(conflicting)}")
        return table

    def labels(self, *, required: bool, skip_bad: bool = False) -> np.ndarray | None:
        meta = self._read_labels_file()
        self.class_names = meta.get("class_names") if isinstance(meta, dict) else None
        table = None if meta is None else self._label_table(meta)
        where = self.where(self._labels_file or LABELS_FILE)
        if table is None:
            if required:
                raise DatasetError(f"{self.path} has no labels (no {LABELS_FILE}, or its labels are null); "
                                   f"{self._class_folders_advice()}add a {LABELS_FILE} with "
                                   f'{{"labels": [["path.png", class_index], ...]}}, or {labels_off_advice()}')
            return None
        unknown = sorted(set(table) - set(self.all_files))
        if unknown and not skip_bad:
            more = f" ({len(unknown)} entries are like this)" if len(unknown) > 1 else ""
            raise DatasetError(
                f"{where} lists {unknown[0]!r}, which is not an image in {self.path}{more}; remove the entry or add "
                f"the file, or {skip_bad_advice()} to ignore such entries"
            )
        self._drop_unlabelled(table, skip_bad=skip_bad)
        if unknown:
            warn(f"{where}: ignored {len(unknown)} entr{'y' if len(unknown) == 1 else 'ies'} for files that "
                 f"are not images here: {first_names(unknown)}")
        # Every image's label is checked and counted, so images skipped as unreadable do not shrink the classes.
        labelled = [name for name in self.all_files if name in table and not is_unlabelled(table[name])]
        every, size = labels_array([table[name] for name in labelled], labelled.__getitem__, where,
                                    "for a continuous value write a list of one number, as [0.5]")
        if every.dtype == np.int64:
            self.num_classes = declared_classes(meta, size, where)
        elif "num_classes" in meta:
            raise DatasetError(f'{where}: "num_classes" is for class labels, and these are vectors of {size} numbers; '
                               "remove it")
        position = {name: index for index, name in enumerate(labelled)}
        return every[[position[name] for name in self.files]]

    def _class_folders(self) -> list[str]:
        """The top folders the images lie in where there are several (one per class, as torchvision's ImageFolder
        reads them), as 'cats/'; else none."""
        folders = sorted({name.partition("/")[0] + "/" for name in self.all_files if "/" in name})
        return folders if len(folders) > 1 else []

    def _class_folders_advice(self) -> str:
        """How to label class folders by folder, to start the advice of the no-labels error; else nothing."""
        if not (folders := self._class_folders()):
            return ""
        return (f"for its class folders ({first_names(folders, 3)}), write a labelled zip with `stylegan2 dataset "
                f"--source {self.path} --dest DATA.zip --labels-from-folders` and use that; or ")

    def _class_folders_option(self) -> str:
        """For a conversion command of unlabelled class folders: the option that labels them too, so that a --cond
        run is not sent to convert twice; else nothing."""
        if self._labels_file is not None or not (folders := self._class_folders()):
            return ""
        return f" (add --labels-from-folders to label the images by their class folders, {first_names(folders, 3)})"

    def folder_labels(self) -> tuple[np.ndarray, list[str]]:
        """Each image's class from the folder it lies in (sorted folder names are classes 0, 1, ...) and those names,
        for `stylegan2 dataset --labels-from-folders`. In a zip or folder whose images all lie in one folder (a zip of
        the folder of class folders, as Finder's Compress makes), the class folders are inside that one."""
        option = "--labels-from-folders"
        meta = self._read_labels_file()
        if meta is not None and self._label_table(meta) is not None:
            raise DatasetError(f"{option}: {self.where(self._labels_file)} labels the images already; leave out "
                               f"{option} to keep its labels, or delete it")
        parts = [name.split("/") for name in self.files]
        if len({p[0] for p in parts}) == 1 and all(len(p) > 2 for p in parts):
            parts = [p[1:] for p in parts]
        loose = [name for name, p in zip(self.files, parts) if len(p) < 2]
        if loose:
            raise DatasetError(f"{option}: {self.where(loose[0])} is not in a class folder ({len(loose)} image(s) like "
                               "this); move each image into the folder of its class")
        names = sorted({p[0] for p in parts})
        if len(names) < 2:
            raise DatasetError(f"{option}: every image of {self.path} lies in {names[0]}/, which would be one class; "
                               "pass the folder that holds one folder per class")
        index = {folder: i for i, folder in enumerate(names)}
        classes = [index[p[0]] for p in parts]
        return checked_classes(classes, lambda i: self.files[i], option)[0], names

    def _drop_unlabelled(self, table: dict, *, skip_bad: bool) -> None:
        """Refuse images that have no label (no entry in the label table, or null or NaN), or with `skip_bad` leave
        them out with a warning.

        When no image has a label (the table's paths follow another layout), `skip_bad` refuses too: it would
        leave nothing.
        """
        where = self.where(self._labels_file or LABELS_FILE)
        missing = [name for name in self.files if is_unlabelled(table.get(name))]
        if not missing:
            return
        if not skip_bad and missing[0] in table:
            raise unlabelled_error(where, missing[0], table[missing[0]], len(missing))
        if not skip_bad:
            raise DatasetError(
                f"{self.where(missing[0])} has no label in {where} ({len(missing)} image(s) unlabelled); "
                f"add its entry or remove the image, or {skip_bad_advice()} to leave such images out"
            )
        if len(missing) == len(self.files):
            raise DatasetError(
                f"{where}: none of the {len(missing)} images in {self.path} has an entry with a label (e.g. "
                f"{missing[0]!r}), so leaving out unlabelled images would leave none; add their labels, with paths "
                f"relative to {self.path} ('sub/img.png')"
            )
        dropped = set(missing)
        self.files = [name for name in self.files if name not in dropped]
        warn(f"{self.path}: skipped {len(missing)} image(s) without a label in {LABELS_FILE}: {first_names(missing)}")


def _zip_names(archive: zipfile.ZipFile, path: Path) -> tuple[list[str], dict[str, str]]:
    """The entries' names, and those that differ from zipfile's: a name stored without the zip's UTF-8 flag (macOS
    Compress writes them so) is read as UTF-8 where it is valid UTF-8, not as the cp437 zipfile assumes
    ('café.png', not 'cafe╠ü.png'). Two entries of one name (a zip appended to twice) are refused: only the last
    could be read."""
    names, entries = [], {}
    for info in archive.infolist():
        name = info.filename
        if not info.flag_bits & 0x800 and not name.isascii():
            try:
                name = name.encode("cp437").decode("utf-8")
                entries[name] = info.filename
            except UnicodeError:  # not UTF-8: a genuine cp437 name
                pass
        names.append(name)
    leaving = [name for name in names if name.lower().endswith(IMAGE_EXTENSIONS)
               and (name.startswith("/") or ".." in name.replace("\\", "/").split("/"))]
    if leaving:  # never extracted, only looked up; but a zip made elsewhere should not lose images without a word
        warn(f"{path}: skipped {len(leaving)} image entr{'y' if len(leaving) == 1 else 'ies'} whose path leaves the "
             f"zip's top ('..' or a leading '/'): {first_names(leaving)}")
    read = [name for name in names if is_image_name(name) or name.rpartition("/")[2] == LABELS_FILE]  # not a README
    repeated = [name for name, count in Counter(read).items() if count > 1]
    if repeated:
        raise DatasetError(f"{path}: holds {Counter(names)[repeated[0]]} entries named {repeated[0]!r} (a zip appended "
                           "to twice?), of which only the last can be read; re-create the zip")
    return names, entries


def _labels_file(names: list[str], images: list[str]) -> str | None:
    """The dataset.json that labels the images: the one at the top or, when every image lies in one folder (a zip
    of a folder, as Finder's Compress makes), that folder's."""
    if LABELS_FILE in names:
        return LABELS_FILE
    folders = {name.partition("/")[0] for name in images}
    if len(folders) == 1 and all("/" in name for name in images) and f"{next(iter(folders))}/{LABELS_FILE}" in names:
        return f"{next(iter(folders))}/{LABELS_FILE}"
    return None


def lmdb_error(folder: Path) -> DatasetError:
    """Refuse an LMDB database (LSUN's images, or rosinality's prepare_data.py output), saying what to pass instead."""
    return DatasetError(f"{folder}: an LMDB database (LSUN's or rosinality's prepare_data.py format), which is not read "
                        "here; pass the folder of images it was made from (rosinality's prepare_data.py reads one), or "
                        f"export LSUN's images with their tool (github.com/fyu/lsun: python data.py export {folder} "
                        "--out_dir DIR) and pass that folder")


def _walk_folder(root: Path) -> list[str]:
    """Relative paths of the regular files under `root`, in no particular order.

    Symbolic links (to files or folders alike) are followed only when they resolve inside `root`;
    links pointing outside it, and FIFOs, sockets and devices, are skipped with a warning. Each
    folder is visited once, under its first path in name order, so a link loop ends. A link inside
    `root` to a missing file is listed, so that opening it reports the problem.
    """
    top = root.resolve()
    names: list[str] = []
    outside: list[str] = []
    special: list[str] = []
    seen = {top}
    todo = [(root, "")]
    while todo:
        folder, prefix = todo.pop()
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda e: e.name)
        subfolders = []
        for entry in entries:
            name = prefix + entry.name
            if entry.is_symlink():
                resolved = Path(entry.path).resolve()
                if resolved != top and top not in resolved.parents:
                    outside.append(name)
                    continue
                is_dir, is_file = resolved.is_dir(), not resolved.is_dir()  # a broken link fails when opened
            else:
                resolved = None
                is_dir, is_file = entry.is_dir(follow_symlinks=False), entry.is_file(follow_symlinks=False)
            if is_dir:
                real = resolved or Path(entry.path).resolve()
                if real not in seen:
                    seen.add(real)
                    subfolders.append((Path(entry.path), name + "/"))
            elif is_file:
                names.append(name)
            else:
                special.append(name)
        todo.extend(reversed(subfolders))  # depth first, in name order: the first path to a folder is kept
    for found, what in ((outside, "symbolic link(s) pointing outside the folder"), (special, "non-regular file(s)")):
        if found:
            warn(f"{root}: skipped {len(found)} {what}: {first_names(sorted(found))}")
    return names


def skipped_text(skipped: Sequence[SkippedImage]) -> str:
    """The images skip_bad left out, grouped by why, each group's first SKIPPED_SHOWN named: '3 unreadable (damaged, or
    not an image): a.png, b.png, c.png; 1 broken symbolic link(s): d.png'."""
    groups: dict[str, list[str]] = {}
    for image in skipped:
        groups.setdefault(image.reason, []).append(image.where)
    return "; ".join(f"{len(names)} {reason}: {first_names(names, SKIPPED_SHOWN)}" for reason, names in groups.items())


def all_named(skipped: Sequence[SkippedImage]) -> bool:
    """Whether `skipped_text` names every image: none of its groups has more than SKIPPED_SHOWN."""
    return max(Counter(image.reason for image in skipped).values(), default=0) <= SKIPPED_SHOWN


def _mismatch_message(
    root: Path, first: str, first_shape: tuple[int, int, int], name: str, shape: tuple[int, int, int], skip_bad: bool
) -> str:
    """Say how image `name` differs from the first image and how to make the set uniform (with --skip-bad in the
    conversion command when the caller skipped bad images: the folder has some)."""
    (h0, w0, c0), (h, w, c) = first_shape, shape
    convert = f"stylegan2 dataset --source {root} --dest OUT.zip{' --skip-bad' if skip_bad else ''}"
    if (h, w) != (h0, w0):
        return (
            f"{root}/{name} is {w}x{h} but {root}/{first} is {w0}x{h0}; all images must have one size: "
            f"convert with `{convert} --resolution N --transform center-crop`"
        )
    kinds = {1: "grayscale", 3: "RGB"}
    return (
        f"{root}/{name} is {kinds[c]} but {root}/{first} is {kinds[c0]}; all images must have the same channels: "
        f"convert with `{convert}`, which writes grayscale images as RGB when any image is RGB"
    )
