"""Check a pickle's opcodes before any unpickler runs them: sizes, nesting depth and object kinds.

An unpickler trusts what a stream claims: a length field of 1 TiB is allocated, a tuple key nested
200,000 deep is hashed by recursion in C (a segfault), a memo index of 2**32 grows the memo to it,
and BUILD may set attributes on the very classes the unpickler hands out. This module walks the
opcodes once without building anything, modelling only what matters: for every stack entry whether
it is a plain value, a container (with its nesting depth, updated through memo references and
self-references) or a global, and it refuses the stream as soon as a limit is crossed. Only after
a stream passes does an unpickler read it.
"""

from __future__ import annotations

import pickle
import struct
from dataclasses import dataclass
from typing import BinaryIO

MAX_DEPTH = 100  # containers inside containers; network pickles need far less (docs/security.md)
MAX_OPCODES = 4_000_000  # opcodes per stream; tensor data are single opcodes, so networks need far less
MAX_LINE = 65_536  # text arguments of protocol-0 opcodes (GLOBAL names, INT digits)
MAX_LONG_BYTES = 1_024  # LONG1/LONG4 integers: numbers, not data


class PickleRejected(ValueError):
    """A pickle stream breaks a limit or is malformed; the message says which, in one line."""


@dataclass
class ScanLimits:
    """Limits for one scan; `allow_persistent` admits BINPERSID (torch.save's zip format uses it)."""

    max_depth: int = MAX_DEPTH
    max_opcodes: int = MAX_OPCODES
    allow_persistent: bool = False


class _Node:
    """A stack entry that is not a plain value: a container or call result (with its depth), or a global."""

    __slots__ = ("depth", "parents", "is_global")

    def __init__(self, depth: int = 1, is_global: bool = False) -> None:
        self.depth = depth
        self.parents: list[_Node] | None = None
        self.is_global = is_global


# Opcodes with a fixed-size argument: code -> its size in bytes
_FIXED = {
    pickle.BININT1: 1, pickle.BININT2: 2, pickle.BININT: 4, pickle.BINFLOAT: 8,
    pickle.PROTO: 1, pickle.FRAME: 8,
    pickle.BINGET: 1, pickle.LONG_BINGET: 4, pickle.BINPUT: 1, pickle.LONG_BINPUT: 4,
}
# Opcodes followed by a length field and that many bytes: code -> struct format of the length
_SIZED = {
    pickle.BINSTRING: "<i", pickle.SHORT_BINSTRING: "<B", pickle.BINUNICODE: "<I", pickle.SHORT_BINUNICODE: "<B",
    pickle.BINUNICODE8: "<Q", pickle.BINBYTES: "<I", pickle.SHORT_BINBYTES: "<B", pickle.BINBYTES8: "<Q",
    pickle.BYTEARRAY8: "<Q", pickle.LONG1: "<B", pickle.LONG4: "<i",
}
_LEAF_LINES = {pickle.INT, pickle.LONG, pickle.FLOAT, pickle.STRING, pickle.UNICODE}  # one text line, a plain value
_PLAIN = {pickle.NONE, pickle.NEWTRUE, pickle.NEWFALSE}
_EMPTY = {pickle.EMPTY_TUPLE, pickle.EMPTY_LIST, pickle.EMPTY_DICT, pickle.EMPTY_SET}
_FROM_MARK = {pickle.TUPLE, pickle.LIST, pickle.DICT, pickle.FROZENSET}  # a new container of the marked items
_INTO_TOP = {pickle.APPENDS, pickle.SETITEMS, pickle.ADDITEMS}  # the marked items go into the entry below the mark
_TUPLE_N = (pickle.TUPLE1, pickle.TUPLE2, pickle.TUPLE3)  # a tuple of the top 1, 2 or 3 entries
_REFUSED = {getattr(pickle, name): name for name in ("PERSID", "INST", "OBJ", "EXT1", "EXT2", "EXT4", "NEXT_BUFFER",
                                                      "READONLY_BUFFER")}


