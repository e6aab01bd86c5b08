"""The suite registry. A suite is a command that speaks the ktest protocol (see protocol.py),
optionally preceded by the build of a CMake preset. To add a suite, append one Suite to SUITES."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

C_TOOLCHAIN = ("cmake", "ninja", "clang", "llvm")


@dataclass(frozen=True)
class Context:
    root: Path
    patterns: tuple[str, ...]  # -k globs, matched against "suite.case"; empty selects everything


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    command: Callable[[Context], list[str]]
    preset: str | None = None  # CMake preset to configure/build first
    needs: tuple[str, ...] = ()  # rows of prereqs.PREREQUISITES
    timeout: float = 600.0  # seconds for the command (not the build)


def km_tests(preset: str) -> Callable[[Context], list[str]]:
    def command(ctx: Context) -> list[str]:
        return [str(ctx.root / "build" / preset / "km_tests"), *ctx.patterns]
    return command


def corpus_replay(preset: str) -> Callable[[Context], list[str]]:
    def command(ctx: Context) -> list[str]:
        return [sys.executable, "-m", "tools.fuzzing.replay_suite", preset, *ctx.patterns]
    return command


def oss_fuzz_build(ctx: Context) -> list[str]:
    return [sys.executable, "-m", "tools.ossfuzz.check_build", *ctx.patterns]


def gate_suite(ctx: Context) -> list[str]:
    return [sys.executable, "-m", "tools.gate.suite", *ctx.patterns]


def runner_selftest(ctx: Context) -> list[str]:
    return [sys.executable, "-m", "tools.runner.selftest", *ctx.patterns]


def afl_main(ctx: Context) -> list[str]:
    return [sys.executable, "-m", "tools.runner.selftest", "--module", "afl_main", *ctx.patterns]


def abi_check(ctx: Context) -> list[str]:
    return [sys.executable, "-m", "tools.runner.abi_suite", *ctx.patterns]


def fault_sweep(ctx: Context) -> list[str]:
    return [sys.executable, str(ctx.root / "tools" / "fault_sweep_suite.py"), str(ctx.root), *ctx.patterns]


def stress(preset: str, iterations: int) -> Callable[[Context], list[str]]:
    # Fixed thread count, iterations and seed: the same operation streams every run (the
    # interleaving is the scheduler's). The soak is a documented command (docs/reliability.md).
    def command(ctx: Context) -> list[str]:
        return [str(ctx.root / "build" / preset / "km_stress"), "--threads", "4", "--iterations", str(iterations),
                "--seed", "1", *ctx.patterns]
    return command


def replay_corpus(ctx: Context) -> list[str]:
    return [sys.executable, str(ctx.root / "tools" / "replay_suite.py"), str(ctx.root), *ctx.patterns]


def capture_kit(ctx: Context) -> list[str]:
    return [sys.executable, "-m", "tools.runner.capture_suite", *ctx.patterns]


def conformance(ctx: Context) -> list[str]:
    return [sys.executable, "-m", "tools.conformance.suite", *ctx.patterns]


SUITES: list[Suite] = [
    Suite("unit-asan-ubsan", "C unit and verifier negative tests under ASan + UBSan",
          km_tests("asan-ubsan"), preset="asan-ubsan", needs=C_TOOLCHAIN + ("asan-ubsan-runtime",)),
    Suite("unit-msan", "C unit and verifier negative tests under MemorySanitizer",
          km_tests("msan"), preset="msan", needs=C_TOOLCHAIN + ("msan-runtime",)),
    Suite("abi", "our headers' sizes, offsets, constants and GUIDs against mingw-w64's, x86_64 and i686",
          abi_check, needs=("clang", "mingw-w64")),
    Suite("replay", "every corpus program replayed twice (asan-ubsan, reference model on) + replay CLI errors",
          replay_corpus, preset="asan-ubsan", needs=C_TOOLCHAIN + ("asan-ubsan-runtime",)),
    Suite("replay-filter-specific", "every corpus program replayed twice on the test filter pin's filter-specific "
          "allocator (allocator_fs/, KM_IMPLEMENTATION=filter-specific), reference model on",
          lambda ctx: ["env", "KM_IMPLEMENTATION=filter-specific", *replay_corpus(ctx)], preset="asan-ubsan",
          needs=C_TOOLCHAIN + ("asan-ubsan-runtime",)),
    Suite("fault-sweep", "every seed/regression program with each pool allocation failed, plus sampled pairs",
          fault_sweep, preset="asan-ubsan", needs=C_TOOLCHAIN + ("asan-ubsan-runtime",)),
    Suite("stress", "threads creating allocators, frames by METHOD and function table, requests, closes; TSan",
          stress("tsan", 20000), preset="tsan", needs=C_TOOLCHAIN + ("tsan-runtime",), timeout=120.0),
    Suite("stress-asan", "the same stress program under ASan + UBSan (memory errors, leaks)",
          stress("asan-ubsan", 20000), preset="asan-ubsan", needs=C_TOOLCHAIN + ("asan-ubsan-runtime",),
          timeout=120.0),
    Suite("corpus-replay", "every fuzz target's replay binary over its seed corpus, ASan + UBSan",
          corpus_replay("asan-ubsan"), preset="asan-ubsan", needs=C_TOOLCHAIN + ("asan-ubsan-runtime",)),
    Suite("corpus-replay-msan", "every fuzz target's replay binary over its seed corpus, MemorySanitizer",
          corpus_replay("msan"), preset="msan", needs=C_TOOLCHAIN + ("msan-runtime",)),
    Suite("conformance", "every case of conformance/recordings replayed and diffed with its expectations",
          conformance, preset="asan-ubsan", needs=C_TOOLCHAIN + ("asan-ubsan-runtime",)),
    Suite("capture-kit", "the Windows capture kit: kscapture cross-built for x86_64 and i686, its writer and case "
          "table checked on the host", capture_kit, needs=("clang", "mingw-w64", "asan-ubsan-runtime")),
    Suite("conformance-filter-specific", "the conformance cases on the pin's filter-specific allocator; its recorded "
          "differences (docs/filter-specific-allocator.md) are deliberate",
          lambda ctx: ["env", "KM_IMPLEMENTATION=filter-specific", *conformance(ctx)], preset="asan-ubsan",
          needs=C_TOOLCHAIN + ("asan-ubsan-runtime",)),
    Suite("oss-fuzz-build", "OSS-Fuzz build.sh run natively (libFuzzer x ASan/UBSan/MSan, AFL++ libAFLDriver), "
          "then check_build's checks on a moved $OUT", oss_fuzz_build,
          needs=C_TOOLCHAIN + ("asan-ubsan-runtime", "msan-runtime", "libfuzzer-runtime", "afl++", "binutils"),
          timeout=900.0),
    Suite("afl-main", "the AFL++ builds' own main (preset afl) outside afl-fuzz: files, FIFOs, standard input "
          "read whole (tests/python/test_afl_main.py)", afl_main, preset="afl",
          needs=C_TOOLCHAIN + ("asan-ubsan-runtime", "afl++")),
    Suite("gate", "run_tests.py gate end to end: passes on this tree (tiny budget), fails on the planted bug, "
          "its HTML report renders in headless Chromium", gate_suite,
          needs=C_TOOLCHAIN + ("asan-ubsan-runtime", "msan-runtime", "libfuzzer-runtime", "chromium"),
          timeout=1200.0),
    Suite("runner-selftest", "the Python tests of run_tests.py itself (tests/python)", runner_selftest),
]


def by_name(registry: list[Suite]) -> dict[str, Suite]:
    return {s.name: s for s in registry}
