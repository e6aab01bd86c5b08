#!/usr/bin/env python3
"""Encodes a seed directory of text programs (corpus/<target>/*.ops) into binary inputs
(OUT/<stem>.bin) with tools/opcodec.py; run by the build (cmake/fuzz_targets.cmake). A seed whose
text does not mean what it says once encoded (opcodec roundtrip) is an error naming the line.
Outputs of seeds that no longer exist are removed, but only files this script wrote: it lists them in
OUT_DIR/.encode_corpus/manifest (a hidden subdirectory, which the fuzzers and the replay suites skip), and it
refuses an OUT_DIR holding .bin files it did not write (it deleted them, a user's files included); see owned()
for a build tree an older version filled.
Usage: encode_corpus.py SEED_DIR OUT_DIR [--stamp FILE]"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import opcodec  # noqa: E402


MANIFEST = Path(".encode_corpus") / "manifest"  # in OUT_DIR: the .bin files this script wrote, one a line
LEFT = "?"  # a manifest line "?NAME": a .bin file found in a build tree without a manifest, never touched


class ForeignFiles(Exception):
    pass


def read_manifest(out_dir: Path) -> tuple[set[str], set[str]] | None:
    """(the names this script wrote into out_dir, the names it found there and leaves alone), or None when
    out_dir has no manifest."""
    try:
        text = (out_dir / MANIFEST).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    names = [line for line in text.splitlines() if line.endswith(".bin") and "/" not in line]
    return ({n for n in names if not n.startswith(LEFT)}, {n[len(LEFT):] for n in names if n.startswith(LEFT)})


def write_manifest(out_dir: Path, mine: set[str], left: set[str]) -> None:
    path = out_dir / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("manifest.tmp")
    tmp.write_text("".join(f"{n}\n" for n in sorted(mine)) + "".join(f"{LEFT}{n}\n" for n in sorted(left)),
                   encoding="utf-8")
    tmp.replace(path)


def owned(out_dir: Path, wanted: set[str], build_tree: bool, warn) -> tuple[set[str], set[str]]:
    """(the .bin files of out_dir this script may overwrite or delete, those it leaves alone).

    With a manifest: the files it lists; a .bin file it does not list is refused (ForeignFiles) before
    anything is written. Without one, on the build's own corpus directory (build_tree: CMake's call, with
    --stamp) the directory may have been filled by an older version of this script, which kept no manifest,
    and the build must go on: the outputs of the current seeds become its own (it would rewrite them anyway)
    and any other .bin file is left alone for good, with a warning, since nothing says whose it is. Anywhere
    else a directory without a manifest must hold no .bin file."""
    present = {p.name for p in out_dir.glob("*.bin")} if out_dir.is_dir() else set()
    manifest = read_manifest(out_dir)
    if manifest is None and build_tree:
        mine, left = present & wanted, present - wanted
    else:
        mine, left = manifest or (set(), set())
        foreign = sorted(present - mine - left)
        if foreign:
            raise ForeignFiles(f"{out_dir} holds .bin files encode_corpus.py did not write "
                               f"({', '.join(foreign[:5])}{', ...' if len(foreign) > 5 else ''}); it deletes the "
                               f"outputs of removed seeds, so it writes only into a directory of its own: move "
                               f"them out, or give another OUT_DIR")
    left &= present  # one the user has deleted since is forgotten
    for name in sorted(left):
        warn(f"{out_dir / name}: not the output of a seed this script encoded; left alone (delete it if it is "
             f"a stale seed)")
    return mine, left


def encode_dir(seed_dir: Path, out_dir: Path, build_tree: bool = False, warn=lambda s: None) -> list[str]:
    """Returns the problems (empty when every seed encoded); raises ForeignFiles, having written nothing, when
    out_dir holds files it must not touch. build_tree: out_dir is the build's own corpus directory (owned())."""
    seeds = sorted(seed_dir.glob("*.ops"))
    if not seeds:
        return [f"{seed_dir}: no seed programs (*.ops)"]
    outputs = {f"{seed.stem}.bin" for seed in seeds}
    mine, left = owned(out_dir, outputs, build_tree, warn)
    clash = sorted(outputs & left)
    if clash:  # a seed added since, named like a file left alone: overwrite nothing
        raise ForeignFiles(f"{out_dir / clash[0]}: the output of seed {seed_dir / clash[0][:-4]}.ops would "
                           f"replace a file encode_corpus.py did not write; move it out")
    out_dir.mkdir(parents=True, exist_ok=True)
    # The manifest names a file before it is written, so a run killed half-way still owns what it wrote.
    write_manifest(out_dir, mine | outputs, left)
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
    for name in sorted(mine - wanted):  # only what this script wrote: a removed (or now broken) seed's output
        (out_dir / name).unlink(missing_ok=True)
    write_manifest(out_dir, wanted, left)
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
        # --stamp: CMake's call on the build's own corpus directory (cmake/fuzz_targets.cmake), which an older
        # version of this script may have filled without a manifest.
        problems = encode_dir(args.seed_dir, args.out_dir, args.stamp is not None,
                              lambda text: print(f"encode_corpus.py: warning: {text}", file=sys.stderr))
        if not problems and args.stamp is not None:
            args.stamp.parent.mkdir(parents=True, exist_ok=True)
            args.stamp.write_text("")
    except OSError as exc:
        print(f"encode_corpus.py: error: {exc.strerror or exc} ({exc.filename})", file=sys.stderr)
        return 2
    except ForeignFiles as exc:
        print(f"encode_corpus.py: error: {exc}", file=sys.stderr)
        return 2
    for p in problems:
        print(f"encode_corpus.py: error: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
