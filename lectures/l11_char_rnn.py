"""Lecture 11: a character-level RNN that writes tweets.

Read it in this order:
1. `build_model`: two stacked GRUs (128 and 256 units, the course's sizes) read a tweet
   one character at a time and predict the next one; a second Keras model over the same
   layers carries the GRU states from call to call, to generate;
2. `masked_loss_terms`: tweets are cut into windows of 50 characters overlapping by 25
   (cs20/datasets/chars.py; batches of similar lengths, cut to their longest); a tweet's
   last window is padded, and the loss counts real characters only;
3. `clip_global_gradient`, `make_train_step`: the gradient's global norm is clipped (the
   lecture notes' recipe for RNNs); the learning rate decays exponentially;
   `make_truncated_train_step` (--bptt N): truncated back-propagation, pieces of N
   characters that carry the GRU states, one update each;
4. `sample`: the next character drawn from softmax(logits / temperature), until the
   end-of-tweet marker `_E_` (--end-text).

Before training it prints one window with its targets and mask (--quiet: not). Unlike the
course, short tweets are kept, and the temperature is used correctly (the course fed
exp(logits / T) to `tf.multinomial`, which expects logits). Each evaluation prints (and logs
as TensorBoard text) a sample from each seed and the validation bits per character over
whole held-out tweets (5% of the lines, by hash). The run exports a SavedModel generator;
`--generate` samples from it and neither trains nor writes. The learning rate starts at
0.01 (`--preset fast`, the default): it beat 3e-3 (`--preset course`, the same network as
our first version) in every run we measured, in 10 minutes and over all 6,000 steps.

    python lectures/l11_char_rnn.py                       # trump_tweets.txt
    python lectures/l11_char_rnn.py --preset course       # learning rate 3e-3
    python lectures/l11_char_rnn.py --corpus my_text.txt --vocabulary corpus
    python lectures/l11_char_rnn.py --run-dir runs/l11_char_rnn/DIR --generate --start-text "We will"
    tensorboard --logdir runs/l11_char_rnn

Look at eval/bits_per_character (lower is better; the unigram distribution scores 4.7)
and at the samples turning from noise into tweets. Our figures: the README's row
"11 char-RNN" (benchmarks/char_rnn.py).
"""

from __future__ import annotations

import dataclasses
import math
import typing

from cs20 import checkpoints, cli, config, runtime, training
from cs20.datasets import chars
from cs20.models import char_rnn

