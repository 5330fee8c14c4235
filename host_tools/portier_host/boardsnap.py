"""What a simulation may change on a real (or virtual) door board, saved before and put back
after: the Signal store folder (sessions, pinned identities, the one-time prekeys a pairing
uses up) and the paired-devices file. `portier sim --door-device` pairs its own phones with
the door; without this the door would keep them paired and wrap every later ring's call key
for devices that no longer exist. Through the real mpremote, like deploy and log."""

import binascii
import json

from . import deploy

_MAX_FILES = 200  # a door's store holds ~25 files; more is not a Portier store

# Prints one line "SNAP {json}": {"files": {path: hex or null}} for every file of the store
# folder and the paired file. A flat folder: the firmware's FileStore keeps no subfolders.
_SNAP = """
import os, json, binascii
def rd(p):
    try:
        with open(p, 'rb') as f:
            return binascii.hexlify(f.read()).decode()
    except OSError:
        return None
out = {}
try:
    names = os.listdir(%(store)r)
except OSError:
    names = []
for n in names[:%(max)d]:
    out[%(store)r + '/' + n] = rd(%(store)r + '/' + n)
out[%(paired)r] = rd(%(paired)r)
print('SNAP ' + json.dumps(out))
"""

# Puts the saved files back: every file the snapshot had is rewritten when its bytes differ
# (by a temporary name and a rename, as the firmware writes), every file it did not have in the
# store folder (a simulated phone's session, say) is removed, and so is the paired file when
# there was none.
_RESTORE = """
import os, binascii
want = %(files)r
def rd(p):
    try:
        with open(p, 'rb') as f:
            return f.read()
    except OSError:
        return None
try:
    names = os.listdir(%(store)r)
except OSError:
    names = []
for n in names:
    p = %(store)r + '/' + n
    if p not in want:
        os.remove(p)
for p, h in want.items():
    if h is None:
        if rd(p) is not None:
            os.remove(p)
        continue
    data = binascii.unhexlify(h)
    if rd(p) != data:
        with open(p + '.tmp', 'wb') as f:
            f.write(data)
        os.rename(p + '.tmp', p)
print('RESTORED %%d' %% len(want))
"""


class SnapError(RuntimeError):
    pass


def _run(port, script):
    try:
        return deploy.Mpremote(port).run(["exec", script])
    except deploy.DeployError as e:
        raise SnapError(str(e)) from None


def save(port, store, paired_file):
    """The board's store folder and paired file now: {path: bytes or None}. Stops what the
    board runs (mpremote interrupts it); reset it afterwards."""
    text = _run(port, _SNAP % {"store": store, "paired": paired_file, "max": _MAX_FILES})
    for line in text.splitlines():
        if line.startswith("SNAP "):
            files = json.loads(line[5:])
            return dict((p, None if h is None else binascii.unhexlify(h))
                        for p, h in files.items())
    raise SnapError("the board did not list its store: %s" % text.strip()[-200:])


def restore(port, store, snapshot, reset=True):
    """Put the store folder and paired file back as save() found them, then reset the board
    so the door runs with them."""
    files = dict((p, None if b is None else binascii.hexlify(b).decode())
                 for p, b in snapshot.items())
    text = _run(port, _RESTORE % {"files": files, "store": store})
    if "RESTORED" not in text:
        raise SnapError("the board did not restore its store: %s" % text.strip()[-200:])
    if reset:
        try:
            deploy.Mpremote(port).run(["reset"])
        except deploy.DeployError as e:
            raise SnapError("restored, but the reset failed: %s" % e) from None
