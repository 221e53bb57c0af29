"""The cs20 command line.

    python -m cs20 list                      lectures and exercises, one line each
    python -m cs20 run LECTURE [flags]       same as python -m lectures.LECTURE [flags]
    python -m cs20 notebooks [--check]       write each lecture's lecture.ipynb from its
                                             lecture.py (--check: exit 1 if one is stale)
    python -m cs20 check EXERCISE [FILE]     grade your answers in exercises/EXERCISE/
                                             exercise.py (or FILE, a copy of it);
                                             --solution grades the reference solution;
                                             exit 0 when every problem passes, 1 otherwise
    python -m cs20 data list                 registered data files (size, license)
    python -m cs20 data fetch NAME           find or download one file, print its path
    python -m cs20 data verify               where each file was found, sha256 checked
    python -m cs20 data tfrecord mnist --out DIR --shards N [--compression GZIP]
                                             (or fashion_mnist, kmnist, a folder of IDX files)
    python -m cs20 data tfrecord --images DIR --out DIR    a folder per label -> TFRecords
                                             train on either: python -m lectures.l07_convnet
                                             --dataset DIR (also l03_logistic_regression,
                                             l08_tfrecord, l10_vae)
    python -m cs20 data inspect DIR          schema, counts, first record, shard checksums
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import os
import pathlib
import sys

from cs20 import cli, exercises


def lecture_paths() -> dict[str, pathlib.Path]:
    """Each lecture's name and its package's __init__.py, whose docstring describes it."""
    return {name: cli.LECTURES_DIR / name / "__init__.py" for name in cli.lecture_names()}


def summary_line(path: pathlib.Path) -> str:
    """The docstring's first line, read without importing (and so without TensorFlow)."""
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return docstring.splitlines()[0] if docstring else ""


def command_list(_arguments) -> int:
    lectures, exercise_paths = lecture_paths(), exercises.exercise_paths()
    width = max(map(len, [*lectures, *exercise_paths]), default=0)
    for name, path in lectures.items():
        print(f"{name:<{width}}  {summary_line(path)}")
    print("\nExercises (python -m cs20 check NAME [FILE]):")
    for name, path in exercise_paths.items():
        print(f"{name:<{width}}  {summary_line(path)}")
    return 0


def command_run(arguments) -> int:
    paths = lecture_paths()
    name = arguments.lecture.removesuffix(".py")
    if name not in paths:
        print(f"error: unknown lecture {name!r}; see `python -m cs20 list`", file=sys.stderr)
        return 2
    cli.guard(lambda flags: cli.run_lecture(name, flags), arguments.flags)
    return 0


def command_notebooks(arguments) -> int:
    from cs20 import notebooks

    if arguments.check:
        stale = notebooks.out_of_date()
        for name in stale:
            print(f"{name}: lecture.ipynb is out of date; run `python -m cs20 notebooks`")
        return 1 if stale else 0
    for name in notebooks.write_all():
        print(f"wrote {notebooks.notebook_path(name)}")
    return 0


def command_check(arguments) -> int:
    """Grades a file against an exercise's problems: 0 when all pass, 1 otherwise, 2 for a
    bad exercise name or a missing file."""
    try:
        name = exercises.resolve_name(arguments.exercise)
        path = exercises.choose_file(name, arguments.file, arguments.solution)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from cs20.exercises import grading

    try:
        outcomes = grading.check(name, path)
    except KeyboardInterrupt:  # the user's Ctrl-C (the student's code runs elsewhere)
        print("\nInterrupted (Ctrl-C): no score.", file=sys.stderr)
        return 130
    return 0 if all(outcome.passed for outcome in outcomes) else 1


def command_tfrecord(arguments) -> int:
    """Converts an MNIST-format set (three splits) or a folder of images to sharded
    TFRecords that the MNIST lectures train on with --dataset."""
    from cs20.datasets import sources, tfrecord_io

    if not arguments.out:
        raise ValueError("data tfrecord needs --out DIR (where the shards go)")
    if pathlib.Path(arguments.out).is_file():
        raise ValueError(f"--out {arguments.out} is a file; give a folder for the shards "
                         f"(it is created if missing)")
    if arguments.images:
        images_dir = sources.user_path(arguments.images, "--images", folder=True)
        written = {"images": tfrecord_io.write_image_folder(
            images_dir, arguments.out, num_shards=arguments.shards,
            compression=arguments.compression)}
    elif arguments.name:
        from cs20.datasets import mnist

        splits = mnist.load_splits(arguments.data_dir or None, dataset=arguments.name)
        written = mnist.write_tfrecords(splits, arguments.out, num_shards=arguments.shards,
                                        compression=arguments.compression)
    else:
        raise ValueError("data tfrecord converts an MNIST-format set (mnist, fashion_mnist, "
                         "kmnist or a folder of IDX files) or `--images DIR` (one sub-folder "
                         "of images per label)")
    for name, sidecar in written.items():
        print(f"{name}: {sidecar['num_records']:,} records in {len(sidecar['shards'])} "
              f"shard(s) in {arguments.out}")
        skipped = sidecar["metadata"].get("skipped")
        if skipped:
            print(f"skipped {len(skipped)} files that do not decode as images: "
                  f"{', '.join(skipped)}")
    print(f"Train on them: {cli.lecture_command('l07_convnet')} --dataset {arguments.out}")
    return 0