import keras
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Config(config.TrainConfig):
    # fast (the default): learning rate 0.01, which beat 3e-3 in every run (README: 10
    # minutes, 1.736-1.796 bits/char against 1.862; all 6,000 steps, 1.711 against 1.776).
    PRESETS: typing.ClassVar[dict] = {
        "fast": {},
        "course": {"learning_rate": 3e-3},
    }
    preset: str = config.option("fast", "Named settings.", choices=tuple(PRESETS))
    num_steps: int = config.option(6000, "Training steps (0: use --num-epochs).")
    batch_size: int = config.option(64, "Global batch size (windows).")
    learning_rate: float = config.option(0.01, "Adam learning rate at step 0 (the course: "
                                               "3e-4, constant).")
    decay_rate: float = config.option(0.1, "Exponential decay: the learning rate is multiplied "
                                           "by this over the whole run (1: constant).")
    clip_norm: float = config.option(5.0, "Clip the gradient's global norm to this.")
    eval_every: int = config.option(1000, "Validation bits/character and samples every N steps.")
    checkpoint_every: int = config.option(1000, "Checkpoint every N steps.")
    corpus: str = config.option("", "Text file to learn, one sequence per line "
                                    "(default: trump_tweets.txt).")
    vocabulary: str = config.option("course", "Characters: the course's 86 or every character "
                                              "of the corpus.", choices=("course", "corpus"))
    window: int = config.option(50, "Characters per training window.")
    overlap: int = config.option(25, "Characters shared by neighbouring windows.")
    bptt: int = config.option(0, "Truncated back-propagation: read each batch in pieces of at "
                                 "most N characters, the GRU states carried from piece to "
                                 "piece, one update per piece; one device (0: off).")
    hidden_sizes: str = config.option("128,256", "Units of each stacked GRU, comma-separated.")
    dropout: float = config.option(0.0, "Dropout between the GRUs and before the output.")
    end_text: str = config.option("_E_", "Samples stop after this text (trump_tweets.txt's "
                                         "end-of-tweet marker; '': never).")
    temperature: float = config.option(0.8, "Sampling temperature (0: greedy).", changeable=True)
    length: int = config.option(200, "Characters generated per sample.", changeable=True)
    start_text: str = config.option("", "Seed of the samples (default: the course's 11 seeds; with "
                                        "--corpus, its first validation words).", changeable=True)
    generate: bool = config.option(False, "Print samples from the generator saved in "
                                          "--run-dir; no training.", changeable=True)

    def __post_init__(self):
        super().__post_init__()
        if self.window < 2 or not 0 <= self.overlap < self.window:
            raise ValueError(f"need --window >= 2 and 0 <= --overlap < --window, got "
                             f"{self.window} and {self.overlap}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"--dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 < self.decay_rate <= 1.0:
            raise ValueError(f"--decay-rate must be in (0, 1], got {self.decay_rate}")
        if self.bptt and self.strategy != "default":  # tf.distribute cannot all-reduce in a loop
            raise ValueError("--bptt trains on one device: use it with --strategy default")
        if not self.clip_norm > 0:
            raise ValueError(f"--clip-norm must be positive, got {self.clip_norm}")
        char_rnn.hidden_sizes(self.hidden_sizes)  # a malformed list: an error now


# --- The lesson: the recurrent stack, the masked loss, clipping, the train step, sampling ---

def build_model(vocabulary_size: int, hidden_sizes, dropout: float = 0.0):
    """The recurrent stack: character ids (batch, time) -> one-hot -> stacked GRUs ->
    next-character logits (batch, time, vocabulary). Returns two Keras models that share
    every layer: `model` (ids -> logits, each line from zero states) trains and
    evaluates; `stepper` ((ids, *states) -> (logits, *new states)) carries the GRU
    states from one call to the next, to generate one character at a time."""
    ids = keras.Input((None,), dtype="int32")  # (batch, time)
    states = [keras.Input((size,)) for size in hidden_sizes]  # (batch, size) each
    grus = [keras.layers.GRU(size, return_sequences=True, return_state=True, name=f"gru_{i}")
            for i, size in enumerate(hidden_sizes)]
    # Dropout between layers, not on recurrent connections (no fused GRU kernel then).
    dropout_layer = keras.layers.Dropout(dropout)
    output_layer = keras.layers.Dense(vocabulary_size, name="logits")

    def stack(initial_states):
        hidden = keras.ops.one_hot(ids, vocabulary_size)  # (batch, time, vocabulary)
        final_states = []
        for gru, state in zip(grus, initial_states, strict=True):
            hidden, state = gru(hidden, initial_state=state)  # (batch, time, size), (batch, size)
            hidden = dropout_layer(hidden)
            final_states.append(state)
        return output_layer(hidden), final_states  # (batch, time, vocabulary)

    model = keras.Model(ids, stack([None] * len(grus))[0], name="char_rnn")
    logits, final_states = stack(states)
    return model, keras.Model([ids, *states], [logits, *final_states], name="stepper")


def masked_loss_terms(labels, logits):
    """-> (sum of cross-entropies over real characters, number of real characters)."""
    mask = tf.cast(chars.masks(labels), tf.float32)  # (batch, time): 0 on padding
    per_character = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels, tf.cast(logits, tf.float32))  # (batch, time)
    return tf.reduce_sum(per_character * mask), tf.reduce_sum(mask)


