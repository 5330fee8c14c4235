# How deep a JSON document nests, found before json.loads sees it: a device file nested thousands
# deep makes CPython's parser raise RecursionError and MicroPython's run out of heap, neither of
# them the loader's own error. Every device-file loader (config, secrets, pairing, unlock state,
# call log, door log) asks too_deep() first and refuses with its own error class.
from micropython import const

MAX_DEPTH = const(8)  # the deepest device file nests 3 (a log: object, list, entry)


def too_deep(data, limit=MAX_DEPTH):
    """True when the JSON text (bytes or str) opens more than `limit` arrays or objects inside
    each other. Brackets inside strings do not count; malformed text is json.loads's to refuse."""
    if isinstance(data, str):
        data = data.encode()
    if data.count(b"[") + data.count(b"{") <= limit:
        return False  # not even that many brackets: no need to look closer
    depth = 0
    in_str = esc = False
    for b in data:
        if in_str:
            if esc:
                esc = False
            elif b == 0x5C:  # backslash: the next byte is escaped
                esc = True
            elif b == 0x22:
                in_str = False
        elif b == 0x22:
            in_str = True
        elif b == 0x5B or b == 0x7B:
            depth += 1
            if depth > limit:
                return True
        elif b == 0x5D or b == 0x7D:
            depth -= 1
    return False
