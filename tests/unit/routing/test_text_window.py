"""The window of a prompt the embedding routers read fits in what the encoder reads.

MiniLM keeps the first 256 word pieces of its input; a window longer than that
cuts off the end of a few-shot prompt, its question (1,500 characters made all
887 RouterBench Winogrande prompts embed to one vector). Skipped without the
shared dev data.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dispatch.routing._onnx import _st_max_length
from dispatch.routing._st import default_model_path
from dispatch.routing.features import router_text

DATA = Path(__file__).resolve().parents[4] / "shared" / "data"
ROUTERBENCH = DATA / "routerbench_train.jsonl"


def test_the_end_of_a_few_shot_prompt_reaches_the_encoder() -> None:
    if not ROUTERBENCH.is_file():
        pytest.skip(f"no shared data at {ROUTERBENCH}")
    tokenizers = pytest.importorskip("tokenizers")
    model = default_model_path()
    tokenizer = tokenizers.Tokenizer.from_file(str(model / "tokenizer.json"))
    tokenizer.no_truncation()
    limit = _st_max_length(model)
    prompts = [
        json.loads(line)["prompt"]
        for line in ROUTERBENCH.read_text("utf-8").split("\n")
        if line.strip()
    ]
    pieces = [len(tokenizer.encode(router_text(p)).ids) for p in prompts]
    fits = sum(n <= limit for n in pieces) / len(pieces)
    # at 1,500 characters 13 % fitted
    assert fits >= 0.99, f"only {fits:.1%} of windows fit in {limit} word pieces"
