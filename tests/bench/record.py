"""Rewrites the recorded run in RESULTS.md (between the two markers) with
the machine, date, command, commit and table of a run.sh run; the notes
around it are hand-written and left alone.  Used by `run.sh --record`."""
import datetime
import os
import platform
import sys

BEGIN = "<!-- run.sh --record: begin -->"
END = "<!-- run.sh --record: end -->"


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    distro = platform.system()
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    distro = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "%s, %d cores, %s, Linux %s" % (model, os.cpu_count() or 0, distro, platform.release())


def main(results, table_file, command, commit):
    with open(table_file) as f:
        table = f.read().rstrip("\n")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    block = "\n".join([
        BEGIN,
        "- Machine: %s" % machine(),
        "- Date: %s" % now,
        "- Command: `%s`" % command,
        "- Commit: %s" % (commit or "unknown"),
        "",
        table,
        END,
    ])
    text = open(results).read() if os.path.exists(results) else BEGIN + "\n" + END + "\n"
    if BEGIN not in text or END not in text:
        sys.exit("record.py: %s has no run markers" % results)
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    with open(results, "w") as f:
        f.write(head + block + tail)


if __name__ == "__main__":
    main(*sys.argv[1:5])
