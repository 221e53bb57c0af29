"""Frozen dataclass configs that turn into command-line flags.

A lecture declares its settings once, as a dataclass whose fields carry a default and a
help text (`option`). `parse` builds the argparse parser from those fields, so a flag
can never drift from the setting it controls: `num_steps` becomes `--num-steps`,
booleans become `--flag/--no-flag`, and `choices` are checked. An unknown or ill-typed
flag is a one-line error with exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import sys
import typing


def option(default, help: str, choices: typing.Sequence | None = None):  # noqa: A002
    """A config field with its help text (and allowed values) for the generated flag."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Settings every lecture has, training or not."""

    run_dir: str = option("", "Run directory (default: runs/<lecture>/<date-time>). "
                              "Pass an existing one to resume it.")
    fresh: bool = option(False, "Ignore and delete checkpoints in --run-dir and start over.")
    seed: int = option(42, "Global random seed (Python, NumPy, TensorFlow).")
    deterministic: bool = option(False, "Enable TensorFlow op determinism (slower, "
                                        "bit-identical reruns).")
    data_dir: str = option("", "Folder searched first for data files "
                               "(then $CS20_DATA_DIR, then the data/ cache).")

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            choices = field.metadata.get("choices")
            if choices is not None and value not in choices:
                raise ValueError(f"--{flag_name(field.name)} must be one of "
                                 f"{', '.join(map(str, choices))}, not {value!r}")
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                raise ValueError(f"--{flag_name(field.name)} must not be negative, got {value}")


@dataclasses.dataclass(frozen=True)
class TrainConfig(RunConfig):
    """Settings every training lecture has (DESIGN.md, 'Common flags')."""

    num_steps: int = option(1000, "Number of training steps (0: use --num-epochs).")
    num_epochs: int = option(0, "Number of passes over the training set (used when "
                                "--num-steps is 0).")
    batch_size: int = option(128, "Global batch size (split across replicas).")
    learning_rate: float = option(1e-3, "Optimizer learning rate.")
    strategy: str = option("default", "tf.distribute strategy.",
                           choices=("default", "mirrored", "multi_worker"))
    logical_devices: int = option(0, "Split the CPU into N logical devices, to try --strategy "
                                     "mirrored without GPUs (0: leave the devices alone).")
    mixed_precision: bool = option(False, "Compute in float16 on GPU / bfloat16 on CPU, "
                                          "keep variables in float32.")
    jit_compile: bool = option(False, "Compile the training step with XLA.")
    eval_every: int = option(0, "Evaluate every N steps (0: once per epoch).")
    checkpoint_every: int = option(0, "Save a checkpoint every N steps (0: once per epoch).")
    summary_every: int = option(100, "Write TensorBoard scalars every N steps.")
    max_seconds: float = option(0.0, "Stop after this many seconds of training, with an "
                                     "evaluation and a checkpoint; run the same command "
                                     "again to go on (0: no limit).")
    steps_per_call: int = option(0, "Training steps per call of the compiled step (0: automatic, "
                                    "calls of about 0.1 s that end at every summary, "
                                    "evaluation and checkpoint step).")

    def __post_init__(self):
        super().__post_init__()
        if self.batch_size < 1:
            raise ValueError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.num_steps == 0 and self.num_epochs == 0:
            raise ValueError("set --num-steps or --num-epochs to a positive number")
        if self.summary_every < 1:
            raise ValueError(f"--summary-every must be at least 1, got {self.summary_every}")


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


def build_parser(config_class: type, description: str | None, prog: str | None = None):
    parser = _OneLineErrorParser(
        prog=prog, description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    hints = typing.get_type_hints(config_class)
    for field in dataclasses.fields(config_class):
        kind = hints[field.name]
        flag = f"--{flag_name(field.name)}"
        help_text = field.metadata.get("help", "")
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction,
                                default=field.default, help=help_text)
        else:
            parser.add_argument(flag, type=kind, default=field.default,
                                choices=field.metadata.get("choices"),
                                metavar=None if field.metadata.get("choices") else kind.__name__.upper(),
                                help=f"{help_text} (default: {field.default!r})")
    return parser


def parse(config_class: type, argv: typing.Sequence[str] | None = None,
          description: str | None = None, prog: str | None = None):
    """Flags -> a frozen config. Bad flags or values exit with code 2 and one line."""
    parser = build_parser(config_class, description, prog)
    arguments = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    try:
        return config_class(**vars(arguments))
    except ValueError as error:
        parser.error(str(error))


def to_dict(config) -> dict:
    return dataclasses.asdict(config)


def describe(config) -> str:
    """The resolved config as aligned `name = value` lines, for the terminal."""
    values = to_dict(config)
    width = max(len(name) for name in values)
    return "\n".join(f"  {name:<{width}} = {value!r}" for name, value in values.items())


def save(config, path: pathlib.Path) -> None:
    path.write_text(json.dumps(to_dict(config), indent=2, sort_keys=False) + "\n")
