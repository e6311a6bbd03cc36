"""The search specialist and its tool: TF-IDF search over a local document folder."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, Field

from dispatch import Specialist
from dispatch.agents._tools import safe_tool

__all__ = ("DEMO_CORPUS", "DocumentIndex", "search_specialist", "search_tool")

DEMO_CORPUS = Path(__file__).parent / "corpus"
"""The project's own small demo corpus (runbooks of an imaginary checkout service)."""
SUFFIXES = (".md", ".txt", ".rst")
MAX_QUERY_CHARS = 1_000
MAX_ENTRIES = 20_000
"""Most folder entries scanned: a search pointed at ``/`` fails fast instead of walking it."""
MAX_DOCUMENTS = 5_000
MAX_DOCUMENT_BYTES = 1 << 20
"""Bytes read per document: a huge file costs no more than this."""
MAX_CORPUS_BYTES = 64 << 20
"""Bytes indexed in all: bounds the first search's time and memory."""


@dataclass(frozen=True)
class _Doc:
    name: str
    text: str


class DocumentIndex:
    """A TF-IDF index (scikit-learn) of the text files in `folder`, built on first use."""

    def __init__(self, folder: Path, *, max_entries: int = MAX_ENTRIES) -> None:
        self.folder = Path(folder)
        self.max_entries = max_entries

    @cached_property
    def _docs(self) -> list[_Doc]:
        if not self.folder.is_dir():
            raise ToolException(
                f"search: document folder {str(self.folder)!r} does not exist"
            )
        docs, total = [], 0
        for path in self._paths():
            docs.append(_Doc(path.name, _read_head(path)))
            total += len(docs[-1].text)
            if total > MAX_CORPUS_BYTES:
                raise ToolException(
                    f"search: {str(self.folder)!r} holds more than "
                    f"{MAX_CORPUS_BYTES >> 20} MiB of text; use a smaller folder"
                )
        if not docs:
            raise ToolException(
                f"search: no {'/'.join(SUFFIXES)} files in {str(self.folder)!r}"
            )
        return docs

    def _paths(self) -> list[Path]:
        """The folder's text files, refusing a folder too big to index quickly."""
        paths: list[Path] = []
        for seen, path in enumerate(self.folder.rglob("*"), start=1):
            if seen > self.max_entries:
                raise ToolException(
                    f"search: {str(self.folder)!r} has more than {self.max_entries} "
                    "entries; point the search at a smaller document folder"
                )
            if path.suffix in SUFFIXES and path.is_file():
                paths.append(path)
        if len(paths) > MAX_DOCUMENTS:
            raise ToolException(
                f"search: {str(self.folder)!r} has {len(paths)} documents, "
                f"the limit is {MAX_DOCUMENTS}"
            )
        return sorted(paths)

    @cached_property
    def _index(self) -> tuple[object, object]:
        from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: PLC0415

        vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True)
        matrix = vectorizer.fit_transform([d.text for d in self._docs])
        return vectorizer, matrix

    def search(self, query: str, k: int = 3) -> list[tuple[str, float, str]]:
        """Top `k` documents as (file name, score, best paragraph)."""
        if not query.strip():
            raise ToolException("search: `query` is empty")
        if len(query) > MAX_QUERY_CHARS:
            raise ToolException(
                f"search: query longer than {MAX_QUERY_CHARS} characters"
            )
        if not 1 <= k <= 20:
            raise ToolException(f"search: k must be between 1 and 20, got {k}")
        vectorizer, matrix = self._index
        q = vectorizer.transform([query])  # type: ignore[attr-defined]
        scores = (matrix @ q.T).toarray().ravel()  # type: ignore[operator]
        ranked = sorted(range(len(scores)), key=lambda i: -scores[i])[:k]
        terms = set(vectorizer.build_analyzer()(query))  # type: ignore[attr-defined]
        return [
            (
                self._docs[i].name,
                float(scores[i]),
                _best_paragraph(self._docs[i].text, terms),
            )
            for i in ranked
            if scores[i] > 0
        ]


def _read_head(path: Path) -> str:
    """The first `MAX_DOCUMENT_BYTES` of a file: a huge file costs no more than that."""
    with path.open("rb") as f:
        return f.read(MAX_DOCUMENT_BYTES).decode("utf-8", errors="replace")


def _best_paragraph(text: str, terms: set[str]) -> str:
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    return max(paragraphs, key=lambda p: sum(t in p.lower() for t in terms))[:400]


class _SearchArgs(BaseModel):
    query: str = Field(description="What to look for, in plain words.")
    k: int = Field(default=3, description="How many documents to return (1-20).")


def search_tool(folder: Path = DEMO_CORPUS) -> BaseTool:
    """The `search_documents` tool over `folder`."""
    index = DocumentIndex(folder)

    def run(query: str, k: int = 3) -> str:
        hits = index.search(query, k)
        if not hits:
            return f"no document in {index.folder.name!r} matches {query!r}"
        return "\n\n".join(
            f"[{name}] (score {score:.2f})\n{para}" for name, score, para in hits
        )

    return safe_tool(
        run,
        name="search_documents",
        description="Search the local document folder; returns the best matching passages.",
        args_schema=_SearchArgs,
    )


def search_specialist(folder: Path = DEMO_CORPUS) -> Specialist:
    """Answers from local documents, citing file names."""
    return Specialist(
        name="search",
        capability="search",
        prompt=(
            "You answer from the documents only. Search with search_documents, "
            "quote what you use and cite the file name in brackets."
        ),
        tools=(search_tool(folder),),
    )
