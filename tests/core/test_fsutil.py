# An atomic write puts the new file's bytes on the medium before the rename commits it (issue 14,
# item 7): on CPython os.fsync on the file, then on its directory after the rename; on MicroPython
# file.flush(), which is the VFS's sync (fsync(2) on the unix port, lfs_file_sync on littlefs).
import os

from coretest import ON_MICROPYTHON, remove_file
from portier import fsutil

_PATH = "_test_fsutil.bin"


class _File:
    def __init__(self, f, calls):
        self._f = f
        self._calls = calls

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._calls.append("close")
        self._f.close()

    def write(self, data):
        self._calls.append("write")
        return self._f.write(data)

    def flush(self):
        self._calls.append("flush")
        self._f.flush()

    def fileno(self):
        return self._f.fileno()


class _Os:
    """The os module as fsutil sees it, every call that matters recorded in order."""

    def __init__(self, calls):
        self._calls = calls
        if hasattr(os, "fsync"):
            self.fsync = self._fsync
        if hasattr(os, "O_RDONLY"):
            self.O_RDONLY = os.O_RDONLY  # noqa: N815

    def _fsync(self, fd):
        self._calls.append("fsync")
        os.fsync(fd)

    def rename(self, a, b):
        self._calls.append("rename")
        os.rename(a, b)

    def __getattr__(self, name):
        return getattr(os, name)


def test_the_file_reaches_the_medium_before_the_rename():
    calls = []
    real_open = open
    fsutil.open = lambda p, mode: _File(real_open(p, mode), calls)
    fsutil.os = _Os(calls)
    try:
        fsutil.save_atomic(_PATH, b"new content")
    finally:
        del fsutil.open
        fsutil.os = os
    try:
        with open(_PATH, "rb") as f:
            assert f.read() == b"new content"
    finally:
        remove_file(_PATH)
    if ON_MICROPYTHON:
        assert calls == ["write", "flush", "close", "rename"], calls
    else:  # the file's blocks, the rename, then the directory entry
        assert calls == ["write", "flush", "fsync", "close", "rename", "fsync"], calls


def test_a_failed_write_leaves_the_old_file():
    try:
        fsutil.save_atomic(_PATH, b"old")
        fsutil.open = lambda p, mode: _Broken()
        try:
            fsutil.save_atomic(_PATH, b"new")
            raise AssertionError("no OSError")
        except OSError:
            pass
        finally:
            del fsutil.open
        assert fsutil.load(_PATH, 100) == b"old"
    finally:
        remove_file(_PATH)


class _Broken:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def write(self, data):
        raise OSError(28)  # ENOSPC
