"""docs/results.md, written from the measurement records in docs/results/.

    python benchmarks/report.py                        # write docs/results.md from the records
    python benchmarks/report.py --check                # exit 1 when docs/results.md is out of date
    CS20_DATA_DIR=../shared/data python benchmarks/report.py run BENCHMARK [FLAGS ...]
    CS20_DATA_DIR=../shared/data python benchmarks/report.py run LECTURE [FLAGS ...]

A record is one measurement run, docs/results/<what>-<date>-<n>.json:

    {"benchmark": "tfrecord",                          # a benchmarks/ script or a lecture
     "command": "python benchmarks/tfrecord.py",       # what was run
     "date": "2026-12-06", "machine": "...",
     "results": {...}}                                 # the JSON the benchmark printed, or
                                                       # the lecture run's results.json
    optional: "source" (where a figure measured earlier was copied from), "note" (one
    line on the conditions), "headline" (paths of the figures the README quotes)

Curves (lecture 11's runs against time, lecture 9's FID during training) are drawn as
docs/results/<record>.png when docs/results.md is written.

`run BENCHMARK` runs benchmarks/BENCHMARK.py with FLAGS, stores what it prints on stdout
as a new record and writes docs/results.md again; `run LECTURE` runs the lecture
(`python -m lectures.LECTURE FLAGS`) in a fresh temporary --run-dir and stores its
results.json. `--tiny` is refused: its figures mean nothing. Nobody edits docs/results.md:
every figure in it comes from a record, with the record's date, machine and command.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import re
import shlex
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
RECORDS = ROOT / "docs" / "results"
OUTPUT = ROOT / "docs" / "results.md"

LECTURES = {
    "l02_ops": "Lecture 1-2: operations",
    "l03_linear_regression": "Lecture 3a: linear regression",
    "l03_logistic_regression": "Lecture 3b: logistic regression",
    "l04_eager": "Lecture 4: eager execution",
    "l05_word2vec": "Lecture 5a: word2vec",
    "l05_experiments": "Lecture 5b: managing experiments",
    "l07_convnet": "Lecture 7: ConvNet on MNIST",
    "l07_kernels": "Lecture 7: kernels",
    "l08_tfrecord": "Lecture 8a: TFRecord",
    "l08_style_transfer": "Lecture 8b: style transfer",
    "l09_gan": "Lecture 9: GAN",
    "l10_vae": "Lecture 10: VAE",
    "l11_char_rnn": "Lecture 11: char-RNN",
    "l12_translation": "Lecture 12: translation",
}
BENCHMARKS = {
    "feeding_styles": "lecture 3's feeding styles, eager vs tf.function",
    "convnet": "lecture 7: our loop vs model.fit, pipeline vs model, FLOP/s",
    "tfrecord": "TFRecord writing and reading",
    "style_transfer": "lecture 8b: seconds per step, grain and edge lines, 12 pairs",
    "word2vec": "lecture 5a: course settings vs gensim vs --preset fast",
    "generative": "FID on MNIST: lecture 9's GAN, lecture 10's VAEs, real digits",
    "vae": "lecture 10: test ELBO and importance-weighted bound",
    "char_rnn": "lecture 11: bits/char in a time budget vs n-grams; our step vs fit",
    "translation": "lecture 12: BLEU greedy vs beam search",
    "loop": "the shared loop vs a bare loop and model.fit; time to first step",
    "scale": "steps/s: default, mirrored, mixed precision, XLA",
    "gpu_check": "every lecture on a GPU",
    "exercise_checks": "`python -m cs20 check EXERCISE --solution`: time per check",
    "test_suite": "the test suite, as .ci/run runs it",
}

# The figures the README quotes from a run of each: stored in its record as "headline".
HEADLINES = {
    "l02_ops": ["lazy_loading/normal_traces", "lazy_loading/normal_add_ops",
                "lazy_loading/lazy_traces", "lazy_loading/lazy_add_ops"],
    "l03_linear_regression": ["squared/tf_data/w", "squared/tf_data/b"],
    "l04_eager": ["huber/tf_function/w", "huber/tf_function/b",
                  "huber/speedup_tf_function_over_eager"],
    "l05_experiments": ["random/same_in_new_process", "checkpoint/weights_equal",
                        "gradients/d2z/dx2"],
    "l07_kernels": ["gray_mean/original", "gray_mean/blur"],
}


# --- records -----------------------------------------------------------------------------

def load_records(folder: pathlib.Path = RECORDS) -> list[dict]:
    records = []
    for path in sorted(folder.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        missing = {"benchmark", "command", "date", "machine", "results"} - record.keys()
        if missing:
            raise ValueError(f"{path}: record without {', '.join(sorted(missing))}")
        record["file"] = path.name
        records.append(record)
    return records


def newest(benchmark: str, folder: pathlib.Path = RECORDS) -> dict | None:
    """The newest record of a benchmark (by date, then file name), or None."""
    chosen = [record for record in load_records(folder) if record["benchmark"] == benchmark]
    return max(chosen, key=lambda record: (record["date"], record["file"]), default=None)


def machine() -> str:
    """The machine a measurement runs on, in words."""
    model = ""
    cpuinfo = pathlib.Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        model = f" ({found.group(1).strip()})" if found else ""
    return f"{os.cpu_count()} CPU cores{model}, {platform.machine()}, {platform.system()}"


def store(record: dict, folder: pathlib.Path = RECORDS) -> pathlib.Path:
    """Writes a record as <benchmark>-<date>-<n>.json, n the first number not yet taken."""
    folder.mkdir(parents=True, exist_ok=True)
    number = 1
    while (path := folder / f"{record['benchmark']}-{record['date']}-{number}.json").exists():
        number += 1
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def measure(what: str, flags: list[str]) -> dict:
    """Runs a benchmark (its JSON from stdout) or a lecture (its results.json) as a record."""
    if "--tiny" in flags:
        raise SystemExit("report.py: --tiny measures nothing (its figures mean nothing)")
    today = datetime.date.today().isoformat()
    if (ROOT / "benchmarks" / f"{what}.py").is_file():
        command = ["python", f"benchmarks/{what}.py", *flags]
        completed = subprocess.run([sys.executable, *command[1:]], cwd=ROOT, stdout=subprocess.PIPE,
                                   text=True, check=True)
        results = json.loads(completed.stdout)
        note = ""
    elif what in LECTURES or (ROOT / "lectures" / what).is_dir():
        package = (ROOT / "lectures" / what / "lecture.py").is_file()
        command = ["python", *(["-m", f"lectures.{what}"] if package else [f"lectures/{what}.py"]),
                   *flags]
        with tempfile.TemporaryDirectory(prefix=f"report_{what}_") as folder:
            run_dir = pathlib.Path(folder) / "run"
            subprocess.run([sys.executable, "-m", "cs20", "run", what, "--run-dir", str(run_dir),
                            *flags], cwd=ROOT, check=True, stdout=sys.stderr)
            results = json.loads((run_dir / "results.json").read_text())
        results.pop("data_files", None)  # paths on this machine, not figures
        note = "run in a fresh temporary --run-dir; figures from its results.json"
    else:
        raise SystemExit(f"report.py: {what!r} is neither a benchmark nor a lecture")
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    note = " ".join(filter(None, [note and note + ";", f"load average {load} at the end"]))
    record = {"benchmark": what, "command": shlex.join(command), "date": today,
              "machine": machine(), "note": note, "results": results}
    headline = [key for key in HEADLINES.get(what, []) if key in results]
    return {**record, "headline": headline} if headline else record


# --- docs/results.md ---------------------------------------------------------------------

def is_scalar(value) -> bool:
    return value is None or isinstance(value, (bool, int, float, str)) or (
        isinstance(value, list) and all(is_scalar(item) and not isinstance(item, list)
                                        for item in value))


def cell(value) -> str:
    if isinstance(value, list):
        return " / ".join(cell(item) for item in value)
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return f"{value:,.6g}" if isinstance(value, float) else f"{value:,}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return lines


def columns_of(rows: list[dict]) -> list[str]:
    columns = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    return columns


def tables(value, path: tuple = ()) -> list[tuple[str, list[str]]]:
    """(title, markdown lines) of every table in a benchmark's JSON: a dict's scalar
    entries as figure | value, a dict of dicts of scalars (or a list of such dicts) as
    one row per entry, anything deeper recursively."""
    title = " / ".join(f"`{key}`" for key in path)
    found = []
    if isinstance(value, list):
        if all(isinstance(item, dict) and all(is_scalar(v) for v in item.values())
               for item in value):
            columns = columns_of(value)
            found.append((title, table(columns, [[item.get(c) for c in columns]
                                                 for item in value])))
        else:
            for index, item in enumerate(value):
                found += tables(item, (*path, index))
        return found
    if not isinstance(value, dict):
        return [(title, table(["figure", "value"], [[path[-1] if path else "", value]]))]
    scalars = {key: item for key, item in value.items() if is_scalar(item)}
    rows = {key: item for key, item in value.items()
            if isinstance(item, dict) and item and all(is_scalar(v) for v in item.values())}
    if len(rows) > 1:
        columns = columns_of(list(rows.values()))
        found.append((title, table(["", *[f"`{c}`" for c in columns]],
                                   [[f"`{key}`", *[item.get(c) for c in columns]]
                                    for key, item in rows.items()])))
    else:  # a single entry of figures: its own figure | value table, below
        rows = {}
    if scalars:
        found.append((title, table(["figure", "value"], [[f"`{key}`", item]
                                                         for key, item in scalars.items()])))
    for key, item in value.items():
        if key not in scalars and key not in rows:
            found += tables(item, (*path, key))
    return found


def scale_view(results: dict) -> list[tuple[str, list[str]]]:
    """benchmarks/scale.py: one row per lecture, one column per variant (steps/s)."""
    per_lecture = results.get("steps_per_second", {})
    variants = columns_of(list(per_lecture.values()))
    rows = []
    for lecture, figures in per_lecture.items():
        row = [lecture]
        for variant in variants:
            entry = figures.get(variant, {})
            row.append(entry.get("steps_per_second", entry.get("refused")))
        rows.append(row)
    rest = {key: item for key, item in results.items() if key != "steps_per_second"}
    return [("training steps/s", table(["lecture", *variants], rows)), *tables(rest)]


VIEWS = {"scale": scale_view}


# --- pictures: curves a reader would rather look at than read ----------------------------

def curves(record: dict) -> dict[str, tuple[list, list]] | None:
    """{label: (x, y)} of a record that holds curves, else None."""
    results = record["results"]
    if record["benchmark"] == "char_rnn" and isinstance(results.get("runs"), list):
        return {run["run"]: ([120, 240, 360, 480, run["at_seconds"]],
                             [*run["bits_per_character_at_120_240_360_480_s"],
                              run["validation_bits_per_character"]])
                for run in results["runs"] if "bits_per_character_at_120_240_360_480_s" in run}
    if record["benchmark"] == "l09_gan" and "fid_every_500_steps" in results:
        fids = results["fid_every_500_steps"]
        return {"FID, 10,000 samples": ([500 * (i + 1) for i in range(len(fids))], fids)}
    return None


AXES = {"char_rnn": ("seconds of training", "validation bits per character"),
        "l09_gan": ("training step", "FID on MNIST")}


def picture_name(record: dict) -> str | None:
    return record["file"].removesuffix(".json") + ".png" if curves(record) else None


def draw(record: dict, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(8, 5), dpi=80)
    colours = matplotlib.colormaps["tab20"].colors
    for number, (label, (x, y)) in enumerate(curves(record).items()):
        kept = [index for index, value in enumerate(y) if value is not None]
        axes.plot([x[i] for i in kept], [y[i] for i in kept], marker="os^"[number % 3],
                  markersize=3, label=label[:70], color=colours[number % len(colours)],
                  linestyle="-" if number < 10 else "--")
    axes.set_xlabel(AXES[record["benchmark"]][0])
    axes.set_ylabel(AXES[record["benchmark"]][1])
    axes.set_title(f"{record['benchmark']}, {record['date']}", fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=6)
    figure.tight_layout()
    figure.savefig(path, metadata={"Software": None})
    pyplot.close(figure)


def lookup(results: dict, path):
    """A figure of a record's results: `path` a top-level key or a list of keys."""
    for key in [path] if isinstance(path, str) else path:
        results = results[key]
    return results


