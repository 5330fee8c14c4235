"""Call stanza sizes (our encoding vs XML text vs JSON vs the model's WABinary example) and
codec speed and allocation under real MicroPython and CPython."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import benchlib  # noqa: E402
from portier_host import mprun, paths  # noqa: E402

paths.use_firmware()
sys.path.insert(0, os.path.join(paths.REPO, "tests", "core"))

from _stanza_samples import CID, ME, PEER, SID, samples  # noqa: E402

from portier.wire.stanza import encode  # noqa: E402
from portier_host.stanzasize import (  # noqa: E402
    BODILESS, MODEL_TERMINATE, counts_as_bodiless, json_text, offer_to_three, xml_text)

def size_table():
    rows = [("model terminate example", MODEL_TERMINATE, "50")]
    for s in samples():
        label = s.action
        if s.action in ("offer", "ack", "accept", "terminate", "reject", "transport"):
            label += " (%s)" % _variant(s)
        rows.append((label, s.to_node(), ""))
    offer3 = offer_to_three(bytes(range(120)), CID, ME, PEER, SID).to_node()
    rows.append(("offer, 3 devices, 120 B enc", offer3, ""))
    out = []
    for label, node, wa in rows:
        ours, xml, js = len(encode(node)), len(xml_text(node)), len(json_text(node))
        out.append([label, ours, xml, "%.1f%%" % (100.0 * ours / xml), js, wa or "-"])
    worst = max((len(encode(s.to_node())) / len(xml_text(s.to_node())), s.action) for s in samples()
                if counts_as_bodiless(s.action, s.to_node()))
    term = len(encode(MODEL_TERMINATE))
    offer = len(encode(offer3))
    figures = {
        "stanza_terminate_bytes": benchlib.figure(
            term, "B", "the model's terminate example, our encoding (WABinary: 50 B)",
            "codec (runtime-independent)", goal="<= 46 B", met=term <= 46),
        "stanza_bodiless_pct_xml": benchlib.figure(
            100 * worst[0], "% of XML", "worst bodiless stanza (%s; %s) vs its XML text"
            % (worst[1], ", ".join(BODILESS)), "codec (runtime-independent)", goal="<= 40 %",
            met=worst[0] <= 0.40),
        "stanza_offer3_bytes": benchlib.figure(
            offer, "B", "offer to 3 devices with 120 B encs", "codec (runtime-independent)",
            goal="<= 560 B", met=offer <= 560),
    }
    table = benchlib.table("Call stanza sizes (bytes): ours vs XML text vs JSON vs WABinary",
                           ["stanza", "ours", "XML", "ours/XML", "JSON", "WABinary"], out)
    return table, figures


def _variant(s):
    for field in ("destination", "relay", "error_code", "te", "reason", "message_type", "duration"):
        v = getattr(s, field, None)
        if v is not None:
            return "%s" % field if not isinstance(v, (str, int)) else "%s=%s" % (field, v)
    return "plain"


_MP_BODY = r"""
import gc, time
from portier.wire.stanza import Node, decode, encode, encode_into
from portier.signaling import stanzas as S

OFFER = bytes.fromhex(%(offer)r)
TERM = bytes.fromhex(%(term)r)

def median_us(fn, n):
    runs = []
    for _ in range(5):
        t0 = time.ticks_us()
        for _ in range(n):
            fn()
        runs.append(time.ticks_diff(time.ticks_us(), t0) / n)
    runs.sort()
    return runs[2]

def alloc(fn):
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    fn()
    b = gc.mem_alloc()
    gc.enable()
    return b - a

offer_node = decode(OFFER)
term_node = decode(TERM)
offer = S.parse(offer_node)
buf = bytearray(len(OFFER))
for name, fn, n in (
    ("decode offer (3 devices)", lambda: decode(OFFER), 200),
    ("parse offer Node -> Stanza", lambda: S.parse(offer_node), 200),
    ("build offer Stanza -> Node", lambda: offer.to_node(), 200),
    ("encode offer", lambda: encode(offer_node), 200),
    ("encode_into offer (reused buffer)", lambda: encode_into(offer_node, buf), 200),
    ("decode model terminate", lambda: decode(TERM), 500),
    ("encode model terminate", lambda: encode(term_node), 500),
):
    print("%%s|%%.1f|%%d" %% (name, median_us(fn, n), alloc(fn)))
"""


def speed_table():
    offer = encode(offer_to_three(bytes(range(120)), CID, ME, PEER, SID).to_node()).hex()
    term = encode(MODEL_TERMINATE).hex()
    body = _MP_BODY % {"offer": offer, "term": term}
    mp = mprun.run_snippet(body, heapsize="256k").strip().splitlines()
    ns = {}
    import contextlib
    import io

    out = io.StringIO()
    cp_body = body.replace("time.ticks_us()", "time.perf_counter_ns() // 1000").replace(
        "time.ticks_diff(time.ticks_us(), t0)", "(time.perf_counter_ns() // 1000 - t0)")
    cp_body = cp_body.replace("gc.mem_alloc()", "0")
    with contextlib.redirect_stdout(out):
        exec(compile(cp_body, "bench_stanzas", "exec"), ns)
    cp = out.getvalue().strip().splitlines()
    rows = []
    for mp_line, cp_line in zip(mp, cp):
        name, mp_us, mp_alloc = mp_line.split("|")
        _, cp_us, _ = cp_line.split("|")
        rows.append([name, float(mp_us), int(mp_alloc), float(cp_us)])
    return benchlib.table("Codec speed (µs, median of 5 rounds) and allocation",
                          ["operation", "MicroPython µs", "MP bytes alloc", "CPython µs"], rows,
                          ["host MicroPython, 64-bit; an ESP32 at 240 MHz is slower (bench_frame "
                           "states the measured ratio), objects half the size"])


def run(quick=False):
    sizes, figures = size_table()
    return benchlib.result("stanzas", "Call stanza sizes vs XML/JSON, codec speed", __doc__,
                           [sizes, speed_table()], figures)


if __name__ == "__main__":
    sys.exit(benchlib.main(run))
