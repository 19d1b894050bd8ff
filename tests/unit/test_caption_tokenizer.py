"""The caption tokenizer: fixed special ids, rows of [START] words [END] padded with 0, a
round trip through ids and through its file; and the (image, caption) training pairs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studio.datasets.shapes import generate_shapes
from studio.text.pairs import caption_pairs, one_per_image
from studio.text.tokenizer import (
    END,
    PAD,
    START,
    UNK,
    CaptionTokenizer,
    TokenizerError,
    train_tokenizer,
)

TRAIN = [
    ["A red circle left of a blue square.", "a blue square right of a red circle"],
    ["A green triangle at the top", "there is a green triangle at the top"],
    ["It's a yellow square, on the left!"],
]


def test_special_tokens_have_fixed_ids_and_the_vocabulary_is_capped():
    tok = train_tokenizer(TRAIN, vocab_size=200)
    assert (PAD, UNK, START, END) == (0, 1, 2, 3)
    small = train_tokenizer(TRAIN, vocab_size=8)
    assert small.vocab_size == 8
    # The most frequent word survives a small vocabulary; rarer ones become [UNK].
    rows = small.encode_batch(["a yellow"], max_length=5)
    assert rows.tolist() == [[START, small.encode_batch(["a"], 3)[0, 1], UNK, END, PAD]]
    assert tok.vocab_size > small.vocab_size


def test_rows_are_start_words_end_then_zeros_and_long_captions_are_cut():
    tok = train_tokenizer(TRAIN, vocab_size=200)
    rows, cut = tok.encode_with_cut(["a red circle", "a red circle left of a blue square"], 6)
    assert rows.dtype == np.int32 and rows.shape == (2, 6)
    assert rows[0, 0] == START and rows[0, 4] == END and rows[0, 5] == PAD
    assert cut == 1
    assert rows[1, 0] == START and rows[1, -1] == END  # cut, and still ends
    assert tok.decode(rows[1]) == "a red circle left"
    np.testing.assert_array_equal(tok.encode_batch(["a red circle"], 6)[0], rows[0])
    with pytest.raises(ValueError, match="at least 3"):
        tok.encode_batch(["a"], 2)


def test_round_trip_normalises_case_and_punctuation():
    tok = train_tokenizer(TRAIN, vocab_size=200)
    texts = ["A red circle left of a blue square.", "it's a yellow square, on the left!"]
    back = tok.decode_batch(tok.encode_batch(texts, 24))
    assert back == ["a red circle left of a blue square.", "it's a yellow square, on the left!"]
    assert tok.words("Ｂlue SQUARE!") == ["blue", "square", "!"]  # NFKC folds the wide letter


def test_decode_stops_at_end_and_skips_special_tokens():
    tok = train_tokenizer(TRAIN, vocab_size=200)
    red, circle = tok.encode_batch(["red circle"], 4)[0, 1:3]
    assert tok.decode([START, red, UNK, PAD, circle, END, red]) == "red circle"
    assert tok.decode(np.array([START, END, red])) == ""


def test_save_and_load_give_the_same_ids_and_a_foreign_file_is_refused(tmp_path):
    tok = train_tokenizer(TRAIN, vocab_size=200)
    path = tmp_path / "tokenizer.json"
    tok.save(path)
    again = CaptionTokenizer.load(path)
    texts = [c for captions in TRAIN for c in captions] + ["an unseen zebra"]
    np.testing.assert_array_equal(again.encode_batch(texts, 16), tok.encode_batch(texts, 16))
    assert again.vocab_size == tok.vocab_size
    assert [p.name for p in tmp_path.iterdir()] == ["tokenizer.json"]  # no temporary left

    swapped = json.loads(path.read_text())
    vocab = swapped["model"]["vocab"]
    vocab["[END]"], vocab["[START]"] = vocab["[START]"], vocab["[END]"]
    for added in swapped["added_tokens"]:
        added["id"] = vocab[added["content"]]
    path.write_text(json.dumps(swapped))
    with pytest.raises(TokenizerError, match=r"\[START\] must have id 2"):
        CaptionTokenizer.load(path)
    path.write_text("{}")
    with pytest.raises(TokenizerError, match="is not a tokenizer file"):
        CaptionTokenizer.load(path)
    with pytest.raises(TokenizerError, match="cannot be read"):
        CaptionTokenizer.load(tmp_path / "missing.json")


def test_training_is_deterministic_and_covers_the_shapes_words():
    scenes = generate_shapes(300)
    a = train_tokenizer(scenes.captions, 2000)
    b = train_tokenizer(scenes.captions, 2000)
    assert a._words == b._words  # same ids for the same captions, run after run
    assert 20 <= a.vocab_size <= 40
    assert a.unknown_share(c for caps in scenes.captions for c in caps) == 0.0
    assert a.unknown_share(["a purple hexagon"]) == pytest.approx(2 / 3)


def test_pairs_pair_every_caption_with_its_image():
    tok = train_tokenizer(TRAIN, vocab_size=200)
    pairs = caption_pairs(TRAIN, tok, max_length=8)
    assert len(pairs) == 5 and pairs.image_index.tolist() == [0, 0, 1, 1, 2]
    assert pairs.tokens.shape == (5, 8) and pairs.tokens.dtype == np.int32
    for image, row in zip(pairs.image_index, pairs.tokens, strict=True):
        decoded = tok.decode(row)
        assert any(decoded.split()[:3] == t.lower().split()[:3] for t in TRAIN[image])
    # 6 words fit between [START] and [END]: only "a green triangle at the top" is whole.
    assert pairs.cut == 4


def test_one_per_image_draws_one_of_each_images_captions():
    tok = train_tokenizer(TRAIN, vocab_size=200)
    pairs = caption_pairs(TRAIN, tok, max_length=16)
    rng = np.random.default_rng(0)
    drawn = [one_per_image(pairs, rng) for _ in range(40)]
    for chosen in drawn:
        assert pairs.image_index[chosen].tolist() == [0, 1, 2]
    firsts = {int(c[0]) for c in drawn}
    assert firsts == {0, 1}  # both captions of image 0 come up
