"""Reply-extraction accuracy on the labelled corpus in tests/corpus/replies/.

    uv run python bench/reply_accuracy.py [--compare /path/to/venv/bin/python] [--failures]

Each NNN.eml is parsed by `postdesk_parser.domain.parse_mail` (MIME, charsets,
HTML-to-text, then `reply.split_reply` with the HTML) and its reply_text is
compared with NNN.expected.txt:
- exact: equal after whitespace normalisation (runs of whitespace to one space);
- token F1: precision and recall of the whitespace-separated tokens (as a
  multiset), averaged over the cases.

--compare runs the public parsers (talon, email-reply-parser) on the same
text bodies in another interpreter -- a throwaway venv, never the project's.
They get the plain text our MIME parsing produced (talon also strips
signatures with its brute-force extractor), so only the reply rules differ.
Prints one JSON object and, with --failures, the cases that do not match.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from postdesk_parser.domain import parse_mail

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus" / "replies"

_OTHERS = r"""
import json, sys
texts = json.load(sys.stdin)
out = {}
try:
    from email_reply_parser import EmailReplyParser
    out["email-reply-parser"] = [EmailReplyParser.parse_reply(t) for t in texts]
except ImportError:
    pass
try:
    import talon
    from talon import quotations
    from talon.signature.bruteforce import extract_signature
    talon.init()
    out["talon"] = [extract_signature(quotations.extract_from_plain(t))[0] for t in texts]
except ImportError:
    pass
json.dump(out, sys.stdout)
"""


def normalise(text: str) -> str:
    return " ".join(text.split())


def token_f1(got: str, expected: str) -> float:
    got_tokens, want_tokens = Counter(got.split()), Counter(expected.split())
    if not got_tokens and not want_tokens:
        return 1.0
    common = sum((got_tokens & want_tokens).values())
    if common == 0:
        return 0.0
    precision = common / sum(got_tokens.values())
    recall = common / sum(want_tokens.values())
    return 2 * precision * recall / (precision + recall)


def cases() -> list[tuple[str, bytes, str]]:
    return [
        (eml.stem, eml.read_bytes(), eml.with_suffix(".expected.txt").read_text(encoding="utf-8"))
        for eml in sorted(CORPUS.glob("*.eml"))
    ]


def score(outputs: list[str], expected: list[str]) -> dict[str, float]:
    exact = sum(normalise(o) == normalise(e) for o, e in zip(outputs, expected, strict=True))
    f1 = sum(token_f1(o, e) for o, e in zip(outputs, expected, strict=True))
    return {
        "exact": exact,
        "exact_ratio": round(exact / len(expected), 4),
        "token_f1": round(f1 / len(expected), 4),
    }


def main() -> None:
    argv = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    argv.add_argument("--compare", help="python of a throwaway venv with talon/email-reply-parser")
    argv.add_argument("--failures", action="store_true", help="print the cases that do not match")
    args = argv.parse_args()
    corpus = cases()
    started = time.perf_counter()
    parsed = [parse_mail(raw) for _, raw, _ in corpus]
    seconds = time.perf_counter() - started
    ours = [p.reply_text for p in parsed]
    expected = [e for _, _, e in corpus]
    result: dict[str, object] = {
        "cases": len(corpus),
        "postdesk": score(ours, expected),
        "parse_seconds": round(seconds, 3),
    }
    if args.compare:
        texts = [p.text or "" for p in parsed]
        others = json.loads(
            subprocess.run(
                [args.compare, "-c", _OTHERS],
                input=json.dumps(texts),
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for name, outputs in others.items():
            result[name] = score(outputs, expected)
    print(json.dumps(result, indent=2))
    if args.failures:
        for (name, _, want), got in zip(corpus, ours, strict=True):
            if normalise(got) != normalise(want):
                print(f"--- {name}\nexpected: {want!r}\ngot:      {got!r}", file=sys.stderr)


if __name__ == "__main__":
    main()
