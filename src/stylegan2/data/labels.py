"""Labels as sources read them: class indices, one-hot or number vectors, checked one by one.

Each bad label is refused with one line that names its image and what to write instead; the limits on
classes and vector length come from `max_classes`.
"""

import json
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from ..utils.text import short_int
from .errors import DatasetError, limit_from_environment, skip_bad_advice

MAX_CLASSES = 10_000  # class labels (or label-vector length) accepted by default; raise it with the variable below
MAX_CLASSES_VARIABLE = "STYLEGAN2_MAX_CLASSES"


def max_classes() -> int:
    """The largest number of classes (or label-vector length) a dataset may have: $STYLEGAN2_MAX_CLASSES or MAX_CLASSES."""
    return limit_from_environment(MAX_CLASSES_VARIABLE, MAX_CLASSES, "an integer")


def labels_array(values: list, name: Callable[[int], str], where: str, continuous: str) -> tuple[np.ndarray, int]:
    """Labels as read (JSON values, or an array's as Python numbers) as int64 [N] class indices or float32 [N, D]
    vectors, with the label size they make: max class + 1, or D. `name(i)` says whose label i is, for messages;
    `continuous` how this source writes a continuous value instead, for when no single-number label is a class.

    A class is an integer or a whole-number float (pandas and NumPy write class 2 as 2.0; NVIDIA's loader reads it
    as 2); a one-hot vector is one too (see `vector_labels`). Callers leave out "no label" values (null, NaN) first.
    """
    if sum(isinstance(v, (list, tuple)) for v in values) * 2 > len(values):
        length = Counter(len(v) for v in values if isinstance(v, (list, tuple))).most_common(1)[0][0]
        bad = [i for i, v in enumerate(values) if not _is_number_list(v, length)]
        if bad:
            raise _bad_label_error(values, bad, name, where, f"a list of {length} numbers")
        try:
            vectors = np.asarray(values, dtype=np.float64)
        except OverflowError:
            raise DatasetError(f"{where}: label vectors hold numbers too large for a float") from None
        return vector_labels(vectors, name, where)
    classes = [class_index(v) for v in values]
    bad = [i for i, c in enumerate(classes) if c is None]
    if bad:
        if len(bad) == len(values) and all(_is_real(v) for v in values):  # continuous values, read as classes
            raise DatasetError(f"{where}: {name(0)}: {_shown(values[0])} is not a class index (an integer >= 0)"
                               f"{_nor_others(len(values))}; a label of one number is a class, so {continuous}")
        raise _bad_label_error(values, bad, name, where, "a class index (an integer >= 0)")
    return checked_classes(classes, name, where)


def class_index(value: Any) -> int | None:
    """A label (or a count of classes) as a class index: an integer, or a float with a whole value; None for anything
    else."""
    if _is_index(value):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    return None


def _is_number_list(value: Any, length: int) -> bool:
    """Whether a label is a list of `length` numbers (a label vector)."""
    return isinstance(value, (list, tuple)) and len(value) == length and all(
        _is_index(x) or isinstance(x, (float, np.floating)) for x in value)


def _is_real(value: Any) -> bool:
    """Whether a label is one finite number."""
    return _is_index(value) or (isinstance(value, (float, np.floating)) and math.isfinite(value))


def is_unlabelled(value: Any) -> bool:
    """Whether a label says "no label": null in dataset.json, or NaN (what pandas writes for a missing value)."""
    return value is None or (isinstance(value, (float, np.floating)) and math.isnan(value))


def checked_classes(classes: list[int], name: Callable[[int], str], where: str) -> tuple[np.ndarray, int]:
    """Class indices as int64 [N] and their count (max + 1), refusing negative ones and more than `max_classes()`."""
    limit = max_classes()
    lowest, highest = min(classes, default=0), max(classes, default=-1)
    if lowest < 0:
        raise DatasetError(f"{where}: {name(classes.index(lowest))}: {short_int(lowest)} is not a class index; classes "
                           "are numbered from 0")
    if highest >= limit:
        raise DatasetError(f"{where}: {name(classes.index(highest))}: class label {short_int(highest)} means more than "
                           f"{limit:,} classes; check the labels, or set ${MAX_CLASSES_VARIABLE} to raise the limit")
    return np.asarray(classes, dtype=np.int64), highest + 1


