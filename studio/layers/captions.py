"""What loading and decoding a captioner need, apart from its builders.

The padding mask layer its decoder saves, the names of its two nested models and how to
read them back. Kept out of `studio.models.captioner` (keras-hub, the ViT trunk, the config)
so that an exported Space can carry this file with the other layers and run
`studio.inference.captioning` on a reloaded captioner.
"""

from __future__ import annotations

import keras
from keras import ops

ENCODER = "image_encoder"
DECODER = "caption_decoder"
PAD_ID = 0


@keras.saving.register_keras_serializable(package="studio")
class PaddingMask(keras.layers.Layer):
    """True where a token id is not padding (id 0): (B, L) ints -> (B, L) bools.

    An explicit mask rather than the embedding's `mask_zero`: a Keras mask would travel on to
    the logits, and Keras' losses weight by it. It marks the *inputs* that are real, which is
    one position off from the *targets* that are (the end token's position has a real input
    and a padding target), so the loss masks by its targets itself.
    """

    def call(self, token_ids):
        return ops.not_equal(token_ids, PAD_ID)

    def compute_output_spec(self, token_ids):
        return keras.KerasTensor(token_ids.shape, dtype="bool")


def image_encoder(model: keras.Model) -> keras.Model:
    """The captioner's image encoder (fresh or reloaded): images -> image tokens. Its blocks
    are `block_{i}`, so `studio.models.vit.attention_scores(image_encoder(model), images)`
    gives the encoder's attention maps."""
    return model.get_layer(ENCODER)


def caption_decoder(model: keras.Model) -> keras.Model:
    """The captioner's decoder: `[token ids, image tokens]` -> logits."""
    return model.get_layer(DECODER)


def caption_length(model: keras.Model) -> int:
    """Tokens per caption the model was built for (`caption.max_length`), start and end
    tokens included: one more than its teacher-forced input."""
    return int(caption_decoder(model).input[0].shape[1]) + 1
