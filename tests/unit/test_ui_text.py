"""What people named shows as they named it: file names, paths and class names inside the
studio's messages are never read as Markdown (`__init__.py` was a bold "init.py")."""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt

from studio.ui.text import code, md_text

# CommonMark plus GFM strikethrough, as Streamlit's renderer reads a message.
RENDER = MarkdownIt("commonmark").enable("strikethrough")
NAMES = ("__init__.py", "*star*.png", "a_b_c", "~x~.jpg", "$5.png", "[a](b).png", "<b>.png")


def shown(markdown: str) -> str:
    """The text a reader sees: the rendering with its tags removed, entities undone."""
    html = RENDER.render(markdown).strip()
    text = re.sub(r"<[^>]+>", "", html)
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&amp;", "&")):
        text = text.replace(entity, char)
    return text


def formatting(markdown: str) -> set[str]:
    """The tags other than a paragraph and code that the rendering uses (a heading, a list,
    emphasis, a link)."""
    return set(re.findall(r"<(\w+)", RENDER.render(markdown))) - {"p", "code"}


@pytest.mark.parametrize("name", NAMES)
def test_a_file_name_is_code_and_reads_as_written(name):
    for message in (
        name,
        f"Skipped {name}: not an image.",
        f"class folder '{name}' has one image",
        f"({name})",
    ):
        markdown = md_text(message)
        assert shown(markdown) == message, markdown
        assert not formatting(markdown), markdown
        assert code(name) in markdown or f"'{code(name)}'" in markdown


def test_paths_are_code_and_plain_words_stay_plain():
    assert md_text("Extracted to /tmp/x_y/z.") == "Extracted to `/tmp/x_y/z`."
    plain = "#4 ViT-B/16 on digits, e.g. 1.5 or v1.2 at lr 1e-3: x >= 1 -> 56 %"
    assert md_text(plain) == plain


def test_markdown_syntax_in_names_is_inert():
    for message in (
        ":red[boo] :material/home: ~~gone~~",
        "# heading",
        "- item",
        "1. item",
        "> quote",
        "a `tick",
        "$x$ and $y$",
        "[link](http://x) <https://x>",
    ):
        markdown = md_text(message)
        assert shown(markdown) == message, markdown
        assert not formatting(markdown), markdown
        assert ":red[" not in markdown.replace(code(":red[boo]"), "")


def test_a_code_span_the_message_has_is_kept():
    message = "Run `python -m studio evaluate RUN` first."
    assert md_text(message) == message


def test_a_quoted_value_stays_whole():
    assert md_text("group_by='^(p\\d+)_' has 2 groups") == "`group_by='^(p\\d+)_'` has 2 groups"
    assert md_text("folder 'my cats' is empty") == "folder 'my cats' is empty"
    assert md_text("folder 'my_cats dir/' is empty") == "folder '`my_cats dir/`' is empty"
    assert md_text("the model's files") == "the model's files"


def test_the_train_page_shows_names_from_a_folder_as_written(tmp_path, studio_home):
    """A sweep over what the page renders as Markdown for a folder whose class folders and
    files are named like Markdown: each name only ever inside a code span."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import REPO
    from tests.helpers.image_folders import make_tree

    root = make_tree(tmp_path / "data", {"a_b_c": 1, "__init__": 5, "*star*": 5})
    (root / "__init__" / "__init__.py").write_text("not an image")
    (root / "*star*" / "*star*.png").write_bytes(b"not a png either")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.radio(key="ds_source").set_value("Folder on this server").run()
    at.text_input(key="ds_folder").set_value(str(root)).run()
    assert not at.exception, [e.value for e in at.exception]
    kinds = ("error", "warning", "info", "success", "caption", "markdown")
    texts = [e.value for kind in kinds for e in getattr(at, kind)]
    texts += [caption for image in at.get("image") for caption in image.captions]
    # The small class is named in the split warning, every class under its sample image.
    assert all(any(name in t for t in texts) for name in ("a_b_c", "__init__", "*star*")), texts
    for text in texts:
        outside_code = re.sub(r"(`+).+?\1", "", text)
        for name in ("a_b_c", "__init__", "*star*"):
            assert name not in outside_code, text
