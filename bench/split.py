"""Split a replay file into deterministic train/test halves (sha1 of each id), so
``dispatch eval`` can be run on prompts the router never trained on.

Run: ``python -m bench.split ../shared/data/routerbench_train.jsonl /tmp/rb``
(writes ``/tmp/rb.train.jsonl`` and ``/tmp/rb.test.jsonl``; never into the repo).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path


def main() -> None:
    """Write the two halves."""
    source, prefix = Path(sys.argv[1]), sys.argv[2]
    test_share = float(sys.argv[3]) if len(sys.argv) > 3 else 0.5
    train, test = [], []
    # split("\n"), not splitlines(): prompts may hold U+2028 and friends
    for line in source.read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            continue
        key = str(json.loads(line).get("id", line))
        bucket = int(hashlib.sha1(key.encode()).hexdigest(), 16) % 1000
        (test if bucket < test_share * 1000 else train).append(line)
    Path(f"{prefix}.train.jsonl").write_text("\n".join(train) + "\n", encoding="utf-8")
    Path(f"{prefix}.test.jsonl").write_text("\n".join(test) + "\n", encoding="utf-8")
    print(f"{len(train)} train, {len(test)} test")


if __name__ == "__main__":
    main()
