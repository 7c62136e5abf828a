"""Static word embeddings for tool search: wordllama's 256-dimension model, whose weights and
tokenizer ship inside its PyPI wheel (nothing is downloaded from a model hub, ever).

The model loads on the first search in a process, never at import or app start (about 0.2 s warm,
up to 1.3 s from a cold disk), then stays for the life of the worker. wordllama's own loader looks
for the bundled tokenizer under `wordllama/tokenizer/`, but the wheel ships it under
`wordllama/tokenizers/`; naming the package folder as the cache folder finds both files where they
are, and `disable_download` turns any other miss into an error instead of a network call.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

Vectors = NDArray[np.float32]
DIMENSIONS = 256


class Embedder(Protocol):
    def embed(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised row per text."""
        ...

    def known(self, word: str) -> bool:
        """Whether the model's vocabulary holds `word` whole (a word it knows, not a misspelling)."""
        ...


class WordLlamaEmbedder:
    """The bundled model, loaded once per process on first use."""

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        vectors: Vectors = self._loaded().embed(list(texts), norm=True)
        return vectors.astype(np.float32, copy=False)

    def known(self, word: str) -> bool:
        return len(self._loaded().tokenizer.encode(word, add_special_tokens=False).tokens) == 1

    def _loaded(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = _load()
        return self._model


def _load() -> Any:
    import wordllama  # pyright: ignore[reportMissingTypeStubs] - heavy: imported on the first search only

    folder = Path(wordllama.__file__).parent
    return wordllama.WordLlama.load(cache_dir=folder, disable_download=True)  # pyright: ignore[reportUnknownMemberType] - untyped package


EMBEDDER = WordLlamaEmbedder()  # one per process: every index shares the model and its memory
