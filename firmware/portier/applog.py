# The JSON log lines every device prints (stdout; the simulator and `portier monitor` read
# them): {"t": ticks_ms, "lvl": "D|I|W|E", "src": ..., "msg": ..., ...}, and describe(node), a
# stanza flattened for such a line.
import json
import sys
import time

_KEY_ATTRS = ("call-id", "call-creator", "reason", "type", "result", "duration", "count")


def log_line(lvl, src, msg, fields):
    d = {"t": time.ticks_ms(), "lvl": lvl, "src": src, "msg": msg}
    for k in fields:
        d[k] = fields[k]
    sys.stdout.write(json.dumps(d) + "\n")
    if sys.implementation.name != "micropython":
        sys.stdout.flush()  # a pipe to the simulator: every line as it happens


def where(e):
    """The innermost "file:line" of an exception's traceback, or "" where there is none."""
    if sys.implementation.name == "micropython":
        import io

        out = io.StringIO()
        sys.print_exception(e, out)
        lines = [ln for ln in out.getvalue().split("\n") if ln.startswith("  File ")]
        return _file_line(lines[-1]) if lines else ""
    tb = e.__traceback__
    if tb is None:
        return ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    return "%s:%d" % (tb.tb_frame.f_code.co_filename.split("/")[-1], tb.tb_lineno)


def _file_line(line):
    # '  File "portier/app.py", line 12, in f' -> 'app.py:12'
    parts = line.split('"')
    if len(parts) < 3:
        return line.strip()
    number = parts[2].split(",")[1].split()[-1] if "," in parts[2] else "?"
    return "%s:%s" % (parts[1].split("/")[-1], number)


def _text(v):
    if isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray)):
        return "<%d bytes>" % len(v)
    return str(v)


def _count(node, tag, depth=0):
    n = 0
    kids = node.content
    if isinstance(kids, list) and depth < 4:
        for k in kids:
            n += (k.tag == tag) + _count(k, tag, depth + 1)
    return n


def describe(node):
    """A stanza as a flat dict for the log: tag, attributes, the call action and its key
    attributes, how many wrapped keys an offer holds, whether a relay block came along."""
    d = {"tag": node.tag}
    for k in node.attrs:  # the stanza's own "t" must not shadow the log line's ticks
        d["stanza_t" if k == "t" else k] = _text(node.attrs[k])
    kids = node.content
    if isinstance(kids, list) and kids:
        first = kids[0]
        if node.tag == "call":
            d["action"] = first.tag
            for k in _KEY_ATTRS:
                v = first.attrs.get(k)
                if v is not None:
                    d[k] = _text(v)
        else:
            d["child"] = first.tag
        encs = _count(node, "enc")
        if encs:
            d["encs"] = encs
        if _count(node, "relay"):
            d["relay"] = True
    elif kids is not None:
        d["bytes"] = len(kids)
    return d