class _Scanner:
    """One pass over one pickle stream (up to and including STOP)."""

    def __init__(self, file: BinaryIO, end: int, limits: ScanLimits) -> None:
        self.file = file
        self.end = end  # offset of the stream's last byte + 1: no length may reach past it
        self.limits = limits
        self.stack: list = []  # entries since the last MARK: None for plain values, else a _Node
        self.marks: list[list] = []  # the stacks the MARKs interrupted
        self.memo: dict[int, object] = {}
        self.ops = 0
        self.budget = 8 * limits.max_opcodes  # depth updates through back-references

    def fail(self, message: str) -> PickleRejected:
        return PickleRejected(f"{message} (at byte {self.file.tell()})")

    def read(self, n: int) -> bytes:
        data = self.file.read(n)
        if len(data) != n:
            raise self.fail("truncated pickle")
        return data

    def skip(self, n: int) -> None:
        if n < 0 or n > self.end - self.file.tell():
            raise self.fail(f"an opcode claims {n:,} bytes but only {self.end - self.file.tell():,} remain in the file")
        self.file.seek(n, 1)

    def line(self) -> bytes:
        data = self.file.readline(MAX_LINE + 1)
        if not data.endswith(b"\n"):
            raise self.fail(f"a text argument is unterminated or longer than {MAX_LINE:,} bytes")
        return data[:-1]

    def pop(self, n: int = 1) -> list:
        if len(self.stack) < n:
            raise self.fail("stack underflow")
        items = self.stack[len(self.stack) - n:]
        del self.stack[len(self.stack) - n:]
        return items

    def pop_mark(self) -> list:
        if not self.marks:
            raise self.fail("no MARK to pop to")
        items = self.stack
        self.stack = self.marks.pop()
        return items

    def top(self) -> object:
        if not self.stack:
            raise self.fail("stack underflow")
        return self.stack[-1]

    def contain(self, parent: object, items: list) -> None:
        """Record that `parent` now holds `items`: its depth grows, and so does that of whatever holds it."""
        if not isinstance(parent, _Node):
            return  # not a container: the unpickler itself will refuse the operation
        for item in items:
            if isinstance(item, _Node):
                if item.parents is None:
                    item.parents = []
                item.parents.append(parent)
                self.deepen(parent, item.depth + 1)

    def deepen(self, node: _Node, depth: int) -> None:
        work = [(node, depth)]
        while work:
            node, depth = work.pop()
            if depth <= node.depth:
                continue
            if depth > self.limits.max_depth:
                raise self.fail(f"objects are nested more than {self.limits.max_depth} levels deep (or refer to themselves)")
            self.budget -= 1
            if self.budget < 0:
                raise self.fail("too many references between containers")
            node.depth = depth
            work.extend((parent, depth + 1) for parent in node.parents or ())

    def new(self, items: list) -> _Node:
        node = _Node()
        self.contain(node, items)
        return node

    def memo_put(self, index: int) -> None:
        if index > self.ops:  # picklers number memo entries 0, 1, 2, ...; a huge index would size the memo
            raise self.fail(f"memo index {index:,} out of range")
        self.memo[index] = self.top()

    def memo_get(self, index: int) -> None:
        if index not in self.memo:
            raise self.fail(f"memo index {index} was never stored")
        self.stack.append(self.memo[index])

    def run(self) -> None:
        while True:
            code = self.file.read(1)
            if not code:
                raise self.fail("truncated pickle (no STOP)")
            self.ops += 1
            if self.ops > self.limits.max_opcodes:
                raise self.fail(f"more than {self.limits.max_opcodes:,} opcodes")
            if code == pickle.STOP:
                if len(self.stack) != 1 or self.marks:
                    raise self.fail("STOP with a malformed stack")
                return
            self.step(code)

    def step(self, code: bytes) -> None:  # noqa: C901 -- one branch per opcode family
        stack = self.stack
        if code in _FIXED:
            arg = self.read(_FIXED[code])
            if code == pickle.PROTO:
                if arg[0] > 5:
                    raise self.fail(f"unsupported pickle protocol {arg[0]}")
            elif code == pickle.FRAME:
                size = struct.unpack("<Q", arg)[0]
                if size > self.end - self.file.tell():
                    raise self.fail(f"a FRAME claims {size:,} bytes but only {self.end - self.file.tell():,} remain")
            elif code in (pickle.BINGET, pickle.LONG_BINGET):
                self.memo_get(int.from_bytes(arg, "little"))
            elif code in (pickle.BINPUT, pickle.LONG_BINPUT):
                self.memo_put(int.from_bytes(arg, "little"))
            else:
                stack.append(None)
        elif code in _SIZED:
            fmt = _SIZED[code]
            size = struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]
            if code in (pickle.LONG1, pickle.LONG4) and not 0 <= size <= MAX_LONG_BYTES:
                raise self.fail(f"an integer of {size:,} bytes")
            self.skip(size)
            stack.append(None)
        elif code in _PLAIN:
            stack.append(None)
        elif code in _LEAF_LINES:
            self.line()
            stack.append(None)
        elif code in _EMPTY:
            stack.append(_Node())
        elif code == pickle.MARK:
            self.marks.append(stack)
            self.stack = []
        elif code in _FROM_MARK:
            items = self.pop_mark()
            self.stack.append(self.new(items))
        elif code in _TUPLE_N:
            stack.append(self.new(self.pop(_TUPLE_N.index(code) + 1)))
        elif code == pickle.APPEND:
            item = self.pop()
            self.contain(self.top(), item)
        elif code == pickle.SETITEM:
            items = self.pop(2)
            self.contain(self.top(), items)
        elif code in _INTO_TOP:
            items = self.pop_mark()
            self.contain(self.top(), items)
        elif code == pickle.REDUCE:  # callable(*args); the result may hold the arguments
            _, args = self.pop(2)
            self.stack.append(self.new([args]))
        elif code == pickle.NEWOBJ:
            _, args = self.pop(2)
            self.stack.append(self.new([args]))
        elif code == pickle.NEWOBJ_EX:
            _, args, kwargs = self.pop(3)
            self.stack.append(self.new([args, kwargs]))
        elif code == pickle.BUILD:  # sets state on the object below; never on a class or function the loader owns
            (state,) = self.pop()
            target = self.top()
            if isinstance(target, _Node) and target.is_global:
                raise self.fail("BUILD on a class or function (a pickle may not change the loader)")
            self.contain(target, [state])
        elif code == pickle.GLOBAL:
            self.line()
            self.line()
            stack.append(_Node(depth=0, is_global=True))
        elif code == pickle.STACK_GLOBAL:
            self.pop(2)
            self.stack.append(_Node(depth=0, is_global=True))
        elif code == pickle.MEMOIZE:
            self.memo_put(len(self.memo))
        elif code in (pickle.GET, pickle.PUT):  # a text index
            text = self.line()
            if not text.isdigit() or len(text) > 12:
                raise self.fail("malformed memo index")
            (self.memo_get if code == pickle.GET else self.memo_put)(int(text))
        elif code == pickle.POP:
            if stack:
                stack.pop()
            elif self.marks:
                self.pop_mark()
            else:
                raise self.fail("stack underflow")
        elif code == pickle.POP_MARK:
            self.pop_mark()
        elif code == pickle.DUP:
            stack.append(self.top())
        elif code == pickle.BINPERSID and self.limits.allow_persistent:  # the loader's persistent_load decides
            self.pop()
            self.stack.append(None)
        elif code in _REFUSED or code == pickle.BINPERSID:
            raise self.fail(f"opcode {_REFUSED.get(code, 'BINPERSID')} is not used by network files")
        else:
            raise self.fail(f"unknown opcode {code!r}")


def scan_pickle(file: BinaryIO, end: int, limits: ScanLimits | None = None) -> None:
    """Check one pickle stream from the file's position through its STOP, leaving the file after it.

    `end` is the offset where the readable data ends (the file size, or the end of a zip entry).
    Raises PickleRejected with a one-line reason.
    """
    _Scanner(file, end, limits or ScanLimits()).run()
