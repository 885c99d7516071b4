"""Split the shared line-labelled pages into three disjoint sets for the pre-training proxy experiment.

- A: pages to train the lite refiner on (`prox lite train`), so it never sees the pages it refines;
- B: pages to refine: their raw text (every line, boilerplate included) is the raw corpus, and `prox refine` with
  `rules` and with the A-trained lite model makes the refined corpora;
- C: held-out pages: their gold main content (the kept lines) is the clean text the models are scored on.

Pages the scoring protocol leaves out (no usable gold) are not used. The split is by a hash of each page's dataset
and id, so it does not depend on file order.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
from contextlib import ExitStack
from pathlib import Path

from prox.records.labels import skips_page
from prox.records.reading import read_records_strict

# Shares of the pages in A (lite training), B (refined corpus); the rest is C (held-out).
SHARES = (0.45, 0.40)


def split_of(page: dict) -> str:
    """A, B or C by a stable hash of the page's dataset and id."""
    digest = hashlib.sha256(f"{page['dataset']}/{page['id']}".encode()).digest()
    value = int.from_bytes(digest[:8], "big") / 2**64
    return "A" if value < SHARES[0] else "B" if value < SHARES[0] + SHARES[1] else "C"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="+", help="line-labelled page files (../shared/data/line_labels/*.jsonl.gz)")
    parser.add_argument("-o", "--output", required=True, help="folder for A_pages, B_raw and C_heldout")
    args = parser.parse_args()
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    names = {"A": "A_pages.jsonl.gz", "B": "B_raw.jsonl.gz", "C": "C_heldout.jsonl.gz"}
    counts = dict.fromkeys(names, 0)
    with ExitStack() as stack:
        files = {split: stack.enter_context(gzip.open(output / name, "wt")) for split, name in names.items()}
        _write_splits(args.pages, files, counts)
    print(json.dumps(counts))


def _write_splits(paths: list[str], files: dict, counts: dict[str, int]) -> None:
    for path in paths:
        for record in read_records_strict(path):
            page = record.data
            if not isinstance(page, dict) or "labels" not in page or skips_page(page):
                continue
            split = split_of(page)
            if split == "A":
                row = page
            elif split == "B":
                row = {"id": f"{page['dataset']}/{page['id']}", "text": "\n".join(page["lines"])}
            else:
                kept = [line for line, label in zip(page["lines"], page["labels"], strict=True) if label == 1]
                if not kept:
                    continue
                row = {"id": f"{page['dataset']}/{page['id']}", "text": "\n".join(kept)}
            files[split].write(json.dumps(row, ensure_ascii=False) + "\n")
            counts[split] += 1


if __name__ == "__main__":
    main()
