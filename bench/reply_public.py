"""Reply extraction on a public corpus: talon's standard replies.

Downloads the talon 1.4.4 source distribution from PyPI (its tests ship
real replies from AOL, Android, Apple Mail, Comcast, Gmail, Hotmail, iPhone,
Outlook, Sparrow, Thunderbird and Yahoo), keeps it under bench/out/, and runs
postdesk's full parser on every `standard_replies/*.eml`. The expected reply
is talon's own: the `<name>_reply_text` file when there is one, else "Hello".
talon keeps signatures inside the reply, postdesk splits them off, so a case
counts as right when the reply text, or the reply text followed by the
signature, equals the expected text (whitespace normalised, a "-- "
delimiter line ignored). These fixtures are talon's own tests, so talon
passes them by construction: the figure says how postdesk does on mail it
was not written against.

    uv run python bench/reply_public.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

from postdesk_parser.domain import parse_mail

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "public"
SDIST = "talon-1.4.4.tar.gz"
FIXTURES = "talon-1.4.4/tests/fixtures/standard_replies/"


def fetch() -> Path:
    archive = OUT / SDIST
    if not archive.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        # The venv uv made has no pip; the interpreter it was made from has.
        base_python = Path(sys.base_prefix) / "bin" / "python3"
        subprocess.run(
            [
                str(base_python),
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                str(OUT),
                "talon==1.4.4",
            ],
            check=True,
        )
    target = OUT / "talon"
    if not target.exists():
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(FIXTURES) and m.isfile()]
            tar.extractall(target, members=members, filter="data")
    return target / FIXTURES


def normalised(text: str) -> str:
    """Whitespace collapsed; a "-- " signature delimiter line dropped (postdesk keeps it out of both parts)."""
    return " ".join(line for line in text.split() if line != "--")


def main() -> None:
    fixtures = fetch()
    results = []
    for eml in sorted(fixtures.glob("*.eml")):
        expected_file = eml.with_name(eml.stem + "_reply_text")
        expected = expected_file.read_text().strip() if expected_file.exists() else "Hello"
        parsed = parse_mail(eml.read_bytes())
        with_signature = f"{parsed.reply_text}\n\n{parsed.signature}".strip()
        right = normalised(expected) in {normalised(parsed.reply_text), normalised(with_signature)}
        results.append(
            {"file": eml.name, "right": right, "expected": expected, "got": parsed.reply_text}
        )
    right = sum(r["right"] for r in results)
    print(
        json.dumps(
            {
                "corpus": "talon 1.4.4 standard_replies",
                "cases": len(results),
                "right": right,
                "misses": [r for r in results if not r["right"]],
            },
            indent=2,
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
