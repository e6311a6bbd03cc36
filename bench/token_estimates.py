"""How well `dispatch.cost.estimate_tokens` bounds real tokenizer counts.

``python -m bench.token_estimates`` counts each text with OpenAI's
``cl100k_base`` and ``o200k_base`` tokenizers (the larger of the two is the
"real" count) and prints, per group, the share of texts the estimate bounds,
with and without the dispatcher's default 1.2 input safety factor, next to the
old "four characters per token" baseline measured in the same run.

Texts: prompts of the benchmark data in ``../shared/data`` (English, math/LaTeX,
code tasks), generated text in 20 locales (Faker), emoji and Python source of
the standard library. Needs two packages that are not dependencies, both of
which work offline: ``pip install bpe-openai faker`` (``bpe-openai`` bundles the
tokenizer tables that ``tiktoken`` would download).
"""

from __future__ import annotations

import glob
import json
import math
import random
import sys
import sysconfig
from collections import defaultdict
from pathlib import Path

from dispatch.cost import estimate_tokens

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
LOCALES = (
    "en_US de_DE fr_FR es_ES pl_PL cs_CZ tr_TR vi_VN zh_CN zh_TW ja_JP ru_RU uk_UA "
    "el_GR ar_AA he_IL fa_IR th_TH bn_BD hy_AM"
).split()
SAFETY = 1.2


def texts(rng: random.Random) -> list[tuple[str, str]]:
    """(group, text) pairs to measure."""
    from faker import Faker

    out: list[tuple[str, str]] = []
    for name in ("capabilities_dev", "routerbench_train", "math_levels_train"):
        path = DATA / f"{name}.jsonl"
        if path.exists():
            lines = path.read_text(encoding="utf-8").splitlines()
            out += [(name, json.loads(x)["prompt"]) for x in rng.sample(lines, 300)]
    for locale in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(3)
        out += [
            (locale, fake.text(max_nb_chars=rng.choice([100, 300, 800])))
            for _ in range(30)
        ]
    fake = Faker("en_US")
    fake.seed_instance(5)
    out += [
        ("emoji", fake.sentence() + " " + "".join(fake.emoji() for _ in range(8)))
        for _ in range(40)
    ]
    stdlib = sorted(glob.glob(sysconfig.get_paths()["stdlib"] + "/*.py"))
    for path in rng.sample(stdlib, min(100, len(stdlib))):
        source = Path(path).read_text(encoding="utf-8", errors="replace")
        start = rng.randrange(max(1, len(source) - 1500))
        out.append(("python source", source[start : start + 1500]))
    return out


def main() -> None:
    """Print the bound's coverage per group and overall."""
    try:
        import bpe_openai
    except ImportError:
        sys.exit("bench.token_estimates needs: pip install bpe-openai faker")
    encodings = [bpe_openai.get_encoding(n) for n in ("cl100k_base", "o200k_base")]
    groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for group, text in texts(random.Random(0)):
        real = max(len(e.encode(text)) for e in encodings)
        if real:
            old = math.ceil(len(text) / 4)
            groups[group].append((estimate_tokens(text) / real, old / real))
    head = f"{'group':20} {'n':>4} {'bounded':>8} {'x1.2':>6} {'min':>5} {'median':>6}"
    print(head + f"  {'chars/4 bounded':>15} {'min':>5}")
    every: list[tuple[float, float]] = []
    for group, rows in sorted(groups.items()):
        every += rows
        print(_line(group, rows))
    print(_line("all", every))


def _line(group: str, rows: list[tuple[float, float]]) -> str:
    new = sorted(r for r, _ in rows)
    old = sorted(o for _, o in rows)
    share = sum(r >= 1 for r in new) / len(new)
    safe = sum(r * SAFETY >= 1 for r in new) / len(new)
    old_share = sum(o >= 1 for o in old) / len(old)
    return (
        f"{group:20} {len(new):4} {share:8.0%} {safe:6.0%} {new[0]:5.2f} {new[len(new) // 2]:6.2f}"
        f"  {old_share:15.0%} {old[0]:5.2f}"
    )


if __name__ == "__main__":
    main()
