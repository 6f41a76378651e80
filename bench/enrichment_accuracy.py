"""Accuracy of the parser's default enrichment (language, sentiment) on the labelled sample.

Run: uv run python bench/enrichment_accuracy.py [--misses]
Reads tests/corpus/enrichment/<lang>.txt (see the README there), prints accuracy per language for
language detection, and accuracy plus a confusion table for sentiment where labelled.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from postdesk_parser.enrich import DEFAULT_ENRICHER

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus" / "enrichment"
LABELS = ("positive", "neutral", "negative")


def load() -> list[tuple[str, str, str]]:
    """(language, sentiment label or "-", text) for every labelled line."""
    rows = []
    for path in sorted(CORPUS.glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                sentiment, text = line.split("\t", 1)
                rows.append((path.stem, sentiment, text))
    return rows


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--misses", action="store_true", help="print every wrong answer")
    show_misses = options.parse_args().misses
    rows = load()
    started = time.perf_counter()
    results = [DEFAULT_ENRICHER.enrich(text) for _, _, text in rows]
    elapsed = time.perf_counter() - started
    lang_total: Counter[str] = Counter()
    lang_right: Counter[str] = Counter()
    senti_total: Counter[str] = Counter()
    senti_right: Counter[str] = Counter()
    confusion: dict[str, Counter[str]] = {}
    misses: list[str] = []
    for (language, sentiment, text), result in zip(rows, results, strict=True):
        lang_total[language] += 1
        if result.language == language:
            lang_right[language] += 1
        else:
            misses.append(f"language {language} -> {result.language}: {text}")
        if sentiment != "-":
            senti_total[language] += 1
            confusion.setdefault(language, Counter())[f"{sentiment}->{result.sentiment}"] += 1
            if result.sentiment == sentiment:
                senti_right[language] += 1
            else:
                misses.append(f"sentiment [{language}] {sentiment} -> {result.sentiment}: {text}")
    print(
        f"{len(rows)} messages, {elapsed / len(rows) * 1e6:.0f} us per message (language + sentiment)"
    )
    print("language detection (messages, accuracy):")
    for language in sorted(lang_total, key=lambda code: -lang_total[code]):
        share = lang_right[language] / lang_total[language]
        print(f"  {language}  {lang_total[language]:4d}  {share:6.1%}")
    all_right, all_total = sum(lang_right.values()), sum(lang_total.values())
    print(f"  all {all_total:4d}  {all_right / all_total:6.1%}")
    print("sentiment, positive/neutral/negative (messages, accuracy):")
    for language in sorted(senti_total):
        share = senti_right[language] / senti_total[language]
        print(f"  {language}  {senti_total[language]:4d}  {share:6.1%}")
        table = confusion[language]
        for label in LABELS:
            row = "  ".join(f"{table[f'{label}->{guess}']:3d}" for guess in (*LABELS, None))
            print(f"      {label:>8} -> pos neu neg none: {row}")
    if show_misses:
        print("misses:")
        for miss in misses:
            print("  " + miss)


if __name__ == "__main__":
    main()