def command_inspect(arguments) -> int:
    from cs20.datasets import sources, tfrecord_reports

    if not arguments.name:
        raise ValueError("data inspect needs the folder of TFRecords")
    report, all_good = tfrecord_reports.inspect(sources.user_path(arguments.name, "data inspect",
                                                          folder=True))
    print(report)
    return 0 if all_good else 1


def command_data(arguments) -> int:
    from cs20.datasets import sources

    if arguments.action in ("tfrecord", "inspect"):
        handler = command_tfrecord if arguments.action == "tfrecord" else command_inspect
        try:
            return handler(arguments)
        except (ValueError, FileNotFoundError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2

    if arguments.action == "list":
        for source in sources.REGISTRY.values():
            print(f"{source.name:<20} {source.size:>11,} B  {source.filename:<44} {source.license}")
        return 0
    if arguments.action == "fetch":
        if not arguments.name:
            print("error: data fetch needs a NAME; see `python -m cs20 data list`", file=sys.stderr)
            return 2
        try:
            # Only the path on standard output, so that $(python -m cs20 data fetch X) works.
            with contextlib.redirect_stdout(sys.stderr):
                path = sources.resolve(arguments.name, arguments.data_dir)
            print(path)
        except (ValueError, FileNotFoundError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        return 0
    # verify: every registered file, where it was found, checksum checked.
    failures = 0
    for source in sources.REGISTRY.values():
        try:
            found = sources.find_local(source, arguments.data_dir)
            status = f"ok       {found[1]} ({found[0]})" if found else "missing"
        except ValueError as error:
            status, failures = f"MISMATCH {error}", failures + 1
        print(f"{source.name:<20} {source.size:>11,} B  {status}")
    return 1 if failures else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cs20", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the lectures and exercises").set_defaults(
        handler=command_list)
    run = commands.add_parser("run", help="run a lecture (flags go to the lecture)",
                              add_help=False)
    run.add_argument("lecture")
    run.add_argument("flags", nargs=argparse.REMAINDER)
    run.set_defaults(handler=command_run)
    notebooks = commands.add_parser(
        "notebooks", help="write each lecture's lecture.ipynb from its lecture.py")
    notebooks.add_argument("--check", action="store_true",
                           help="write nothing; exit 1 when a notebook is out of date")
    notebooks.set_defaults(handler=command_notebooks)
    check = commands.add_parser(
        "check", help="grade an exercise (one line per problem, a score)",
        description="Runs the checks of an exercise's problems against your file: one line "
                    "per problem (passed, or the first mismatch: expected vs got, shape, "
                    "dtype, or the exception your code raised) and a score. Exit code 0 "
                    "when every problem passes, 1 otherwise, 2 for a bad exercise name or "
                    "a missing file. e02 trains a model on MNIST (a few minutes).")
    check.add_argument("exercise", help="e01_ops, e02_regression, e03_style, e04_attention "
                                        "(or just e01 ... e04)")
    check.add_argument("file", nargs="?", default="",
                       help="your file (default: the starter, exercises/EXERCISE/exercise.py)")
    check.add_argument("--solution", action="store_true",
                       help="check the reference solution, exercises/EXERCISE/solution.py")
    check.set_defaults(handler=command_check)
    data = commands.add_parser("data", help="list, fetch or verify data files; convert to "
                                             "and inspect TFRecords")
    data.add_argument("action", choices=("list", "fetch", "verify", "tfrecord", "inspect"))
    data.add_argument("name", nargs="?", help="data file name (fetch), dataset to convert "
                                              "(tfrecord: mnist, fashion_mnist, kmnist or a "
                                              "folder of IDX files) or folder (inspect)")
    data.add_argument("--data-dir", default="", help="the only folder searched (instead of "
                                                     "$CS20_DATA_DIR, data/ and a download)")
    data.add_argument("--out", default="", help="tfrecord: folder for the shards")
    data.add_argument("--shards", type=int, default=4, help="tfrecord: number of shards")
    data.add_argument("--compression", default="", choices=("", "GZIP", "ZLIB"),
                      help="tfrecord: compress the shards")
    data.add_argument("--images", default="",
                      help="tfrecord: convert this folder (one sub-folder of images per label)")
    data.set_defaults(handler=command_data)
    return parser


def main(argv=None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        return arguments.handler(arguments)
    except BrokenPipeError:
        # The reader went away (`python -m cs20 list | head`): not an error. Point stdout
        # at /dev/null so that Python's flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
