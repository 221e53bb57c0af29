"""Frozen dataclass configs that turn into command-line flags.

A lecture declares its settings once, as a dataclass whose fields carry a default and a
help text (`option`). `parse` builds the argparse parser from those fields, so a flag
can never drift from the setting it controls: `num_steps` becomes `--num-steps`,
booleans become `--flag/--no-flag`, and `choices` are checked. An unknown or ill-typed
flag is a one-line error with exit code 2.

A lecture may also name sets of settings, *presets* (`PRESETS = {"course": {}, "fast":
{...}}` on its config class and a `preset` field): `--preset fast` starts from those
values, and flags typed next to it still win. A run saves the resolved values, so its
resume command does not depend on the preset table.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import pathlib
import sys
import typing


def option(default, help: str, choices: typing.Sequence | None = None,  # noqa: A002
           changeable: bool = False):
    """A config field with its help text (and allowed values) for the generated flag.

    `changeable` settings may differ from a run's saved config.json when it is resumed
    (how long to train, how often to log, which hardware, use-the-model flags); every
    other setting defines the run, and contradicting it on resume is an error.
    """
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices,
                                                        "changeable": changeable})


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Settings every lecture has, training or not."""

    run_dir: str = option("", "Run directory (default: runs/<lecture>/<date-time>). "
                              "Pass an existing one to resume it with its saved "
                              "config.json.", changeable=True)
    fresh: bool = option(False, "Start --run-dir over: delete the checkpoints, event files "
                                "and results its run wrote (only a run of this lecture; "
                                "nothing else in the folder), and the flags given now "
                                "replace its config.json.", changeable=True)
    seed: int = option(42, "Global random seed (Python, NumPy, TensorFlow).")
    deterministic: bool = option(False, "Enable TensorFlow op determinism (slower, "
                                        "bit-identical reruns).", changeable=True)
    data_dir: str = option("", "The only folder searched for data files (without it: "
                               "$CS20_DATA_DIR, the data/ cache, a download).")

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            choices = field.metadata.get("choices")
            if choices is not None and value not in choices:
                raise ValueError(f"--{flag_name(field.name)} must be one of "
                                 f"{', '.join(map(str, choices))}, not {value!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"--{flag_name(field.name)} must be a finite number, "
                                 f"got {value}")
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                raise ValueError(f"--{flag_name(field.name)} must not be negative, got {value}")


@dataclasses.dataclass(frozen=True)
class TrainConfig(RunConfig):
    """Settings every training lecture has (docs/design.md, 'Common flags')."""

    num_steps: int = option(1000, "Number of training steps (0: use --num-epochs).",
                            changeable=True)
    num_epochs: int = option(0, "Number of passes over the training set (used when "
                                "--num-steps is 0).", changeable=True)
    batch_size: int = option(128, "Global batch size (split across replicas).")
    learning_rate: float = option(1e-3, "Optimizer learning rate.", changeable=True)
    strategy: str = option("default", "tf.distribute strategy.",
                           choices=("default", "mirrored", "multi_worker"), changeable=True)
    logical_devices: int = option(0, "Split the CPU into N logical devices, to try --strategy "
                                     "mirrored without GPUs (0: leave the devices alone).",
                                  changeable=True)
    mixed_precision: bool = option(False, "Compute in float16 on GPU / bfloat16 on CPU, "
                                          "keep variables in float32.", changeable=True)
    jit_compile: bool = option(False, "Compile the training step with XLA.", changeable=True)
    eval_every: int = option(0, "Evaluate every N steps (0: once per epoch).", changeable=True)
    checkpoint_every: int = option(0, "Save a checkpoint every N steps (0: once per epoch).",
                                   changeable=True)
    summary_every: int = option(100, "Write TensorBoard scalars every N steps.", changeable=True)
    max_seconds: float = option(0.0, "Stop after this many seconds of training, with an "
                                     "evaluation and a checkpoint; run the same command "
                                     "again to go on (0: no limit).", changeable=True)
    quiet: bool = option(False, "Do not print the worked example (the lecture's core object "
                                "on a tiny input) before training.", changeable=True)
    steps_per_call: int = option(0, "Training steps per call of the compiled step (0: automatic, "
                                    "calls of about 0.1 s that end at every summary, "
                                    "evaluation and checkpoint step).", changeable=True)

    def __post_init__(self):
        super().__post_init__()
        if self.batch_size < 1:
            raise ValueError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.num_steps == 0 and self.num_epochs == 0:
            raise ValueError("set --num-steps or --num-epochs to a positive number")
        if self.summary_every < 1:
            raise ValueError(f"--summary-every must be at least 1, got {self.summary_every}")


