"""Flags generated from dataclass configs: parsing, types, and one-line errors."""

import dataclasses
import json
import subprocess
import typing

from cs20 import config, runtime

import pytest
from conftest import ROOT, lecture_command


@dataclasses.dataclass(frozen=True)
class ExampleConfig(config.TrainConfig):
    hidden_size: int = config.option(32, "Units in the hidden layer.")
    activation: str = config.option("relu", "Activation.", choices=("relu", "tanh"))


def test_defaults_and_flags():
    cfg = config.parse(ExampleConfig, [])
    assert cfg.hidden_size == 32 and cfg.batch_size == 128 and cfg.fresh is False
    cfg = config.parse(ExampleConfig, ["--hidden-size", "7", "--learning-rate", "0.5",
                                       "--fresh", "--activation", "tanh"])
    assert (cfg.hidden_size, cfg.learning_rate, cfg.fresh, cfg.activation) == (7, 0.5, True, "tanh")
    assert isinstance(cfg.learning_rate, float)


def test_configs_are_frozen():
    cfg = config.parse(ExampleConfig, [])
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.hidden_size = 3


@pytest.mark.parametrize("argv, fragment", [
    (["--no-such-flag", "1"], "unrecognized arguments: --no-such-flag"),
    (["--hidden-size", "many"], "invalid int value: 'many'"),
    (["--activation", "gelu"], "invalid choice: 'gelu'"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--learning-rate", "-1"], "--learning-rate must not be negative"),
])
def test_bad_flags_exit_2_with_one_line(argv, fragment, capsys):
    with pytest.raises(SystemExit) as exit_info:
        config.parse(ExampleConfig, argv, prog="example")
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert fragment in error
    assert error.count("\n") == 1 and error.startswith("example: error:")


def test_help_lists_every_field(capsys):
    with pytest.raises(SystemExit) as exit_info:
        config.parse(ExampleConfig, ["--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    for field in dataclasses.fields(ExampleConfig):
        assert f"--{field.name.replace('_', '-')}" in help_text
    assert "Units in the hidden layer." in help_text


def test_start_writes_config_json(tmp_path):
    cfg = config.parse(ExampleConfig, ["--run-dir", str(tmp_path / "run"), "--hidden-size", "5"])
    run = runtime.start("example", cfg)
    saved = json.loads((run.directory / "config.json").read_text())
    assert saved["hidden_size"] == 5 and saved["run_dir"] == str(tmp_path / "run")


def test_lecture_script_bad_flag_is_one_line_exit_2():
    completed = subprocess.run(
        [*lecture_command("l03_linear_regression"), "--num-epochs", "x"],
        capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert "invalid int value: 'x'" in completed.stderr


@dataclasses.dataclass(frozen=True)
class PresetConfig(config.TrainConfig):
    PRESETS: typing.ClassVar[dict] = {"course": {}, "fast": {"hidden_size": 256,
                                                             "batch_size": 1024}}
    preset: str = config.option("course", "Named settings.", choices=tuple(PRESETS))
    hidden_size: int = config.option(32, "Units in the hidden layer.")


def test_presets_set_their_values_and_typed_flags_win(tmp_path):
    assert config.parse(PresetConfig, []).hidden_size == 32
    fast = config.parse(PresetConfig, ["--preset", "fast"])
    assert (fast.hidden_size, fast.batch_size) == (256, 1024)
    mixed = config.parse(PresetConfig, ["--batch-size", "64", "--preset", "fast"])
    assert (mixed.hidden_size, mixed.batch_size) == (256, 64)
    # A new --run-dir gets the preset too; its resume reads the saved, resolved values.
    run_dir = tmp_path / "run"
    cfg = config.parse(PresetConfig, ["--preset", "fast", "--run-dir", str(run_dir)])
    assert cfg.hidden_size == 256
    run_dir.mkdir()
    config.save(cfg, run_dir / "config.json")
    resumed = config.parse(PresetConfig, ["--run-dir", str(run_dir)])
    assert (resumed.preset, resumed.hidden_size, resumed.batch_size) == ("fast", 256, 1024)


def test_help_lists_what_each_preset_sets(capsys):
    with pytest.raises(SystemExit):
        config.parse(PresetConfig, ["--help"])
    help_text = "".join(capsys.readouterr().out.split())  # argparse wraps lines anywhere
    assert "course:thedefaults." in help_text
    assert "fast:--hidden-size256--batch-size1024." in help_text
