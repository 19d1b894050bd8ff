"""BLEU-4 and CIDEr-D through COCO's scorers, with COCO's tokenisation done without Java."""

from __future__ import annotations

import pytest

from studio.evaluation.captions import caption_scores, coco_tokens

REFERENCES = [
    ["a red circle left of a blue square", "a blue square right of a red circle"],
    ["a green triangle at the top", "there is a green triangle at the top"],
    ["a yellow square on the left", "one yellow square on the left"],
    ["a blue circle above a red triangle", "a red triangle below a blue circle"],
]


def test_identical_captions_score_bleu4_one_and_a_high_cider():
    scores = caption_scores([refs[0] for refs in REFERENCES], REFERENCES)
    assert scores.bleu4 == pytest.approx(1.0, abs=1e-6)
    assert scores.cider > 3.0  # a perfect match of one of two references
    assert scores.images == 4 and len(scores.cider_per_image) == 4
    assert set(scores.to_dict()) == {"bleu1", "bleu2", "bleu3", "bleu4", "cider", "images"}


def test_unrelated_captions_score_about_zero():
    predictions = ["people walking down a street", "a bowl of soup", "two dogs play", "snow"]
    scores = caption_scores(predictions, REFERENCES)
    assert scores.bleu4 < 1e-6 and scores.cider < 0.05


def test_a_prediction_is_scored_against_all_its_references():
    # The second reference of each image, not the first: still a perfect BLEU-4.
    second = caption_scores([refs[1] for refs in REFERENCES], REFERENCES)
    assert second.bleu4 == pytest.approx(1.0, abs=1e-6)
    only_first = caption_scores([refs[1] for refs in REFERENCES], [r[:1] for r in REFERENCES])
    assert only_first.bleu4 < 0.9 and only_first.cider < second.cider


def test_half_right_scores_between_the_two():
    predictions = [REFERENCES[0][0], REFERENCES[1][0], "a bowl of soup", "two dogs play"]
    scores = caption_scores(predictions, REFERENCES)
    assert 0.2 < scores.bleu4 < 0.9
    assert scores.cider_per_image[0] > 1.0 and scores.cider_per_image[2] < 0.05


def test_case_and_punctuation_do_not_count_as_coco_tokenises_them():
    assert (
        coco_tokens("A red circle, left of a BLUE square.") == "a red circle left of a blue square"
    )
    assert coco_tokens("It's a dog; don't (touch)!") == "it 's a dog do n't touch"
    loud = caption_scores(
        ["A RED circle left of a blue square!"] + [r[0] for r in REFERENCES[1:]], REFERENCES
    )
    assert loud.bleu4 == pytest.approx(1.0, abs=1e-6)


def test_mismatched_or_empty_inputs_are_refused():
    with pytest.raises(ValueError, match="2 predicted captions for 1 images"):
        caption_scores(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="image 0 has no reference"):
        caption_scores(["a"], [[]])
    with pytest.raises(ValueError, match="hold no words"):
        caption_scores(["a", "b"], [["..."], ["!"]])
