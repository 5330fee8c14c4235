"""`make bench`: run every benchmark and write one report.

    python bench/run.py [--quick] [--out DIR] [NAME ...]

Each bench/bench_NAME.py runs in its own process (`--json FILE`, `--quick` for tiny counts)
and prints its tables as it goes; this collects the results into DIR/report.json,
DIR/report.md and DIR/charts/*.png (default DIR: bench/). A benchmark that fails is reported
as failed, the others still run, and the exit status is 1. Benchmarks never run inside
`make test`; tests/host/test_bench_smoke.py runs this with --quick into a temporary folder.
"""

import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import benchlib  # noqa: E402

# Report order: the board's per-frame work first, then the reference points, then the rest.
ORDER = ("frame", "srtp", "hmac", "e2e", "stanzas", "audio", "echo", "call", "footprint", "media",
         "app", "hal", "switchboard", "deploy", "bridge")
CHARTS = ("per_packet_cost.png", "pesq_by_loss.png", "heap_over_call.png")


def available():
    names = [f[6:-3] for f in os.listdir(HERE) if f.startswith("bench_") and f.endswith(".py")]
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "os": platform.platform(),
            "python": platform.python_version()}
    try:
        from portier_host import paths

        out = subprocess.run([paths.micropython_exe(), "-c",
                              "import sys; print(sys.version, sys.implementation._machine)"],
                             capture_output=True, text=True, timeout=30)
        info["micropython"] = out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        info["micropython"] = None
    try:
        info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE,
                                        capture_output=True, text=True,
                                        timeout=30).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        info["commit"] = None
    try:
        load = os.getloadavg()
        info["load_at_start"] = "%.2f %.2f %.2f" % load
    except OSError:
        pass
    return info


