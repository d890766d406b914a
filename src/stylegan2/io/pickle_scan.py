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


# Opcodes with a fixed-size argument: code -> (size, struct format or None)
_FIXED = {
    b"K": 1, b"M": 2, b"J": 4, b"G": 8,  # BININT1, BININT2, BININT, BINFLOAT
    b"\x80": 1, b"\x95": 8,  # PROTO, FRAME
    b"h": 1, b"j": 4, b"q": 1, b"r": 4,  # BINGET, LONG_BINGET, BINPUT, LONG_BINPUT
}
# Opcodes followed by a length field and that many bytes: code -> struct format of the length
_SIZED = {
    b"T": "<i", b"U": "<B", b"X": "<I", b"\x8c": "<B", b"\x8d": "<Q",  # BINSTRING, SHORT_BINSTRING, BINUNICODE(8)
    b"B": "<I", b"C": "<B", b"\x8e": "<Q", b"\x96": "<Q",  # BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
    b"\x8a": "<B", b"\x8b": "<i",  # LONG1, LONG4
}
_LEAF_LINES = {b"I", b"L", b"F", b"S", b"V"}  # INT, LONG, FLOAT, STRING, UNICODE: one text line, a plain value
_PLAIN = {b"N", b"\x88", b"\x89"}  # NONE, NEWTRUE, NEWFALSE
_EMPTY = {b")", b"]", b"}", b"\x8f"}  # EMPTY_TUPLE, EMPTY_LIST, EMPTY_DICT, EMPTY_SET
_FROM_MARK = {b"t", b"l", b"d", b"\x91"}  # TUPLE, LIST, DICT, FROZENSET: a new container of the marked items
_INTO_TOP = {b"e", b"u", b"\x90"}  # APPENDS, SETITEMS, ADDITEMS: the marked items go into the entry below the mark
_REFUSED = {
    b"P": "PERSID", b"i": "INST", b"o": "OBJ", b"\x82": "EXT1", b"\x83": "EXT2", b"\x84": "EXT4",
    b"\x97": "NEXT_BUFFER", b"\x98": "READONLY_BUFFER",
}


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
            if code == b".":  # STOP
                if len(self.stack) != 1 or self.marks:
                    raise self.fail("STOP with a malformed stack")
                return
            self.step(code)

    def step(self, code: bytes) -> None:  # noqa: C901 -- one branch per opcode family
        stack = self.stack
        if code in _FIXED:
            arg = self.read(_FIXED[code])
            if code == b"\x80":
                if arg[0] > 5:
                    raise self.fail(f"unsupported pickle protocol {arg[0]}")
            elif code == b"\x95":
                size = struct.unpack("<Q", arg)[0]
                if size > self.end - self.file.tell():
                    raise self.fail(f"a FRAME claims {size:,} bytes but only {self.end - self.file.tell():,} remain")
            elif code in (b"h", b"j"):
                self.memo_get(int.from_bytes(arg, "little"))
            elif code in (b"q", b"r"):
                self.memo_put(int.from_bytes(arg, "little"))
            else:
                stack.append(None)
        elif code in _SIZED:
            fmt = _SIZED[code]
            size = struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]
            if code in (b"\x8a", b"\x8b") and not 0 <= size <= MAX_LONG_BYTES:
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
        elif code == b"(":  # MARK
            self.marks.append(stack)
            self.stack = []
        elif code in _FROM_MARK:
            items = self.pop_mark()
            self.stack.append(self.new(items))
        elif code in (b"\x85", b"\x86", b"\x87"):  # TUPLE1, TUPLE2, TUPLE3
            stack.append(self.new(self.pop(code[0] - 0x84)))
        elif code == b"a":  # APPEND
            item = self.pop()
            self.contain(self.top(), item)
        elif code == b"s":  # SETITEM
            items = self.pop(2)
            self.contain(self.top(), items)
        elif code in _INTO_TOP:
            items = self.pop_mark()
            self.contain(self.top(), items)
        elif code == b"R":  # REDUCE: callable(*args); the result may hold the arguments
            _, args = self.pop(2)
            self.stack.append(self.new([args]))
        elif code == b"\x81":  # NEWOBJ
            _, args = self.pop(2)
            self.stack.append(self.new([args]))
        elif code == b"\x92":  # NEWOBJ_EX
            _, args, kwargs = self.pop(3)
            self.stack.append(self.new([args, kwargs]))
        elif code == b"b":  # BUILD: sets state on the object below; never on a class or function the loader owns
            (state,) = self.pop()
            target = self.top()
            if isinstance(target, _Node) and target.is_global:
                raise self.fail("BUILD on a class or function (a pickle may not change the loader)")
            self.contain(target, [state])
        elif code == b"c":  # GLOBAL
            self.line()
            self.line()
            stack.append(_Node(depth=0, is_global=True))
        elif code == b"\x93":  # STACK_GLOBAL
            self.pop(2)
            self.stack.append(_Node(depth=0, is_global=True))
        elif code == b"\x94":  # MEMOIZE
            self.memo_put(len(self.memo))
        elif code in (b"g", b"p"):  # GET, PUT (text index)
            text = self.line()
            if not text.isdigit() or len(text) > 12:
                raise self.fail("malformed memo index")
            (self.memo_get if code == b"g" else self.memo_put)(int(text))
        elif code == b"0":  # POP
            if stack:
                stack.pop()
            elif self.marks:
                self.pop_mark()
            else:
                raise self.fail("stack underflow")
        elif code == b"1":  # POP_MARK
            self.pop_mark()
        elif code == b"2":  # DUP
            stack.append(self.top())
        elif code == b"Q" and self.limits.allow_persistent:  # BINPERSID: the loader's persistent_load decides
            self.pop()
            self.stack.append(None)
        elif code in _REFUSED or code == b"Q":
            raise self.fail(f"opcode {_REFUSED.get(code, 'BINPERSID')} is not used by network files")
        else:
            raise self.fail(f"unknown opcode {code!r}")


def scan_pickle(file: BinaryIO, end: int, limits: ScanLimits | None = None) -> None:
    """Check one pickle stream from the file's position through its STOP, leaving the file after it.

    `end` is the offset where the readable data ends (the file size, or the end of a zip entry).
    Raises PickleRejected with a one-line reason.
    """
    _Scanner(file, end, limits or ScanLimits()).run()
