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
