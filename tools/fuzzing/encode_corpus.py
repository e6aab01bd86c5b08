#!/usr/bin/env python3
"""Encodes a seed directory of text programs (corpus/<target>/*.ops) into binary inputs
(OUT/<stem>.bin) with tools/opcodec.py; run by the build (cmake/fuzz_targets.cmake). A seed whose
text does not mean what it says once encoded (opcodec roundtrip) is an error naming the line.
Outputs of seeds that no longer exist are removed.
Usage: encode_corpus.py SEED_DIR OUT_DIR [--stamp FILE]"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import opcodec  # noqa: E402


def encode_dir(seed_dir: Path, out_dir: Path) -> list[str]:
    """Returns the problems (empty when every seed encoded)."""
    seeds = sorted(seed_dir.glob("*.ops"))
    if not seeds:
        return [f"{seed_dir}: no seed programs (*.ops)"]
    out_dir.mkdir(parents=True, exist_ok=True)
    problems, wanted = [], set()
    for seed in seeds:
        try:
            text = seed.read_text(encoding="utf-8")
            problem = opcodec.roundtrip_text(text, str(seed))
            if problem:
                problems.append(f"{problem} (the seed does not mean what its text says)")
                continue
            data = opcodec.encode(opcodec.parse(text, str(seed)))
        except UnicodeDecodeError:
            problems.append(f"{seed}: not UTF-8 text")
            continue
        except opcodec.OpError as err:
            problems.append(str(err))
            continue
        target = out_dir / f"{seed.stem}.bin"
        wanted.add(target.name)
        if not target.is_file() or target.read_bytes() != data:
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(target)
    for stale in out_dir.glob("*.bin"):
        if stale.name not in wanted:
            stale.unlink()
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="encode_corpus.py", description=__doc__.splitlines()[0])
    ap.add_argument("seed_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--stamp", type=Path, help="touch this file on success (build dependency)")
    args = ap.parse_args(argv)
    if not args.seed_dir.is_dir():
        print(f"encode_corpus.py: error: {args.seed_dir} is not a directory", file=sys.stderr)
        return 2
    try:
        problems = encode_dir(args.seed_dir, args.out_dir)
        if not problems and args.stamp is not None:
            args.stamp.parent.mkdir(parents=True, exist_ok=True)
            args.stamp.write_text("")
    except OSError as exc:
        print(f"encode_corpus.py: error: {exc.strerror or exc} ({exc.filename})", file=sys.stderr)
        return 2
    for p in problems:
        print(f"encode_corpus.py: error: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
