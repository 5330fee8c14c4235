# Files on flash change by rename, never by rewrite: opening a file for writing truncates it, so
# a reset in the middle would lose the old and the new content alike. littlefs (the ESP32
# default) and POSIX commit a rename in one step. MicroPython has no os.replace; os.rename
# over an existing file does the same on both.
import os

_TMP = ".tmp"


def save_atomic(path, data):
    tmp = path + _TMP
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def load(path, max_size):
    """The file's bytes, or None if it does not exist. A file over max_size raises OSError:
    a bounded reader never lets a corrupt or hostile file exhaust the heap."""
    drop_torn(path)
    try:
        size = os.stat(path)[6]
    except OSError:
        return None
    if size > max_size:
        raise OSError("%s is %d bytes, over %d" % (path, size, max_size))
    with open(path, "rb") as f:
        return f.read()


def drop_torn(path):
    # A leftover temporary file is debris of a write that never reached its rename.
    try:
        os.remove(path + _TMP)
    except OSError:
        pass
