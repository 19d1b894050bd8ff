"""Writing captions with a captioner (`studio.models.captioner`): greedy and beam search.

Token ids in, token ids out: the tokenizer that turns them into text is the caller's. Each
batch of images is encoded once; then one compiled step per token reads the decoder's
log-probabilities of the next token at one position. The step is Keras' own predict function
of a small read-out model (XLA-jitted on JAX, a `tf.function` on TensorFlow), built once per
model and called with the same shapes at every position, so it is traced once per batch
shape and always reads the model's current weights (examples written during training). The
search itself is a short numpy loop on the host: without a key/value cache each step runs the
decoder over the whole (short) caption, which at caption lengths costs less than it saves in
clarity.

Both searches return (B, max_length) int32 ids: the start id, the written tokens, the end id
where one was written, then padding (0). A sequence never writes padding: the model is never
taught to predict it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import keras
import numpy as np
from keras import ops

from studio.layers.captions import PAD_ID, caption_decoder, caption_length, image_encoder

# step(tokens (N, L) int32, image tokens (N, T, D), position int) -> (N, V) float log-probs
# of the token after `position`.
Step = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


class _NextTokenLogProbs(keras.layers.Layer):
    """The log-softmax of one position's logits: (B, L, V) logits, (B, 1) position -> (B, V).

    Only in the read-out model, never saved.
    """

    def call(self, logits, position):
        length = ops.shape(logits)[1]
        pick = ops.one_hot(ops.cast(position[:, 0], "int32"), length, dtype=logits.dtype)
        chosen = ops.einsum("bl,blv->bv", pick, logits)
        return ops.log_softmax(ops.cast(chosen, "float32"), axis=-1)

    def compute_output_spec(self, logits, position):
        return keras.KerasTensor((logits.shape[0], logits.shape[2]), dtype="float32")


# One read-out model per captioner, so each keeps its compiled predict function.
_STEP_MODELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _step_model(model: keras.Model) -> keras.Model:
    cached = _STEP_MODELS.get(model)
    if cached is not None:
        return cached
    decoder = caption_decoder(model)
    tokens_in, memory_in = decoder.inputs
    tokens = keras.Input(shape=tokens_in.shape[1:], dtype="int32", name="tokens")
    memory = keras.Input(shape=memory_in.shape[1:], dtype=memory_in.dtype, name="image_tokens")
    position = keras.Input(shape=(1,), dtype="int32", name="position")
    log_probs = _NextTokenLogProbs(name="next_token")(decoder([tokens, memory]), position)
    reader = keras.Model([tokens, memory, position], log_probs, name=f"{model.name}_next_token")
    _STEP_MODELS[model] = reader
    return reader


def model_step(model: keras.Model) -> Step:
    """The compiled next-token step of a captioner, for `greedy_search` / `beam_search`."""
    reader = _step_model(model)
    length = caption_length(model) - 1

    def step(tokens, memory, position):
        tokens = np.asarray(tokens, dtype="int32")
        if tokens.shape[1] < length:  # a search shorter than the model's captions
            tokens = np.pad(tokens, ((0, 0), (0, length - tokens.shape[1])))
        where = np.full((len(tokens), 1), position, dtype="int32")
        return np.asarray(reader.predict_on_batch([tokens[:, :length], memory, where]))

    return step


def encode_images(model: keras.Model, images) -> np.ndarray:
    """The image tokens (B, T, D) of float32 0..255 images (B, H, W, 3), in inference mode."""
    return np.asarray(image_encoder(model).predict_on_batch(np.asarray(images, "float32")))


def greedy_search(
    step: Step, memory: np.ndarray, max_length: int, start_id: int, end_id: int
) -> np.ndarray:
    """The most likely next token at each position, until `end_id` or `max_length` ids.

    `memory` is the encoded images (B, T, D); returns (B, max_length) int32 ids.
    """
    batch = len(memory)
    ids = np.zeros((batch, max_length), dtype="int32")
    ids[:, 0] = start_id
    done = np.zeros(batch, dtype=bool)
    for t in range(1, max_length):
        log_probs = np.array(step(ids[:, :-1], memory, t - 1), dtype="float64")
        log_probs[:, PAD_ID] = -np.inf
        token = np.argmax(log_probs, axis=-1).astype("int32")
        ids[:, t] = np.where(done, PAD_ID, token)
        done |= ids[:, t] == end_id
        if done.all():
            break
    return ids


def beam_search(
    step: Step, memory: np.ndarray, max_length: int, start_id: int, end_id: int, beam_width: int
) -> np.ndarray:
    """Keep the `beam_width` most likely captions (sum of token log-probabilities) at each
    position; return each image's best, (B, max_length) int32 ids.

    A finished beam (it wrote `end_id`) stays in the beam with its score and is extended with
    padding only, so it competes with longer ones as it is. Width 1 is greedy search.
    """
    if beam_width < 1:
        raise ValueError(f"beam_width={beam_width} must be >= 1")
    batch, width = len(memory), beam_width
    ids = np.zeros((batch, width, max_length), dtype="int32")
    ids[:, :, 0] = start_id
    # Every beam starts as the same start token; only the first may grow at first, or the
    # beam would hold the same caption `width` times.
    scores = np.full((batch, width), -np.inf)
    scores[:, 0] = 0.0
    done = np.zeros((batch, width), dtype=bool)
    memory = np.repeat(memory, width, axis=0)
    rows = np.arange(batch)[:, None]
    for t in range(1, max_length):
        flat = ids.reshape(batch * width, max_length)[:, :-1]
        # float64 sums: a float32 total could round two different candidates to a tie and
        # part the search from greedy at width 1.
        log_probs = np.array(step(flat, memory, t - 1), dtype="float64")
        vocab = log_probs.shape[-1]
        log_probs = log_probs.reshape(batch, width, vocab)
        log_probs[..., PAD_ID] = -np.inf
        finished = np.full(vocab, -np.inf)
        finished[PAD_ID] = 0.0
        log_probs = np.where(done[..., None], finished, log_probs)
        candidates = (scores[..., None] + log_probs).reshape(batch, width * vocab)
        # A stable sort: among equal scores the lower beam and token win, as argmax's first.
        best = np.argsort(-candidates, axis=-1, kind="stable")[:, :width]
        parent, token = best // vocab, (best % vocab).astype("int32")
        scores = candidates[rows, best]
        ids = ids[rows, parent]
        ids[:, :, t] = token
        done = done[rows, parent] | (token == end_id)
        if done.all():
            break
    return ids[np.arange(batch), np.argmax(scores, axis=-1)]


def generate(
    model: keras.Model,
    images,
    beam_width: int,
    max_length: int | None,
    start_id: int,
    end_id: int,
    *,
    batch_size: int = 64,
) -> np.ndarray:
    """Captions of `images` as token ids: (B, max_length) int32, start id first, then the
    written tokens, the end id (if written) and padding (0).

    `model` is a captioner (`studio.models.captioner.build_captioner`, fresh or reloaded);
    `images` are float32 (or uint8) pixels on the 0..255 scale shaped like its image input.
    `beam_width` 1 is greedy search. `max_length` None is the model's caption length
    (`caption.max_length`); a shorter one stops earlier. Images go through in chunks of
    `batch_size`, each encoded once.
    """
    longest = caption_length(model)
    max_length = longest if max_length is None else int(max_length)
    if not 2 <= max_length <= longest:
        raise ValueError(f"max_length={max_length} must be in [2, {longest}] for this model")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be >= 1")
    images = np.asarray(images, dtype="float32")
    step = model_step(model)
    chunks = []
    for start in range(0, len(images), batch_size):
        memory = encode_images(model, images[start : start + batch_size])
        if beam_width == 1:
            chunks.append(greedy_search(step, memory, max_length, start_id, end_id))
        else:
            chunks.append(beam_search(step, memory, max_length, start_id, end_id, beam_width))
    if not chunks:
        return np.zeros((0, max_length), dtype="int32")
    return np.concatenate(chunks)
