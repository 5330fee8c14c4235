"""What every bench/bench_*.py shares: a result shape that run.py turns into the report, the
statistics each figure states (median of repeated runs and the spread), and the command line.

A benchmark module has `run(quick=False) -> dict` (see `result`) and ends with
`if __name__ == "__main__": benchlib.main(run)`, so `python bench/bench_x.py` prints its
tables and `python bench/bench_x.py --json FILE [--quick]` also writes the result for run.py.
`quick` means tiny counts: the smoke test checks that the benchmark still runs, not its numbers.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "host_tools"))


def stats(samples):
    """{"median", "min", "max", "n"} of a list of numbers (the spread is min..max)."""
    xs = sorted(samples)
    n = len(xs)
    if n == 0:
        return {"median": None, "min": None, "max": None, "n": 0}
    mid = xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
    return {"median": mid, "min": xs[0], "max": xs[-1], "n": n}


def spread(st, fmt="%.1f"):
    """'median (min-max, n runs)' for a stats() dict."""
    if st.get("median") is None:
        return "-"
    if st["n"] == 1:
        return fmt % st["median"]
    return (fmt + " (" + fmt + "-" + fmt + ", n=%d)") % (st["median"], st["min"], st["max"],
                                                          st["n"])


def figure(value, unit, what, runtime, st=None, goal=None, met=None, note=None):
    """One headline number of the report. st: a stats() dict behind value (median, spread)."""
    f = {"value": value, "unit": unit, "what": what, "runtime": runtime}
    if st is not None:
        f["median"], f["min"], f["max"], f["runs"] = st["median"], st["min"], st["max"], st["n"]
    if goal is not None:
        f["goal"] = goal
    if met is not None:
        f["met"] = bool(met)
    if note:
        f["note"] = note
    return f


def table(title, columns, rows, notes=()):
    return {"title": title, "columns": list(columns), "rows": [list(r) for r in rows],
            "notes": list(notes)}


def result(name, title, about, tables, figures=None, data=None):
    """name: the module's short name ("srtp"); about: what was measured and how (markdown
    text); tables: table() dicts; figures: {key: figure()}; data: series for the charts."""
    return {"name": name, "title": title, "about": about, "tables": tables,
            "figures": figures or {}, "data": data or {}}


def _cell(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != v:
            return "-"
        a = abs(v)
        return "%.0f" % v if a >= 1000 else "%.1f" % v if a >= 10 else "%.2f" % v if a >= 0.1 \
            else "%.3f" % v
    return str(v)


def render_text_table(t):
    cells = [[_cell(c) for c in row] for row in t["rows"]]
    widths = [len(c) for c in t["columns"]]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))
    out = [t["title"]]
    out.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                         for i, c in enumerate(t["columns"])))
    for row in cells:
        out.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                             for i, c in enumerate(row)))
    out.extend("  " + n for n in t["notes"])
    return "\n".join(out)


def render_md_table(t):
    cells = [[_cell(c).replace("|", "\\|") for c in row] for row in t["rows"]]
    out = ["**%s**" % t["title"], ""]
    out.append("| " + " | ".join(t["columns"]) + " |")
    out.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(t["columns"]))) + "|")
    for row in cells:
        out.append("| " + " | ".join(row) + " |")
    if t["notes"]:
        out.append("")
        out.extend("- " + n for n in t["notes"])
    return "\n".join(out)


def print_result(res):
    print("# %s" % res["title"])
    for t in res["tables"]:
        print()
        print(render_text_table(t))
    goals = [(k, f) for k, f in res["figures"].items() if "goal" in f]
    if goals:
        print()
        for k, f in goals:
            print("goal %s: %s %s %s (goal %s): %s" % (
                k, f["what"], _cell(f["value"]), f["unit"], f["goal"],
                "met" if f.get("met") else "NOT met"))


def main(run, argv=None):
    """The command line of every benchmark: [--quick] [--json FILE]."""
    argv = list(sys.argv[1:] if argv is None else argv)
    quick = "--quick" in argv or os.environ.get("BENCH_QUICK") == "1"
    out = None
    if "--json" in argv:
        out = argv[argv.index("--json") + 1]
    res = run(quick=quick)
    res["quick"] = quick
    print_result(res)
    if out:
        with open(out, "w") as f:
            json.dump(res, f, indent=1)
    return 0
