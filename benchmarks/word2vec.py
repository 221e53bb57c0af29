"""word2vec quality and speed: the course's settings, gensim's skip-gram, and our `--preset fast`.

    CS20_DATA_DIR=../shared/data python benchmarks/word2vec.py [--corpus text8_prefix]
        [--course-steps 100000] [--skip-course] [--skip-gensim] [--threads N]
        [--flags "--batch-size 2048"] [--similarity-file PATH] [--tiny]

Prints one JSON object with, for each configuration: training seconds, (center, context)
pairs per second, the final loss where there is one, analogy accuracy on
questions-words.txt and Spearman's correlation on WordSim-353 and on --similarity-file
(`similarity_file_spearman`; by default SimLex-999 from gensim's test data, a set the
lecture does not ship), computed by the same code (lectures/l05_word2vec/evaluation.py)
for every model, and the thread counts.

1. `course`: `python -m lectures.l05_word2vec` with its defaults (the course's
   hyper-parameters), run as a separate process; figures from its results.json.
2. `gensim_same_pairs`: gensim's skip-gram on the same words, window 1, no subsampling,
   vector size 128, our 50,000-word vocabulary, and as many epochs as give the course's
   budget of pairs (100,000 x 128); `gensim_defaults`: gensim's own defaults (window 5,
   subsampling 1e-3, 5 negatives, 5 epochs) with vector size 128. gensim is a
   benchmark-only dependency (benchmarks/requirements.txt); without it these entries
   say so and the rest still runs. Each gensim entry also scores its input rows plus its
   output rows (`input_plus_output`), what our preset keeps. gensim's pair counts are
   estimates: words trained x (window + 1), the expected pairs per word under its random
   window.
3. `fast`: the lecture with `--preset fast` (plus --flags, to try a change), and
   `fast_vs_gensim_defaults`: the differences of both scores and the ratio of training
   seconds, against gensim's defaults as gensim keeps them (its input rows) and against
   their input + output rows (`fast_vs_gensim_defaults_input_plus_output`). Both train
   with --threads threads: gensim's workers, TensorFlow's intra- and inter-op pools
   (TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS).
"""

from __future__ import annotations

import json
import os
import pathlib
import platform
import shlex
import subprocess
import sys
import tempfile
import time

from lectures.l05_word2vec import data, evaluation

import numpy as np
import options

ROOT = pathlib.Path(__file__).resolve().parents[1]
COURSE_PAIRS = 100_000 * 128
SENTENCE_WORDS = 10_000  # gensim trains on "sentences" of at most this many words


def run_lecture(flags: list[str], data_dir: str, threads: int) -> dict:
    """Runs `python -m lectures.l05_word2vec` in its own process on `threads` threads per
    TensorFlow pool; returns the figures of its results.json."""
    environment = {**os.environ, "TF_NUM_INTRAOP_THREADS": str(threads),
                   "TF_NUM_INTEROP_THREADS": str(threads)}
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-m", "lectures.l05_word2vec", "--run-dir",
                   scratch, "--num-visualize", "0", *flags]
        if data_dir:
            command += ["--data-dir", data_dir]
        completed = subprocess.run(command, capture_output=True, text=True,
                                   env=environment, cwd=ROOT)
        if completed.returncode != 0:
            return {"error": completed.stderr.strip().splitlines()[-1]}
        results = json.loads((pathlib.Path(scratch) / "results.json").read_text())
        settings = json.loads((pathlib.Path(scratch) / "config.json").read_text())
    # A negative-sampling batch counts centers: about skip_window + 1 pairs each.
    pairs_per_batch = settings["batch_size"] * (
        settings["skip_window"] + 1 if settings["loss"] == "negative_sampling" else 1)
    return {"flags": " ".join(flags), "threads": threads, "steps": results["steps"],
            "wall_seconds": results["wall_seconds"],
            "train_seconds": results["train_seconds"],
            "pairs_per_second": round(results["train/steps_per_second"] * pairs_per_batch),
            "final_loss": results["train/loss"],
            "analogy_accuracy": results["eval/analogy_accuracy"],
            "analogy_covered": results["eval/analogy_covered"],
            "wordsim353_spearman": results["eval/wordsim353_spearman"],
            **({"similarity_file_spearman": results["eval/similarity_file_spearman"]}
               if "eval/similarity_file_spearman" in results else {})}


def evaluate(vectors: np.ndarray, words: list[str], data_dir: str,
             similarity_file: str) -> dict:
    """The lecture's metrics on any embedding: row 0 is left for UNK, as in ours."""
    unit = evaluation.normalized(np.vstack([np.zeros((1, vectors.shape[1])), vectors]))
    index = {word: position + 1 for position, word in enumerate(words)}
    scores = evaluation.evaluate(unit, index, data_dir, similarity_file)
    return {name: scores[name] for name in ("analogy_accuracy", "analogy_covered",
                                            "wordsim353_spearman", "similarity_file_spearman")
            if name in scores}


def gensim_simlex() -> str:
    """SimLex-999 (similarity, not relatedness), as gensim ships it in its test data: a
    word-similarity set the lecture does not use, scored for every model when gensim is
    installed; "" without gensim."""
    try:
        from gensim.test.utils import datapath
    except ImportError:
        return ""
    return datapath("simlex999.txt")