def check_batch_size(batch_size: int, examples: int, unit: str = "training examples") -> None:
    """A batch against the data it is drawn from, which only a lecture knows (a one-line
    ValueError): a batch larger than the training data would hold examples twice, and an
    endless stream of such batches fills the memory before the first step."""
    if batch_size > examples:
        raise ValueError(f"a training batch of {batch_size:,} is more than the {examples:,} "
                         f"{unit} there are: it would hold examples twice (and fill the memory "
                         f"trying); lower --batch-size to at most {examples:,}")


@dataclasses.dataclass(frozen=True)
class EpochTrainConfig(TrainConfig):
    """Training counted in epochs over a fixed training set, Adam with a decaying rate
    (`training.learning_rate`); the MNIST lectures share it and set their own defaults."""

    num_steps: int = option(0, "Training steps (0: use --num-epochs).")
    num_epochs: int = option(10, "Passes over the training set.")
    learning_rate: float = option(1e-3, "Adam learning rate (the peak, with decay).")
    decay: str = option("cosine", "Learning-rate decay over the run.",
                        choices=("constant", "cosine"))


def flag_name(field_name: str) -> str:
    return field_name.replace("_", "-")


class _OneLineErrorParser(argparse.ArgumentParser):
    """argparse prints the whole usage block on error; one line is easier to read."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser(config_class: type, description: str | None, prog: str | None = None,
                 only_given: bool = False):
    """The argparse parser of `config_class`. `only_given`: flags left out do not appear
    in the parsed namespace (to tell a flag typed now from a default)."""
    parser = _OneLineErrorParser(
        prog=prog, description=description, add_help=not only_given,
        argument_default=argparse.SUPPRESS if only_given else None,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    hints = typing.get_type_hints(config_class)
    for field in dataclasses.fields(config_class):
        kind = hints[field.name]
        flag = f"--{flag_name(field.name)}"
        help_text = field.metadata.get("help", "")
        if field.name == "preset":
            help_text = f"{help_text} {describe_presets(config_class)}"
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction,
                                default=argparse.SUPPRESS if only_given else field.default,
                                help=help_text)
        else:
            parser.add_argument(flag, type=kind,
                                default=argparse.SUPPRESS if only_given else field.default,
                                choices=field.metadata.get("choices"),
                                metavar=None if field.metadata.get("choices") else kind.__name__.upper(),
                                help=f"{help_text} (default: {field.default!r})")
    return parser


def parse(config_class: type, argv: typing.Sequence[str] | None = None,
          description: str | None = None, prog: str | None = None):
    """Flags -> a frozen config. Bad flags or values exit with code 2 and one line.

    With `--run-dir` of an existing run (and no `--fresh`), the run's saved config.json
    is the starting point: flags given now may only change the `changeable` settings,
    so the printed resume command (`--run-dir DIR` alone) continues the run as it was.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(config_class, description, prog)
    arguments = parser.parse_args(argv)
    given = vars(build_parser(config_class, description, prog, only_given=True)
                 .parse_args(argv))
    values = vars(arguments)
    try:
        preset = preset_values(config_class, values.get("preset"))
        if values["run_dir"] and not values["fresh"]:
            values = resume_values(config_class, pathlib.Path(values["run_dir"]), given,
                                   lecture=prog, preset=preset)
        else:
            values = {**values, **preset, **given}
        return config_class(**values)
    except ValueError as error:
        parser.error(str(error))


# The config `cli.run_lecture` parsed from the command line, while its lecture runs.
_launched: list = []


@contextlib.contextmanager
def launched(config):
    """Hands `config` to the lecture that runs inside the block (`for_lecture`)."""
    _launched.append(config)
    try:
        yield
    finally:
        _launched.pop()


def lecture_of(config_class: type) -> str:
    """The lecture a config belongs to: lectures.l07_convnet.config.Config -> l07_convnet."""
    parts = config_class.__module__.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "lectures" else config_class.__module__


def for_lecture(config_class: type, settings: dict):
    """A lecture's config, in its first cell: the one parsed from the command line when it
    runs as a script (`python -m lectures.NAME --flags`), otherwise (in a notebook) the
    defaults with `settings` changed, {field name: value}. Resume rules, presets and
    checks are the command line's: `settings` are the flags a user would have typed."""
    if _launched and isinstance(_launched[-1], config_class):
        return _launched[-1]
    fields = {field.name: field.default for field in dataclasses.fields(config_class)}
    unknown = sorted(set(settings) - set(fields))
    if unknown:
        raise ValueError(f"unknown settings {', '.join(unknown)}; the settings are "
                         f"{', '.join(fields)}")
    preset = preset_values(config_class, settings.get("preset"))
    run_dir = settings.get("run_dir", fields.get("run_dir"))
    if run_dir and not settings.get("fresh"):
        values = resume_values(config_class, pathlib.Path(run_dir), dict(settings),
                               lecture=lecture_of(config_class), preset=preset)
    else:
        values = {**fields, **preset, **settings}
    return config_class(**values)


