# Files on flash change by rename, never by rewrite: opening a file for writing truncates it, so
# a reset in the middle would lose the old and the new content alike. littlefs (the ESP32
# default) and POSIX commit a rename in one step. MicroPython has no os.replace; os.rename
# over an existing file does the same on both.
#
# A rename is only as good as the data it points to: before it, the new file's bytes are put on
# the medium, or a power cut shortly after could leave the new name on an empty or torn file.
# - MicroPython: file.flush() is the VFS's sync: lfs_file_sync on littlefs, f_sync on FAT, and
#   fsync(2) on the unix port (the host's micropython). littlefs commits the rename itself
#   before os.rename returns; the unix port has no way to sync a directory (no os.open).
# - CPython: flush() only empties Python's buffer; os.fsync puts the file on the disk, and a
#   second fsync on the directory makes the rename itself durable (POSIX).
import os

_TMP = ".tmp"


def save_atomic(path, data):
    tmp = path + _TMP
    with open(tmp, "wb") as f:
        f.write(data)
        _to_medium(f)
    os.rename(tmp, path)
    _dir_to_medium(path)


def _to_medium(f):
    f.flush()
    fsync = getattr(os, "fsync", None)  # CPython's; MicroPython's flush() did it already
    if fsync is not None:
        fsync(f.fileno())


def _dir_to_medium(path):
    if not hasattr(os, "O_RDONLY"):  # MicroPython: see above
        return
    cut = path.rfind("/")
    fd = os.open(path[:cut] if cut > 0 else ("/" if cut == 0 else "."), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