def clip_global_gradient(gradients, clip_norm: float):
    """Scales this replica's gradients so that their sum over replicas (what the optimizer
    applies) has global norm at most `clip_norm`; also returns that sum's norm. Keras'
    `global_clipnorm` clips each replica's part separately, so one step would depend on
    the number of replicas; the extra all-reduce is one small vector per step."""
    context = tf.distribute.get_replica_context()
    total = context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
    norm = tf.linalg.global_norm(total)
    scale = clip_norm / tf.maximum(norm, clip_norm)
    return [gradient * scale for gradient in gradients], norm


def global_mean_loss(labels, logits):
    """This replica's share of the loss averaged over the *global* batch's real characters."""
    total, count = masked_loss_terms(labels, logits)
    global_count = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, count)
    return total / tf.maximum(global_count, 1.0)


def clipped_update(optimizer, tape, scaled_loss, variables, clip_norm: float):
    """One optimizer update from the gradient of `tape`'s loss, clipped -> its norm."""
    gradients = tape.gradient(scaled_loss, variables)
    # Under mixed_float16 these are the loss's gradients times the loss scale, which
    # `apply` divides out: clip them at the scaled norm, report the loss's own norm.
    scale = training.loss_scale(optimizer)
    gradients, norm = clip_global_gradient(gradients, clip_norm * scale)
    optimizer.apply(gradients, variables)
    return norm / scale / tf.distribute.get_replica_context().num_replicas_in_sync


def make_train_step(model, optimizer, clip_norm: float):
    """Per replica: masked next-character loss averaged over the global batch's real
    characters, gradient clipped on its global norm, one optimizer update."""

    def train_step(batch):
        inputs, labels = batch  # (batch, time) each
        with tf.GradientTape() as tape:
            logits = model(inputs, training=True)  # (batch, time, vocabulary)
            loss = global_mean_loss(labels, logits)
            scaled_loss = optimizer.scale_loss(loss)  # unchanged unless mixed_float16
        norm = clipped_update(optimizer, tape, scaled_loss, model.trainable_variables, clip_norm)
        # compile_step sums every value over replicas.
        return {"loss": loss, "gradient_norm": norm}

    return train_step


def make_truncated_train_step(stepper, optimizer, clip_norm: float, longest_piece: int):
    """Truncated back-propagation through time. A batch (whole tweets, with --window 300)
    is read in equal pieces of at most `longest_piece` characters: each piece starts from
    the GRU states where the last one ended, its gradient stops there, and the optimizer
    updates after every piece: a tweet keeps its whole context, with several updates. On
    one device only: tf.distribute cannot all-reduce inside the loop over pieces."""

    def train_step(batch):
        inputs, labels = batch  # (batch, time) each
        time = tf.shape(inputs)[1]
        input_pieces = chars.pieces(inputs, time, longest_piece)  # (pieces, batch, piece)
        label_pieces = chars.pieces(labels, time, longest_piece)
        states = char_rnn.zero_states(stepper, tf.shape(inputs)[0])  # [(batch, size)]
        summed_loss, summed_norm = tf.constant(0.0), tf.constant(0.0)
        for index in tf.range(tf.shape(input_pieces)[0]):
            with tf.GradientTape() as tape:
                logits, states = char_rnn.step(stepper, input_pieces[index], states,
                                               training=True)  # (batch, piece, vocabulary)
                loss = global_mean_loss(label_pieces[index], logits)
                scaled_loss = optimizer.scale_loss(loss)
            summed_norm += clipped_update(optimizer, tape, scaled_loss,
                                          stepper.trainable_variables, clip_norm)
            summed_loss += loss
        num_pieces = tf.cast(tf.shape(input_pieces)[0], tf.float32)  # the pieces' means:
        return {"loss": summed_loss / num_pieces, "gradient_norm": summed_norm / num_pieces}

    return train_step


