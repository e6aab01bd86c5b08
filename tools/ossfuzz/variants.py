"""The build environments OSS-Fuzz's base-builder gives build.sh, per engine and sanitizer (fuzzing-anchors
§1.2; infra/base-images/base-builder compile, compile_libfuzzer, compile_afl), for running it natively."""
from __future__ import annotations

from dataclasses import dataclass

BASE_CFLAGS = "-O1 -fno-omit-frame-pointer -gline-tables-only -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION"
UBSAN_CHECKS = ("array-bounds,bool,builtin,enum,function,integer-divide-by-zero,null,object-size,return,"
                "returns-nonnull-attribute,shift,signed-integer-overflow,unsigned-integer-overflow,unreachable,"
                "vla-bound,vptr")
UBSAN_NO_RECOVER = UBSAN_CHECKS.replace("unsigned-integer-overflow,", "")
SANITIZER_FLAGS = {
    "address": "-fsanitize=address -fsanitize-address-use-after-scope",
    "undefined": f"-fsanitize={UBSAN_CHECKS} -fno-sanitize-recover={UBSAN_NO_RECOVER}",
    "memory": "-fsanitize=memory -fsanitize-memory-track-origins",
}
# Debian's afl++ package ships the driver here (base-builder has its own copy of the same archive).
AFL_DRIVER = "/usr/lib/afl/libAFLDriver.a"
# What base-runner adds at run time (run_fuzzer / fuzzer_environment): the options files come on top.
RUN_ENV = {
    "ASAN_OPTIONS": "alloc_dealloc_mismatch=0:allocator_may_return_null=1:allocator_release_to_os_interval_ms=500:"
                    "check_malloc_usable_size=0:detect_container_overflow=1:detect_odr_violation=0:detect_leaks=1:"
                    "detect_stack_use_after_return=1:fast_unwind_on_fatal=0:handle_abort=1:handle_segv=1:"
                    "handle_sigill=1:max_uar_stack_size_log=16:print_scariness=1:quarantine_size_mb=10:"
                    "strict_memcmp=1:symbolize=1:use_sigaltstack=1:dedup_token_length=3",
    "MSAN_OPTIONS": "print_stats=1:strip_path_prefix=/workspace/:symbolize=1:dedup_token_length=3",
    "UBSAN_OPTIONS": "print_stacktrace=1:print_summary=1:silence_unsigned_overflow=1:strip_path_prefix=/workspace/:"
                     "symbolize=1:dedup_token_length=3",
}


@dataclass(frozen=True)
class Variant:
    engine: str  # libfuzzer | afl
    sanitizer: str  # address | undefined | memory

    @property
    def name(self) -> str:
        return f"{self.engine}_{self.sanitizer}"

    def env(self) -> dict[str, str]:
        """The variables base-builder exports for this engine and sanitizer (SRC/WORK/OUT are the caller's)."""
        cflags = f"{BASE_CFLAGS} {SANITIZER_FLAGS[self.sanitizer]}"
        if self.engine == "libfuzzer":
            cflags += " -fsanitize=fuzzer-no-link"  # $COVERAGE_FLAGS of a libFuzzer build
            cc, cxx, lib = "clang", "clang++", "-fsanitize=fuzzer"
        elif self.engine == "afl":
            cc, cxx, lib = "afl-clang-fast", "afl-clang-fast++", AFL_DRIVER
        else:
            raise ValueError(f"unknown engine '{self.engine}'")
        # base-builder adds -stdlib=libc++ to CXXFLAGS; Debian has no libc++ by default and nothing here is
        # C++, so CXXFLAGS is CFLAGS (the link still goes through $CXX, as OSS-Fuzz requires).
        return {"CC": cc, "CXX": cxx, "CFLAGS": cflags, "CXXFLAGS": cflags, "LIB_FUZZING_ENGINE": lib,
                "SANITIZER": self.sanitizer, "FUZZING_ENGINE": self.engine, "ARCHITECTURE": "x86_64"}


# What the oss-fuzz-build suite proves: the three sanitizers under libFuzzer and AFL++ through libAFLDriver.
VARIANTS = (Variant("libfuzzer", "address"), Variant("libfuzzer", "undefined"), Variant("libfuzzer", "memory"),
            Variant("afl", "address"))
