"""Parser throughput on one core, against the standard library in the same run.

Parses the seeded corpus (default: 1,000 messages of gen_corpus.py's default
seed) three ways, each best of `--rounds` passes, one thread:
- stdlib modern: BytesParser(policy=policy.default), read the address,
  subject, date and threading headers once, walk every part and
  get_content() of text parts (what a straightforward parser does);
- stdlib compat32: the same with policy.compat32 and get_payload(decode=True)
  (raw header strings, nothing decoded);
- postdesk: postdesk_parser.domain.parse_mail with everything on (limits,
  charset fallback, sanitising, reply extraction, classification, threading
  keys, language and sentiment).
Prints messages/s for each, postdesk's ratio to the modern API, and the
slowest message for postdesk.

    uv run python bench/parser_throughput.py [--count 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from email import policy
from email.message import Message
from email.parser import BytesParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import ROOT, corpus  # bench/ is not a package
from postdesk_parser.domain import parse_mail

HEADERS = (
    "from",
    "to",
    "cc",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
)


def stdlib_modern(raw: bytes) -> None:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    for name in HEADERS:
        message.get(name)
    for part in message.walk():
        if part.get_content_maintype() == "text":
            part.get_content()  # type: ignore[attr-defined]  # EmailMessage under policy.default


def stdlib_compat32(raw: bytes) -> None:
    message: Message = BytesParser(policy=policy.compat32).parsebytes(raw)
    for name in HEADERS:
        message.get(name)
    for part in message.walk():
        if not part.is_multipart():
            part.get_payload(decode=True)


def postdesk(raw: bytes) -> None:
    parse_mail(raw)


def timed_pass(parse: Callable[[bytes], None], mails: list[bytes]) -> tuple[float, list[float]]:
    each: list[float] = []
    start = time.perf_counter()
    for raw in mails:
        began = time.perf_counter()
        parse(raw)
        each.append(time.perf_counter() - began)
    return time.perf_counter() - start, each


def best_of(
    rounds: int, parse: Callable[[bytes], None], mails: list[bytes]
) -> tuple[float, list[float]]:
    return min((timed_pass(parse, mails) for _ in range(rounds)), key=lambda r: r[0])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    mails = corpus(ROOT / "bench" / "out", args.count, args.seed)
    results: dict[str, object] = {"messages": len(mails), "rounds": args.rounds}
    rates: dict[str, float] = {}
    for name, parse in (
        ("stdlib_modern", stdlib_modern),
        ("stdlib_compat32", stdlib_compat32),
        ("postdesk", postdesk),
    ):
        total, each = best_of(args.rounds, parse, mails)
        rates[name] = len(mails) / total
        results[f"{name}_per_s"] = round(rates[name], 1)
        if name == "postdesk":
            slowest = max(range(len(each)), key=each.__getitem__)
            results["postdesk_slowest"] = {
                "index": slowest,
                "ms": round(each[slowest] * 1000, 2),
                "bytes": len(mails[slowest]),
            }
            ordered = sorted(each)
            results["postdesk_p50_ms"] = round(ordered[len(ordered) // 2] * 1000, 3)
            results["postdesk_p99_ms"] = round(ordered[int(len(ordered) * 0.99)] * 1000, 3)
    results["postdesk_vs_modern"] = round(rates["postdesk"] / rates["stdlib_modern"], 2)
    results["postdesk_vs_compat32"] = round(rates["postdesk"] / rates["stdlib_compat32"], 2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