def vector_labels(vectors: np.ndarray, name: Callable[[int], str], where: str) -> tuple[np.ndarray, int]:
    """Label vectors [N, D] as float32, or as class indices when every one is one-hot (one 1, the rest 0, as
    keras.utils.to_categorical writes classes): the network's label is then the same, and class-aware options work.
    The label size is D either way, so classes no image has still count."""
    limit = max_classes()
    if vectors.shape[1] > limit:
        raise DatasetError(f"{where}: label vectors of {vectors.shape[1]:,} numbers; they may have at most {limit:,} "
                           f"numbers (check the labels, or set ${MAX_CLASSES_VARIABLE} to raise the limit)")
    with np.errstate(over="ignore"):  # beyond float32's range: infinite, refused below
        vectors = vectors.astype(np.float32)
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        first = int(np.argmin(finite))
        raise DatasetError(f"{where}: {name(first)}: label vectors hold NaN or infinite numbers "
                           f"({int((~finite).sum()):,} label(s) like this); fix them")
    if len(vectors) and np.isin(vectors, (0, 1)).all() and (vectors.sum(axis=1) == 1).all():
        return vectors.argmax(axis=1).astype(np.int64), vectors.shape[1]
    return vectors, vectors.shape[1]


def _bad_label_error(values: list, bad: list[int], name: Callable[[int], str], where: str, expected: str) -> DatasetError:
    """Refuse labels that are not `expected` (`bad`: their indices in `values`), naming the first one's image and
    value and saying what to write instead."""
    value, count, first = values[bad[0]], len(bad), f"{where}: {name(bad[0])}"
    more = f" ({count:,} labels like this)" if count > 1 else ""
    if isinstance(value, str) and _is_number_text(value):  # a CSV export's "0"
        return DatasetError(f'{first}: {_shown(value)} is a string{more}; write {value.strip()}, not "{value.strip()}"')
    if isinstance(value, str):
        return DatasetError(f"{first}: {_shown(value)} is a name{more}; labels are class indices (0, 1, ...) or "
                            "number lists, so number the classes (e.g. in sorted order of their names, as `stylegan2 "
                            "dataset --labels-from-folders` numbers class folders)")
    if count == len(values):
        return DatasetError(f"{first}: {_shown(value)} is not {expected}{_nor_others(count)}; labels are class indices "
                            "(0, 1, ...) or lists of numbers, all of one length")
    return DatasetError(f"{first}: {_shown(value)} is not {expected}, as the other labels are{more}; fix the entry")


def _nor_others(count: int) -> str:
    """What a message about the first of `count` labels says when every label is alike (so "fix the entry" fails)."""
    return f", nor is any of the other {count - 1:,}" if count > 1 else ""


def unlabelled_error(where: str, name: str, value: Any, count: int) -> DatasetError:
    """Refuse images whose label is null or NaN, naming the first: an image without a label, which skip_bad leaves out."""
    return DatasetError(f"{where}: {name}: {_shown(value)}, no label ({count:,} image(s) without one); give each its "
                        f"label or remove the image, or {skip_bad_advice()} to leave such images out")


def declared_classes(meta: dict, size: int, where: str) -> int:
    """The label size of class labels: dataset.json's "num_classes" when given (data that lack the top classes, a
    held-out split say, keep a network's label size), else `size`, the largest class + 1."""
    declared = meta.get("num_classes")
    if declared is None:
        return size
    count, limit, field = class_index(declared), max_classes(), f'{where}: "num_classes": {_shown(declared)}'
    if count is None:
        raise DatasetError(f"{field} is not a whole number; write the number of classes (at least {max(size, 1)}), or "
                           "remove it")
    if count < max(size, 1):
        raise DatasetError(f"{field} is fewer than the labels use (they go up to class {size - 1}); write at least "
                           f"{max(size, 1)}, or remove it")
    if count > limit:
        raise DatasetError(f"{field} means more than {limit:,} classes; check it, or set ${MAX_CLASSES_VARIABLE} to "
                           "raise the limit")
    return count


def _is_number_text(text: str) -> bool:
    """Whether a string spells a finite number ("0", " 2.0")."""
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _shown(value: Any) -> str:
    """A label as dataset.json writes it (null, NaN, 2.5, [0, 1]), cut short for a message."""
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_index(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