def run_one(name, quick, tmp, capture=False):
    out = os.path.join(tmp, name + ".json")
    cmd = [sys.executable, os.path.join(HERE, "bench_%s.py" % name), "--json", out]
    if quick:
        cmd.append("--quick")
    t0 = time.monotonic()
    tail = ""
    if capture:  # run beside others: print its output in one piece when it is done
        proc = subprocess.run(cmd, cwd=os.path.dirname(HERE), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        print("== bench_%s.py\n%s" % (name, proc.stdout), end="", flush=True)
        rc = proc.returncode
        # Repeated with the failure at the end, where a caller that keeps only the last part of
        # the output (the smoke test, CI) still sees why.
        tail = "\n".join(proc.stdout.splitlines()[-30:])
    else:
        print("== bench_%s.py" % name, flush=True)
        rc = subprocess.call(cmd, cwd=os.path.dirname(HERE))
    took = time.monotonic() - t0
    if rc != 0 or not os.path.exists(out):
        return {"name": name, "error": "exit status %d" % rc, "seconds": took, "tail": tail}
    with open(out) as f:
        res = json.load(f)
    res["seconds"] = took
    return res


# ---- charts ---------------------------------------------------------------------------------

def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def chart_per_packet(results, path):
    """Per-packet (per-frame) cost by runtime: the full-duplex frame and SRTP protect+unprotect
    of a 160 B payload, log scale."""
    groups = []
    frame = results.get("frame", {}).get("data", {}).get("frame_us")
    if frame:
        for codec, label in (("pcmu", "full-duplex frame, G.711"), ("l16", "full-duplex frame, L16")):
            groups.append((label, [(rt, v[codec]) for rt, v in frame.items() if codec in v]))
    srtp = results.get("srtp", {}).get("data", {}).get("srtp_us")
    if srtp:
        groups.append(("SRTP protect+unprotect, 160 B", [(rt, v["160"]) for rt, v in srtp.items()
                                                           if "160" in v]))
    if not groups:
        return False
    plt = _plt()
    runtimes = []
    for _, rows in groups:
        for rt, _v in rows:
            if rt not in runtimes:
                runtimes.append(rt)
    fig, ax = plt.subplots(figsize=(10, 5))
    width = 0.8 / max(1, len(runtimes))
    for i, rt in enumerate(runtimes):
        xs, ys = [], []
        for g, (_label, rows) in enumerate(groups):
            d = dict(rows)
            if rt in d:
                xs.append(g + i * width)
                ys.append(d[rt])
        bars = ax.bar(xs, ys, width, label=rt)
        for b, y in zip(bars, ys):
            ax.annotate("%.0f" % y if y >= 10 else "%.2g" % y, (b.get_x() + b.get_width() / 2, y), ha="center",
                        va="bottom", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("µs per packet / per frame (median, log scale)")
    ax.set_xticks([g + width * (len(runtimes) - 1) / 2 for g in range(len(groups))])
    ax.set_xticklabels([label for label, _ in groups])
    ax.set_title("Per-packet cost by runtime (this machine)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def chart_pesq(results, path):
    pesq = results.get("audio", {}).get("data", {}).get("pesq")
    if not pesq:
        return False
    plt = _plt()
    scenarios = pesq["scenarios"]
    fig, ax = plt.subplots(figsize=(10, 5))
    codecs = list(pesq["mos"])
    width = 0.8 / max(1, len(codecs))
    for i, codec in enumerate(codecs):
        ys = pesq["mos"][codec]
        ax.bar([k + i * width for k in range(len(scenarios))], ys, width, label=codec)
    for label, goal in pesq.get("goals", {}).items():
        if label in scenarios:
            k = scenarios.index(label)
            ax.plot([k - 0.1, k + 0.8], [goal, goal], "k--", linewidth=1)
    ax.set_xticks([k + width * (len(codecs) - 1) / 2 for k in range(len(scenarios))])
    ax.set_xticklabels(scenarios, fontsize=8)
    ax.set_ylim(1, 4.7)
    ax.set_ylabel("PESQ MOS-LQO (mean of talkers)")
    ax.set_title("Speech quality by network condition (G.711 narrowband, L16 wideband; "
                 "dashed: goal)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def chart_heap(results, path):
    s = results.get("call", {}).get("data", {}).get("heap_over_call")
    if not s:
        return False
    plt = _plt()
    fig, ax = plt.subplots(figsize=(10, 5))
    t0 = s["t_ms"][0]
    ax.plot([(t - t0) / 1000 for t in s["t_ms"]], [a / 1024 for a in s["alloc"]],
            label="gc.mem_alloc() (garbage included)", linewidth=1)
    ax.plot([(t - t0) / 1000 for t in s["live_t_ms"]], [a / 1024 for a in s["live"]], "o-",
            label="live (right after gc.collect())", markersize=3)
    if s.get("heap_bytes"):
        ax.axhline(s["heap_bytes"] / 1024, color="grey", linestyle=":", label="heap size")
    ax.set_ylim(0, max(max(s["alloc"]), s.get("heap_bytes") or 0) / 1024 * 1.08)
    for i, (label, t) in enumerate(s["events"]):  # staggered: events can be ms apart
        ax.axvline((t - t0) / 1000, color="red", linewidth=0.8)
        ax.annotate(label, ((t - t0) / 1000, (0.03, 0.3, 0.55)[i % 3]),
                    xycoords=("data", "axes fraction"), rotation=90, fontsize=8, va="bottom",
                    ha="right")
    ax.set_xlabel("seconds since the door's app started")
    ax.set_ylabel("KiB")
    ax.set_title("Door heap over an answered call (host MicroPython, 64-bit, %s heap)"
                 % s.get("heap"))
    ax.legend(fontsize=8, loc="lower center")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


# ---- report ---------------------------------------------------------------------------------

def _num(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return "%.0f" % v if abs(v) >= 1000 else "%.3g" % v
    return str(v)


def render_md(report, charts):
    m = report["machine"]
    out = ["# Portier benchmark report", "",
           "Generated by `make bench` (`bench/run.py`)%s on %s UTC; do not edit by hand." % (
               " with --quick (tiny counts: the numbers mean nothing)" if report["quick"] else "",
               report["generated"]), "",
           "Machine: %s, %s cores, %s; CPython %s; MicroPython %s; commit %s; load average at "
           "start %s. Other jobs on a shared machine inflate medians: each figure gives the "
           "median of repeated runs and the spread (min-max, n)." % (
               m["cpu"], m["cores"], m["os"], m["python"], m.get("micropython"),
               m.get("commit"), m.get("load_at_start")), ""]
    if report["failed"]:
        out += ["**Failed benchmarks:** " + ", ".join("%s (%s)" % f for f in report["failed"]), ""]
    out += ["## Headline figures", "", "| figure | value | runtime | goal |", "|---|---:|---|---|"]
    for name, res in report["results"].items():
        for key, f in res.get("figures", {}).items():
            val = _num(f["value"])
            if f.get("runs", 1) and f.get("runs", 1) > 1:
                val += " (%s-%s, n=%d)" % (_num(f["min"]), _num(f["max"]), f["runs"])
            goal = "-"
            if "goal" in f:
                goal = "%s: %s" % (f["goal"], "met" if f.get("met") else "**not met**")
            what = f["what"] + (" [%s]" % f["note"] if f.get("note") else "")
            out.append("| %s | %s %s | %s | %s |" % (what.replace("|", "\\|"), val, f["unit"],
                                                     f["runtime"], goal))
    out.append("")
    if charts:
        out += ["## Charts", ""]
        for c in charts:
            out += ["![%s](charts/%s)" % (c[:-4].replace("_", " "), c), ""]
    for name, res in report["results"].items():
        out += ["## %s (`bench_%s.py`, %.0f s)" % (res["title"], name, res.get("seconds", 0)), ""]
        out += [res["about"].strip(), ""]
        for t in res["tables"]:
            out += [benchlib.render_md_table(t), ""]
    return "\n".join(out) + "\n"


def parse_args(args):
    import argparse

    p = argparse.ArgumentParser(
        prog="bench/run.py", description="Run the benchmarks (each in its own process) and "
        "write report.md, report.json and charts/ (never part of `make test`).",
        epilog="example: .venv/bin/python bench/run.py --quick --out /tmp/bench srtp frame")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="benchmarks to run (bench/bench_NAME.py): %s; default: all"
                   % ", ".join(available()))
    p.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1",
                   help="tiny counts, two at a time: a smoke run whose figures mean nothing "
                   "(also BENCH_QUICK=1)")
    p.add_argument("--out", metavar="DIR", default=HERE,
                   help="where report.md, report.json and charts/ go (default: bench/, the "
                   "committed report)")
    return p.parse_args(args)


def main(argv):
    args = parse_args(argv[1:])
    quick = args.quick
    out_dir = os.path.abspath(args.out)
    wanted = args.names
    names = available()
    if wanted:
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            print("bench/run.py: no benchmark named %s (there are: %s)"
                  % (", ".join(unknown), ", ".join(names)), file=sys.stderr)
            return 2
        names = [n for n in names if n in wanted]
    report = {"generated": datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M"), "machine": machine(), "quick": quick, "results": {}, "failed": []}
    # Timed runs go one at a time: two benchmarks sharing the CPU would skew each other. A quick
    # run's numbers mean nothing, so it runs two at a time.
    jobs = 2 if quick else 1
    with tempfile.TemporaryDirectory(prefix="portier-bench-") as tmp:
        if jobs > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(jobs) as pool:
                done = list(pool.map(lambda n: run_one(n, quick, tmp, True), names))
        else:
            done = [run_one(n, quick, tmp) for n in names]
        for name, res in zip(names, done):
            if "error" in res:
                print("bench: bench_%s.py failed (%s)" % (name, res["error"]), flush=True)
                if res["tail"]:
                    print("  its last lines:\n    " + res["tail"].replace("\n", "\n    "))
                report["failed"].append((name, res["error"]))
            else:
                report["results"][name] = res
    os.makedirs(os.path.join(out_dir, "charts"), exist_ok=True)
    charts = []
    for fname, fn in zip(CHARTS, (chart_per_packet, chart_pesq, chart_heap)):
        if fn(report["results"], os.path.join(out_dir, "charts", fname)):
            charts.append(fname)
    report["charts"] = charts
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write(render_md(report, charts))
    print("bench: wrote %s (%d benchmarks, %d failed, charts: %s)" % (
        os.path.join(out_dir, "report.md"), len(report["results"]), len(report["failed"]),
        ", ".join(charts) or "none"))
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
