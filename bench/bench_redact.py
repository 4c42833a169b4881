"""Redaction throughput: every output passes through the redactor, so it must run in linear time
at a speed close to reading the text once.

    .venv/bin/python -m bench.bench_redact [--runs 3] [--sizes 1,10,50] [--secrets 20]

Two texts per size: a realistic mix (JSON bodies with URLs and query strings, header dumps, curl
lines, driver errors, with 20 known secrets planted in them and in the redactor; --secrets gives
the redactor more, as a corpus of per-user tokens would) and an
adversarial one (long letter runs, `a:b@` fragments, runs of `=`, `://` without an `@`, names that
look secret but are not). Prints the median MB/s of `Redactor.text` next to reading the same
text once from a file and a plain Python loop over its lines, the ratios of their times, and
checks that no planted secret is left.
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pytest_cutover.redact import Redactor

MB = 1_000_000
LOREM = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "tempor")


def random_secrets(rng: random.Random, count: int) -> list[str]:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return ["".join(rng.choices(alphabet, k=rng.randint(12, 40))) for _ in range(count)]


def realistic(size: int, secrets: list[str], rng: random.Random) -> str:
    """Outputs as the gates write them: most records hold no secret, some hold one."""
    records: list[str] = []
    total = 0
    index = 0
    while total < size:
        index += 1
        secret = secrets[index % len(secrets)]
        kind = index % 8
        if kind == 0:
            record = (
                f'{{"request": "GET /api/items/{index}?page=2&api_key={secret}", '
                f'"status": 200, "token_type": "bearer", "expires_in": 3600}}\n'
            )
        elif kind == 1:
            record = (
                f"curl -sS -i 'https://new.example.com/api/items/{index}?sort=asc' "
                f"-H 'Authorization: Bearer {secret}' -H 'Accept: application/json'\n"
            )
        elif kind == 2:
            record = (
                f"connection to postgresql://app:{secret}@db.internal:5432/shop failed: "
                f"timeout after 5.0s (attempt {index})\n"
            )
        elif kind == 3:
            record = (
                "HTTP/1.1 200 OK\nContent-Type: application/json\n"
                "Access-Control-Allow-Credentials: true\n"
                f"Set-Cookie: session={secret}; Path=/; HttpOnly\n"
            )
        else:
            words = " ".join(rng.choices(LOREM, k=12))
            record = (
                f'{{"id": {index}, "name": "item-{index}", "price": {index % 97}.5, '
                f'"url": "https://api.example.com/v1/items/{index}?page={index % 9}", '
                f'"description": "{words}", "tags": ["a", "b"], "author": "team-{kind}"}}\n'
            )
        records.append(record)
        total += len(record)
    return "".join(records)[:size]


def adversarial(size: int) -> str:
    """Inputs that made the old redactor quadratic, and near misses that cost the new one most."""
    parts = [
        "a" * 200_000,
        "a:b@" * 50_000,
        "=" * 200_000,
        "http://" + "x" * 200_000,
        "://u:" + "p" * 200_000,
        "author=x;" * 20_000,
        "tokentoken" * 20_000,
        "key=" * 50_000,
    ]
    block = " ".join(parts)
    return (block * (size // len(block) + 1))[:size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="1,10,50", help="text sizes in MB")
    parser.add_argument("--secrets", type=int, default=20, help="known secrets (20 planted)")
    args = parser.parse_args()
    rng = random.Random(13)
    secrets = random_secrets(rng, 20)
    redactor = Redactor([*secrets, *random_secrets(rng, max(0, args.secrets - 20))])
    print(
        f"{'text':<12} {'MB':>4} {'redact MB/s':>12} {'read MB/s':>10} {'lines MB/s':>11} "
        f"{'x read':>7} {'x lines':>8} left"
    )
    with tempfile.TemporaryDirectory() as folder:
        for size in (int(s) for s in args.sizes.split(",")):
            for name, text in (
                ("realistic", realistic(size * MB, secrets, rng)),
                ("adversarial", adversarial(size * MB)),
            ):
                redacted = redactor.text(text)
                left = sum(redacted.count(secret) for secret in secrets)
                path = Path(folder) / f"{name}-{size}.txt"
                path.write_text(text, encoding="utf-8")
                # Interleaved, so a load that comes and goes weighs on all three alike.
                timings: dict[str, list[float]] = {"redact": [], "read": [], "lines": []}
                for _ in range(args.runs):
                    timings["redact"].append(seconds(functools.partial(redactor.text, text)))
                    timings["read"].append(seconds(functools.partial(read_once, path)))
                    timings["lines"].append(seconds(functools.partial(line_loop, text)))
                redacting, reading, looping = (
                    statistics.median(timings[k]) for k in ("redact", "read", "lines")
                )
                mb = len(text) / MB
                print(
                    f"{name:<12} {mb:>4.0f} {mb / redacting:>12.1f} {mb / reading:>10.0f} "
                    f"{mb / looping:>11.0f} {redacting / reading:>6.1f}x "
                    f"{redacting / looping:>7.1f}x {left:>4}"
                )
    print(
        f"medians of {args.runs}; read = the text read once from a file (open().read()), "
        "lines = a plain Python loop over its lines"
    )


def seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def read_once(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def line_loop(text: str) -> int:
    count = 0
    for _line in text.splitlines():
        count += 1
    return count


if __name__ == "__main__":
    main()
