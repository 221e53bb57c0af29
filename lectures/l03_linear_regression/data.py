"""Lecture 3a's data (lecture 4's too): birth rate -> life expectancy for 190 countries
(World Bank, 2010), read from birth_life_2010.txt (the data source "birth_life")."""

from __future__ import annotations

import dataclasses

from cs20.datasets import sources

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class BirthLife:
    countries: list[str]
    birth_rate: np.ndarray  # (countries,) float32, births per 1000 people
    life_expectancy: np.ndarray  # (countries,) float32, years


def parse(text: str) -> BirthLife:
    """Tab-separated `Country<TAB>Birth rate<TAB>Life expectancy`, one header line."""
    countries, birth_rates, life_expectancies = [], [], []
    lines = text.splitlines()
    if not lines or not lines[0].startswith("Country"):
        raise ValueError("birth/life file must start with the header "
                         "'Country\\tBirth rate\\tLife expectancy'")
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise ValueError(f"birth/life line {number}: expected 3 tab-separated fields, "
                             f"got {len(fields)}")
        countries.append(fields[0])
        birth_rates.append(float(fields[1]))
        life_expectancies.append(float(fields[2]))
    return BirthLife(countries, np.asarray(birth_rates, np.float32),
                     np.asarray(life_expectancies, np.float32))


def load(data_dir=None) -> BirthLife:
    return parse(sources.resolve("birth_life", data_dir).read_text(encoding="utf-8"))


def dataset(data: BirthLife) -> tf.data.Dataset:
    """One (birth_rate, life_expectancy) scalar pair per element, as the course fed it."""
    return tf.data.Dataset.from_tensor_slices((data.birth_rate, data.life_expectancy))
