"""The text side of captioning, without keras: the caption tokenizer (tokenizer.py) and the
(image, caption) training pairs (pairs.py)."""