def run_gensim(words: list[str], vocabulary, data_dir: str, similarity_file: str, seed: int,
               threads: int, **settings) -> dict:
    """gensim's skip-gram on our vocabulary (without UNK: gensim drops unknown words), so
    both models answer exactly the same analogy questions."""
    from gensim.models import Word2Vec

    sentences = [words[start:start + SENTENCE_WORDS]
                 for start in range(0, len(words), SENTENCE_WORDS)]
    model = Word2Vec(sg=1, vector_size=128, min_count=1, workers=threads, seed=seed, **settings)
    model.build_vocab_from_freq(dict(zip(vocabulary.words[1:], vocabulary.counts[1:],
                                         strict=True)))
    started = time.perf_counter()
    trained_words, _ = model.train(sentences, total_examples=len(sentences),
                                   epochs=model.epochs)
    seconds = time.perf_counter() - started
    pairs = trained_words * (model.window + 1)
    words_kept = list(model.wv.index_to_key)
    # gensim keeps the input rows (model.wv); its output rows are model.syn1neg. Their sum,
    # what our --vectors input+output keeps, is scored too, so that the comparison is fair.
    return {"settings": settings, "threads": threads, "train_seconds": round(seconds, 2),
            "pairs_per_second": round(pairs / seconds), "pairs_estimated": pairs,
            **evaluate(model.wv.vectors, words_kept, data_dir, similarity_file),
            "input_plus_output": evaluate(model.wv.vectors + model.syn1neg, words_kept, data_dir,
                                          similarity_file)}


def comparison(ours: dict, gensim: dict) -> dict:
    """Ours minus gensim's scores, and our training seconds over gensim's."""
    analogy = ours["analogy_accuracy"] - gensim["analogy_accuracy"]
    spearman = ours["wordsim353_spearman"] - gensim["wordsim353_spearman"]
    ratio = ours["train_seconds"] / gensim["train_seconds"]
    extra = ({"similarity_file_spearman_difference": round(
        ours["similarity_file_spearman"] - gensim["similarity_file_spearman"], 4)}
        if "similarity_file_spearman" in ours and "similarity_file_spearman" in gensim else {})
    return {"analogy_accuracy_difference": round(analogy, 4),
            "wordsim353_spearman_difference": round(spearman, 4), **extra,
            "train_seconds_ratio": round(ratio, 3),
            "better_on_both_in_no_more_time": analogy > 0 and spearman > 0 and ratio <= 1}


def main(argv=None) -> None:
    parser = options.Parser(__doc__, tiny={"skip_course": True,
                                           "flags": "--num-steps 5 --vocab-size 2000"})
    parser.add_argument("--corpus", default="text8_prefix", help="registered name or path")
    parser.add_argument("--data-dir", default="", help="folder searched first for data files")
    parser.add_argument("--course-steps", type=int, default=100_000)
    parser.add_argument("--skip-course", action="store_true",
                        help="leave out the course's run and gensim with its pairs")
    parser.add_argument("--skip-gensim", action="store_true")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="gensim's workers and TensorFlow's threads per pool")
    parser.add_argument("--flags", default="", help="flags added after --preset fast")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--similarity-file", default=None,
                        help="a word-similarity file also scored for every model (default: "
                             "SimLex-999 from gensim's test data when gensim is installed; "
                             "'' for none)")
    options.print_json(measure, parser.parse_args(argv))


def measure(arguments) -> dict:
    corpus, threads = arguments.corpus, arguments.threads
    similarity_file = (gensim_simlex() if arguments.similarity_file is None
                       else arguments.similarity_file)
    common = ["--corpus", corpus, "--seed", str(arguments.seed),
              *(["--similarity-file", similarity_file] if similarity_file else [])]
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
              "corpus": corpus, "threads": threads, "similarity_file": similarity_file}
    if not arguments.skip_course:
        report["course"] = run_lecture([*common, "--num-steps", str(arguments.course_steps)],
                                       arguments.data_dir, threads)

    if arguments.skip_gensim:
        report["gensim"] = "skipped (--skip-gensim)"
    else:
        try:
            import gensim
        except ImportError:
            report["gensim"] = ("gensim is not installed: pip install -r "
                                "benchmarks/requirements.txt")
        else:
            report["gensim_version"] = gensim.__version__
            words = data.read_words(data.resolve_corpus(corpus, arguments.data_dir))
            vocabulary = data.build_vocabulary(words, 50_000)
            if not arguments.skip_course:
                epochs = max(1, round(COURSE_PAIRS / (2 * len(words))))
                report["gensim_same_pairs"] = run_gensim(
                    words, vocabulary, arguments.data_dir, similarity_file, arguments.seed,
                    threads, window=1, sample=0, negative=5, epochs=epochs)
            report["gensim_defaults"] = run_gensim(words, vocabulary, arguments.data_dir,
                                                   similarity_file, arguments.seed, threads)

    report["fast"] = run_lecture([*common, "--preset", "fast", *shlex.split(arguments.flags)],
                                 arguments.data_dir, threads)
    if "gensim_defaults" in report and "error" not in report["fast"]:
        gensim = report["gensim_defaults"]
        report["fast_vs_gensim_defaults"] = comparison(report["fast"], gensim)
        report["fast_vs_gensim_defaults_input_plus_output"] = comparison(
            report["fast"], {**gensim, **gensim["input_plus_output"]})
    return report


if __name__ == "__main__":
    main()
