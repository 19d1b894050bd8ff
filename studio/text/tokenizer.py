"""The caption tokenizer: whole words learnt from a run's training captions.

Built on Hugging Face `tokenizers` (Rust, no TensorFlow): keras-hub's WordPiece trainer needs
tensorflow-text, which pulls the full TensorFlow wheel and has no JAX-GPU build. Words, not
word pieces, as captioning models have long used (a COCO vocabulary of the ~10k most frequent
words covers nearly all caption tokens): every output token is a word a person can read, and
a rare word the vocabulary leaves out becomes [UNK].

Text is NFKC-normalised and lower-cased, split at whitespace and around each punctuation
mark. The special tokens have fixed ids: [PAD] 0 (so padding is zeros), [UNK] 1, [START] 2,
[END] 3. Saved as the Hugging Face tokenizer JSON (the run folder's tokenizer.json).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

PAD, UNK, START, END = 0, 1, 2, 3
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[START]", "[END]")
# No space before closing punctuation, none around the apostrophe of a contraction: "it's a
# cat." back from its tokens `it ' s a cat .`.
_TIGHT_BEFORE = re.compile(r" ([.,!?;:%)\]}])")
_TIGHT_AFTER = re.compile(r"([(\[{]) ")
_APOSTROPHE = re.compile(r" ' (s|t|d|m|re|ve|ll)\b")


class TokenizerError(ValueError):
    """A tokenizer file that cannot be used; the message names the file and why."""


class CaptionTokenizer:
    """Captions <-> int32 token rows: [START] words [END], then [PAD] (0) to max_length."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        for want, token in enumerate(SPECIAL_TOKENS):
            if tokenizer.token_to_id(token) != want:
                raise TokenizerError(
                    f"not a caption tokenizer: {token} must have id {want}, "
                    f"has {tokenizer.token_to_id(token)}"
                )
        self._tokenizer = tokenizer
        self._words = [tokenizer.id_to_token(i) for i in range(tokenizer.get_vocab_size())]

    @classmethod
    def train(cls, captions: Iterable[str], vocab_size: int) -> CaptionTokenizer:
        """Learn the `vocab_size - 4` most frequent words of `captions` (the specials take 4).

        Train on the training split's captions only, so validation and test words the model
        never saw stay [UNK] as they would be for a new photo.
        """
        if vocab_size <= len(SPECIAL_TOKENS):
            raise ValueError(
                f"vocab_size={vocab_size} leaves no room for words beside the 4 special tokens"
            )
        tokenizer = _empty()
        trainer = trainers.WordLevelTrainer(
            vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), show_progress=False
        )
        tokenizer.train_from_iterator(captions, trainer=trainer)
        return cls(tokenizer)

    @property
    def vocab_size(self) -> int:
        """Tokens it knows, the special ones included: the size of the model's output layer."""
        return len(self._words)

    def words(self, text: str) -> list[str]:
        """The tokens of `text` (normalised, split), before they become ids."""
        return [token for token, _ in self._split(text)]

    def encode_with_cut(self, captions: Sequence[str], max_length: int) -> tuple[np.ndarray, int]:
        """(int32 (N, max_length) rows, how many captions were cut).

        A caption longer than `max_length - 2` words keeps its first words and still ends
        with [END] in the last column: a model learns to stop within max_length, as decoding
        must.
        """
        if max_length < 3:
            raise ValueError(f"max_length={max_length} leaves no room for a word (at least 3)")
        rows = np.zeros((len(captions), max_length), dtype=np.int32)
        room = max_length - 2
        cut = 0
        encoded = self._tokenizer.encode_batch(list(captions), add_special_tokens=False)
        for row, enc in zip(rows, encoded, strict=True):
            ids = enc.ids
            if len(ids) > room:
                ids = ids[:room]
                cut += 1
            row[0] = START
            row[1 : len(ids) + 1] = ids
            row[len(ids) + 1] = END
        return rows, cut

    def encode_batch(self, captions: Sequence[str], max_length: int) -> np.ndarray:
        """int32 (N, max_length): [START] tokens [END], padded with 0, cut at max_length."""
        return self.encode_with_cut(captions, max_length)[0]

    def decode(self, ids: Iterable[int]) -> str:
        """The caption of one row of ids: stops at [END], leaves out the special tokens."""
        words = []
        for i in ids:
            i = int(i)
            if i == END:
                break
            if i >= len(SPECIAL_TOKENS) and i < len(self._words):
                words.append(self._words[i])
        text = _TIGHT_BEFORE.sub(r"\1", " ".join(words))
        return _APOSTROPHE.sub(r"'\1", _TIGHT_AFTER.sub(r"\1", text))

    def decode_batch(self, rows: Iterable[Iterable[int]]) -> list[str]:
        """`decode` of each row."""
        return [self.decode(row) for row in rows]

    def unknown_share(self, captions: Iterable[str]) -> float:
        """Share of the words of `captions` the vocabulary lacks (0.0 when there are none)."""
        total = unknown = 0
        for enc in self._tokenizer.encode_batch(list(captions), add_special_tokens=False):
            total += len(enc.ids)
            unknown += enc.ids.count(UNK)
        return unknown / total if total else 0.0

    def save(self, path: str | Path) -> None:
        """Write the tokenizer JSON to `path` (whole or not at all)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(self._tokenizer.to_str(), encoding="utf-8")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: str | Path) -> CaptionTokenizer:
        """The tokenizer saved at `path`; TokenizerError when it is missing or not one."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise TokenizerError(f"tokenizer {path} cannot be read ({err})") from None
        try:
            tokenizer = Tokenizer.from_str(text)
        except Exception as err:  # the Rust side raises a bare Exception on any malformed file
            raise TokenizerError(f"{path} is not a tokenizer file ({err})") from None
        try:
            return cls(tokenizer)
        except TokenizerError as err:
            raise TokenizerError(f"{path}: {err}") from None

    def _split(self, text: str) -> list[tuple[str, tuple[int, int]]]:
        normal = self._tokenizer.normalizer.normalize_str(text)
        return self._tokenizer.pre_tokenizer.pre_tokenize_str(normal)


def train_tokenizer(caption_lists: Sequence[Sequence[str]], vocab_size: int) -> CaptionTokenizer:
    """A tokenizer trained on every caption of every image (a split's `captions_train`)."""
    return CaptionTokenizer.train((c for captions in caption_lists for c in captions), vocab_size)


def _empty() -> Tokenizer:
    tokenizer = Tokenizer(models.WordLevel(unk_token=SPECIAL_TOKENS[UNK]))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]
    )
    return tokenizer