def sample(logits, temperature):
    """One id per row of `logits` (batch, vocabulary): argmax when `temperature` is 0,
    otherwise drawn from softmax(logits / temperature)."""
    logits = tf.cast(logits, tf.float32)
    greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)
    drawn = tf.random.categorical(logits / tf.maximum(temperature, 1e-6), 1, dtype=tf.int32)[:, 0]
    return tf.where(temperature > 0.0, drawn, greedy)  # (batch,)


def main(argv=None) -> dict:
    cfg = config.parse(Config, argv, __doc__, prog="l11_char_rnn")
    if cfg.generate:
        return char_rnn.generate_with_saved(cfg.run_dir, cfg.start_text, cfg.length,
                                            cfg.temperature)
    # The text first: a bad --corpus or --start-text stops before the run writes anything.
    vocabulary, split = chars.load_corpus(cfg.corpus, cfg.vocabulary, cfg.data_dir)
    seeds = chars.sample_seeds(cfg.start_text, bool(cfg.corpus), vocabulary, split)
    run = runtime.start("l11_char_rnn", cfg)

    if run.chief:  # in a multi-worker run only the chief writes the run directory
        vocabulary.save(run.path("vocabulary.json"))
    windows = chars.make_windows([vocabulary.encode(line) for line in split.train],
                                 cfg.window, cfg.overlap)  # (num_windows, window)
    validation_ids = [vocabulary.encode(line) for line in split.validation]
    steps_per_epoch = max(len(windows) // cfg.batch_size, 1)
    schedule = training.make_schedule(cfg, steps_per_epoch, examples=len(windows))
    print(f"{len(windows):,} windows of {cfg.window} characters, {steps_per_epoch:,} steps/epoch")
    if not cfg.quiet:
        chars.show_worked_example(windows, vocabulary)

    with run.strategy.scope():  # model, optimizer and step counter
        model, stepper = build_model(len(vocabulary), char_rnn.hidden_sizes(cfg.hidden_sizes),
                                     cfg.dropout)
        optimizer = training.with_loss_scaling(keras.optimizers.Adam(
            keras.optimizers.schedules.ExponentialDecay(
                # It decays with the optimizer's updates: --bptt makes several a batch.
                cfg.learning_rate, max(round(schedule.num_steps * chars.mean_pieces(
                    windows, cfg.bptt)), 1), cfg.decay_rate)))
        optimizer.build(model.trainable_variables)
        step = tf.Variable(0, dtype=tf.int64, name="global_step", trainable=False)
    train_data = chars.training_dataset(windows, cfg.batch_size, cfg.seed)
    iterator = training.distribute(run, train_data)
    checkpoint = checkpoints.make(step, model, optimizer, iterator)
    replica_step = make_truncated_train_step(stepper, optimizer, cfg.clip_norm, cfg.bptt) \
        if cfg.bptt else make_train_step(model, optimizer, cfg.clip_norm)
    train_step = training.compile_step(run.strategy, replica_step, jit_compile=cfg.jit_compile)
    generator = char_rnn.Generator(stepper, vocabulary, seeds, sample, cfg.end_text)
    bits_per_character = char_rnn.make_bits_per_character(model, masked_loss_terms)

    def evaluate() -> dict:
        char_rnn.log_samples(run, generator, seeds, cfg.length, cfg.temperature, int(step.numpy()))
        return {"bits_per_character": bits_per_character(chars.padded_lines(validation_ids, 256))}

    results = training.train(run, step_fn=train_step, iterator=iterator, checkpoint=checkpoint,
                             step=step, schedule=schedule, evaluate=evaluate)
    # Train loss is in nats per character; bits are what language-model papers report.
    if "train/loss" in results:
        results["train/bits_per_character"] = results["train/loss"] / math.log(2.0)

    char_rnn.export(run, generator, seeds[0], cfg.temperature)
    return run.finish(results, steps=int(step.numpy()))


if __name__ == "__main__":
    cli.guard(main)
