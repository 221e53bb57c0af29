"""The README is a front page, and docs/results.md is generated (issue 30, part 3).

The README stays under 12 KB with one line per lecture (its command, its notebook and a
Colab badge), every link in it points at a file of the project, and the figures its
lecture lines quote are headline figures of docs/results.md, each with its date and
command there. docs/results.md is exactly what `python benchmarks/report.py` writes from
the records in docs/results/. No TensorFlow, no training: this file runs in a second.
"""

import importlib.util
import json
import re
import urllib.parse

from cs20 import cli, notebooks

import pytest
from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
# The lectures of `python -m cs20 list`; the names are written out too, so that a lecture
# still waiting for its folder fails here instead of going unnoticed.
LECTURES = sorted({"l02_ops", "l03_linear_regression", "l03_logistic_regression", "l04_eager",
                   "l05_word2vec", "l05_experiments", "l07_convnet", "l07_kernels",
                   "l08_tfrecord", "l08_style_transfer", "l09_gan", "l10_vae",
                   "l11_char_rnn", "l12_translation", *cli.lecture_names()})
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def load_report():
    spec = importlib.util.spec_from_file_location("report", ROOT / "benchmarks" / "report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def readme_links() -> list[str]:
    inline = re.findall(r"\]\(([^)\s]+)\)", README)
    references = re.findall(r"^\[[^\]]+\]:\s*(\S+)", README, re.MULTILINE)
    return sorted(set(inline + references))


def lecture_line(name: str) -> str:
    lines = [line for line in README.splitlines() if f"`python -m lectures.{name}`" in line]
    assert len(lines) == 1, f"{name}: {len(lines)} README lines with its command"
    return lines[0]


def test_readme_is_at_most_12_kb():
    assert len(README.encode("utf-8")) <= 12 * 1024


def test_readme_runs_the_tests_as_ci_does():
    ci = (ROOT / ".ci" / "run").read_text()
    command = re.search(r"^python3 -m pytest .*$", ci, re.MULTILINE).group(0)
    assert f"    {command}\n" in README


@pytest.mark.parametrize("name", LECTURES)
def test_every_lecture_has_a_line_with_command_notebook_and_colab_badge(name):
    line = lecture_line(name)
    assert f"](lectures/{name}/lecture.ipynb)" in line
    assert f"[![Open in Colab][colab-badge]]({notebooks.colab_link(name)})" in line
    assert f"\n[colab-badge]: {BADGE}\n" in README


@pytest.mark.parametrize("link", readme_links())
def test_every_link_in_the_readme_points_to_a_file(link):
    if link.startswith(notebooks.COLAB + "/"):
        path = link.removeprefix(notebooks.COLAB + "/")
    elif link == BADGE:
        return
    else:
        assert not urllib.parse.urlparse(link).scheme, f"{link}: only the project's files"
        path = link.split("#")[0]
    assert (ROOT / path).exists(), f"{link}: {path} does not exist"


def test_results_md_is_what_the_records_give():
    report = load_report()
    written = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    assert written == report.render(report.load_records()), (
        "docs/results.md is out of date: run python benchmarks/report.py")


def test_every_link_in_results_md_points_to_a_file():
    text = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    links = {link for link in re.findall(r"\]\(([^)\s]+)\)", text) if not link.startswith("#")}
    assert links
    for link in links:
        assert (ROOT / "docs" / link).exists(), link


def test_every_record_has_its_date_machine_and_command():
    paths = sorted((ROOT / "docs" / "results").glob("*.json"))
    assert paths
    for path in paths:
        record = json.loads(path.read_text(encoding="utf-8"))
        assert {"benchmark", "command", "date", "machine", "results"} <= record.keys(), path
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", record["date"]), path
        assert record["command"].startswith("python") and record["machine"], path
        assert path.name.startswith(f"{record['benchmark']}-{record['date']}-"), path


def test_the_readme_quotes_only_headline_figures_of_results_md():
    """Every decimal figure of a lecture line's result (the course's own in "(course: ...)"
    aside) is a headline figure of docs/results.md, where its date and command stand,
    rounded as the README writes it (a percentage as its fraction)."""
    report = load_report()
    headline = [report.lookup(record["results"], path) for record in report.load_records()
                for path in record.get("headline", [])]
    numbers = [value for value in headline
               if isinstance(value, (int, float)) and not isinstance(value, bool)]
    for name in LECTURES:
        result = lecture_line(name).rstrip(" |").rsplit("|", 1)[-1]
        result = re.sub(r"\(course: [^)]*\)", "", result)
        for match in re.finditer(r"(-?\d+)\.(\d+)(%?)", result):
            value, places = float(match.group(1) + "." + match.group(2)), len(match.group(2))
            if match.group(3):
                value, places = value / 100, places + 2
            assert any(round(number, places) == round(value, places) for number in numbers), (
                f"{name}: {match.group(0)} is not a headline figure of docs/results.md")