def preset_values(config_class: type, name: str | None) -> dict:
    """{field: value} that preset `name` sets ({} for a config without presets)."""
    presets = getattr(config_class, "PRESETS", {})
    if name is None or not presets:
        return {}
    fields = {field.name for field in dataclasses.fields(config_class)}
    unknown = sorted(set(presets[name]) - fields)
    if unknown:  # a mistake in the lecture's table, not the user's
        raise TypeError(f"preset {name!r} sets unknown settings: {', '.join(unknown)}")
    return dict(presets[name])


def describe_presets(config_class: type) -> str:
    """One sentence per preset, as flags: "fast: --batch-size 1024 --epochs 3." """
    sentences = []
    for name, settings in getattr(config_class, "PRESETS", {}).items():
        flags = " ".join(f"--{flag_name(key)} {value}" for key, value in settings.items())
        sentences.append(f"{name}: {flags or 'the defaults'}.")
    return " ".join(sentences)


RUN_INFO = "run.json"  # which lecture a run directory belongs to, and its history


def changeable_fields(config_class: type) -> set[str]:
    """Fields marked `changeable` here or in any base config (a lecture that overrides
    `num_steps`' default keeps it changeable)."""
    names = set()
    for base in config_class.__mro__:
        if dataclasses.is_dataclass(base):
            names |= {field.name for field in dataclasses.fields(base)
                      if field.metadata.get("changeable")}
    return names


def resume_values(config_class: type, run_dir: pathlib.Path, given: dict,
                  lecture: str | None, preset: dict | None = None) -> dict:
    """The settings to resume `run_dir` with: its config.json, overridden by the flags
    `given` now where a setting may change. Reads only; raises ValueError listing every
    contradiction, so nothing in the run is touched by a refused resume. A new run starts
    from the defaults with `preset` ({field: value}) over them."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"--run-dir {run_dir} is a file, not a folder")
    saved_path = run_dir / "config.json"
    defaults = {field.name: field.default for field in dataclasses.fields(config_class)}
    if not saved_path.is_file():
        if visible_entries(run_dir) and not (run_dir / RUN_INFO).exists():
            raise ValueError(f"--run-dir {run_dir} is a folder that is not a cs20 run (no "
                             "config.json); choose an empty or new folder")
        return {**defaults, **(preset or {}), **given}
    owner = run_lecture(run_dir)
    if lecture and owner and owner != lecture:
        raise ValueError(f"--run-dir {run_dir} is a run of {owner}, not {lecture}; choose "
                         f"another folder (or resume it with python -m lectures.{owner})")
    try:
        saved = json.loads(saved_path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read {saved_path} ({error}); repair it, or start over "
                         "with --fresh") from None
    unknown = sorted(set(saved) - set(defaults))
    if unknown:
        raise ValueError(f"{saved_path} has settings this lecture does not know "
                         f"({', '.join(unknown)}): it belongs to another lecture or version")
    changeable = changeable_fields(config_class)
    conflicts = [f"--{flag_name(name)} {given[name]!r} (the run has {saved[name]!r})"
                 for name in given
                 if name in saved and name not in changeable and given[name] != saved[name]]
    if conflicts:
        raise ValueError(f"--run-dir {run_dir} was started with other settings: "
                         f"{'; '.join(conflicts)}. Leave these flags out to resume it, or "
                         "choose a new --run-dir (or --fresh to start it over)")
    return {**defaults, **saved, **given, "fresh": False}


def visible_entries(run_dir: pathlib.Path) -> list[pathlib.Path]:
    """What a folder holds ([] if it does not exist). Hidden files are left out: a
    starting run's lock comes before its config.json."""
    if not run_dir.is_dir():
        return []
    return [path for path in run_dir.iterdir() if not path.name.startswith(".")]


def run_lecture(run_dir: pathlib.Path) -> str | None:
    """The lecture that made `run_dir` (from run.json), or None if it does not say."""
    try:
        return json.loads((run_dir / RUN_INFO).read_text()).get("lecture")
    except (OSError, ValueError):
        return None


def changes(before: dict, after) -> dict:
    """{name: [old, new]} of the settings that differ between a saved config and `after`."""
    current = to_dict(after)
    return {name: [before[name], value] for name, value in current.items()
            if name in before and before[name] != value and name not in ("fresh", "run_dir")}


def to_dict(config) -> dict:
    return dataclasses.asdict(config)


def describe(config) -> str:
    """The resolved config as aligned `name = value` lines, for the terminal."""
    values = to_dict(config)
    width = max(len(name) for name in values)
    return "\n".join(f"  {name:<{width}} = {value!r}" for name, value in values.items())


def save(config, path: pathlib.Path) -> None:
    path.write_text(json.dumps(to_dict(config), indent=2, sort_keys=False) + "\n")