def title_of(name: str) -> str:
    if name in LECTURES:
        return LECTURES[name]
    return f"benchmarks/{name}.py" if (ROOT / "benchmarks" / f"{name}.py").is_file() else name


def headlines(records: list[dict], order: list[str]) -> list[str]:
    """One row per figure a record names as its headline (those the README quotes)."""
    rows = []
    for record in sorted(records, key=lambda r: (order.index(r["benchmark"]), r["date"],
                                                 r["file"])):
        for path in record.get("headline", []):
            label = path if isinstance(path, str) else " / ".join(map(str, path))
            rows.append([f"[{title_of(record['benchmark'])}](#{record['benchmark']})",
                         f"`{label}`", lookup(record["results"], path),
                         record["date"] + (", carried" if record.get("source") else ""),
                         f"`{record['command']}`"])
    if not rows:
        return []
    return ["", "## Headline figures", "",
            "The figures the README quotes, each from the record below it names.", "",
            *table(["", "figure", "value", "date", "command"], rows)]


def describe(record: dict) -> list[str]:
    lines = [f"`{record['command']}` on {record['machine']}."]
    if record.get("source"):
        source = record["source"]
        source = f"the {source}" if source.startswith("README") else source
        lines.append(f"Carried from {source} (measured then, not run again).")
    if record.get("note"):
        lines.append(record["note"][0].upper() + record["note"][1:].rstrip(".") + ".")
    lines.append(f"Record: [{record['file']}](results/{record['file']}).")
    return [line + "  " for line in lines[:-1]] + lines[-1:]


