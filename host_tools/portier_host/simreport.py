"""What `portier sim` expects of each scenario and how it prints what happened.

Kept apart from the orchestration so the expectations read as a table: for every scenario, the
outcome each party must log (docs/protocol.md section 9), and the checks that decide the exit
status.
"""

import json

# scenario -> (door's log entry, answering phone's entry, every other phone's entry). Phone 1
# (index 0) is the one that acts; a None entry means that party logs nothing for the call.
EXPECTED = {
    "answered": (("out", "answered"), ("in", "answered"), ("in", "answered_elsewhere")),
    "rejected": (("out", "declined"), ("in", "declined"), ("in", "declined_elsewhere")),
    "busy": (("out", "busy"), ("in", "busy"), ("in", "busy")),
    "missed": (("out", "unanswered"), ("in", "missed"), ("in", "missed")),
    "cancelled": (("out", "cancelled"), ("in", "missed"), ("in", "missed")),
    "incoming": (("in", "answered"), ("out", "answered"), None),
    "unlock": (("out", "answered"), ("in", "answered"), ("in", "answered_elsewhere")),  # section 10
}
SCENARIOS = tuple(EXPECTED)
MEDIA_SCENARIOS = ("answered", "incoming", "unlock")


def expected_logs(scenario, phones):
    """{party: (direction, outcome) or None} for the door and phones phone1..phoneN."""
    door, actor, others = EXPECTED[scenario]
    want = {"door": door}
    for i, name in enumerate(phones):
        want[name] = actor if i == 0 else others
    return want


def check(scenario, logs, media):
    """Problems (strings) with what the parties logged; empty when the scenario went right.
    logs: {party: [call-log entries]}; media: {party: stats dict} for calls that had media."""
    problems = []
    want = expected_logs(scenario, [p for p in logs if p != "door"])
    for party, expect in want.items():
        entries = logs.get(party, [])
        if expect is None:
            if entries:
                problems.append("%s logged %r, expected nothing" % (party, entries))
            continue
        if len(entries) != 1:
            problems.append("%s logged %d calls, expected 1" % (party, len(entries)))
            continue
        got = (entries[0]["dir"], entries[0]["outcome"])
        if got != expect:
            problems.append("%s logged %s/%s, expected %s/%s" % ((party,) + got + expect))
    if scenario in MEDIA_SCENARIOS:
        for party, stats in media.items():
            if stats.get("received", 0) == 0:
                problems.append("%s received no audio" % party)
            if stats.get("srtp_rejected", 0):
                problems.append("%s rejected %d SRTP packets" % (party, stats["srtp_rejected"]))
        if len(media) != 2:
            problems.append("media ran on %d parties, expected 2" % len(media))
    elif media:
        problems.append("media ran in a %s call: %s" % (scenario, sorted(media)))
    return problems


def sequence_diagram(trace, parties):
    """A text sequence diagram: one line per stanza, sender -> receiver with its key fields.
    trace: [(t_ms, sender, receiver, action, detail)] in order."""
    width = max([len(p) for p in parties] + [10])
    lines = []
    for t_ms, sender, receiver, action, detail in trace:
        arrow = "%s -> %s" % (sender.ljust(width), receiver.ljust(width))
        lines.append("%8.1f ms  %s  %s%s" % (t_ms, arrow, action, "  " + detail if detail else ""))
    return "\n".join(lines)


def render_text(result):
    out = ["Portier simulation: scenario %s, %d phone(s), door on %s" % (
        result["scenario"], len(result["phones"]), result["door_runtime"])]
    out.append("")
    out.append("Stanzas (as routed by the switchboard):")
    out.append(sequence_diagram(result["trace"], ["door"] + result["phones"] + ["switchboard"]))
    out.append("")
    out.append("Call logs:")
    for party, entries in result["logs"].items():
        if not entries:
            out.append("  %-10s (nothing)" % party)
        for e in entries:
            out.append("  %-10s %-3s %-20s peer=%s reason=%s duration=%ss" % (
                party, e["dir"], e["outcome"], e["peer"], e["reason"], e["duration"]))
    if result["media"]:
        out.append("")
        out.append("Media:")
        for party, s in result["media"].items():
            out.append("  %-10s sent %d, received %d, lost %d, late %d, concealed %d, "
                       "rejected by SRTP %d; jitter buffer %s ms, %d stretched, %d dropped" % (
                           party, s.get("sent", 0), s.get("received", 0), s.get("lost", 0),
                           s.get("late", 0), s.get("concealed", 0), s.get("srtp_rejected", 0),
                           s.get("target_ms", "?"), s.get("stretched", 0), s.get("dropped", 0)))
    if result.get("quality"):
        out.append("")
        out.append("Audio quality (what arrived vs what was sent):")
        for direction, q in result["quality"].items():
            out.append("  %-16s %s" % (direction, ", ".join("%s %s" % kv for kv in q.items())))
    if result["scenario"] in MEDIA_SCENARIOS and result.get("wav"):
        out.append("")
        out.append("Recordings (what each side heard, WAV):")
        for name, path in sorted(result["wav"].items()):
            out.append("  %-16s %s" % (name, path))
    samples = [d for d in result.get("memory", ()) if d.get("msg") == "sample"]
    if samples:
        out.append("")
        out.append("Door heap (%s, %d samples): gc.mem_alloc() up to %d B; live after gc.collect() "
                   "up to %d B" % (result.get("door_heap"), len(samples),
                                   max(d["alloc"] for d in samples),
                                   max([d["live"] for d in samples if "live" in d] or [0])))
    out.append("")
    out.append("Timings:")
    for name, value in result["timings"].items():
        out.append("  %-32s %s" % (name, "%.1f ms" % value if value is not None else "n/a"))
    out.append("")
    if result["problems"]:
        out.append("FAILED:")
        out.extend("  " + p for p in result["problems"])
    else:
        out.append("OK: the scenario ended as it should")
    return "\n".join(out)


def render_json(result):
    return json.dumps(result, indent=2, sort_keys=True)