def render(records: list[dict]) -> str:
    known = list(LECTURES) + list(BENCHMARKS)
    order = known + sorted({r["benchmark"] for r in records} - set(known))
    names = [name for name in order if any(r["benchmark"] == name for r in records)]
    lines = [
        "# Measured results",
        "",
        "Written by `python benchmarks/report.py` from the records in "
        "[docs/results/](results/): one JSON file per run of a benchmark or a lecture, "
        "holding its command, date, machine and the JSON it produced. Do not edit this "
        "file: `python benchmarks/report.py run BENCHMARK|LECTURE [FLAGS]` measures and "
        "adds a record, and `tests/test_docs.py` fails when this file differs from what "
        "the records give. Records marked *carried* hold figures measured in earlier "
        "sessions, copied from the README with the date, machine and command it gave for "
        "them (where it gave no date: the date of the commit that added the figure).",
        "",
        "The machine is shared (several sessions run on its 2 cores at once), so times and "
        "rates vary by tens of percent between records: compare figures within a record.",
        "",
        *[f"- [{title_of(name)}](#{name})" + (f": {BENCHMARKS[name]}" if name in BENCHMARKS
                                               else "") for name in names],
        *headlines(records, order),
    ]
    for name in names:
        lines += ["", f'<a id="{name}"></a>', "", f"## {title_of(name)}"]
        if name in BENCHMARKS:
            lines += ["", BENCHMARKS[name][0].upper() + BENCHMARKS[name][1:] + "."]
        chosen = sorted((r for r in records if r["benchmark"] == name),  # newest first, and
                        key=lambda r: (r["date"], bool(r.get("headline")), r["file"]),
                        reverse=True)  # of one day the record the README quotes
        for record in chosen:
            lines += ["", f"### {record['date']}" + (", carried" if record.get("source") else ""),
                      "", *describe(record)]
            for caption, rows in VIEWS.get(name, tables)(record["results"]):
                lines += [""] + ([caption, ""] if caption else []) + rows
            if picture_name(record):
                lines += ["", f"![{record['file']}](results/{picture_name(record)})"]
    return "\n".join(lines) + "\n"


def main_cli(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when docs/results.md differs from what the records give")
    parser.add_argument("action", nargs="?", choices=["run"],
                        help="run: measure a benchmark or lecture and store its record")
    parser.add_argument("what", nargs="?", help="a benchmarks/ script's name or a lecture")
    parser.add_argument("flags", nargs=argparse.REMAINDER, help="flags for it")
    arguments = parser.parse_args(argv)
    if arguments.action == "run":
        if not arguments.what:
            parser.error("run needs a benchmark or lecture name")
        print(f"stored {store(measure(arguments.what, arguments.flags)).relative_to(ROOT)}",
              file=sys.stderr)
    text = render(load_records())
    if arguments.check:
        if not OUTPUT.is_file() or OUTPUT.read_text(encoding="utf-8") != text:
            print("docs/results.md is out of date: run python benchmarks/report.py",
                  file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    for record in load_records():
        if picture_name(record):
            draw(record, RECORDS / picture_name(record))
    print(f"wrote {OUTPUT.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main_cli())
