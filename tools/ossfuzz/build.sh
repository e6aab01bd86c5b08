#!/bin/bash -eu
# The one OSS-Fuzz / ClusterFuzzLite build script (the project build.sh files exec it): builds every fuzz
# target with the builder's $CC $CFLAGS, links it with $CXX $CXXFLAGS $LIB_FUZZING_ENGINE and fills $OUT.
#
# Contract (google/oss-fuzz base-builder): honours CC CXX CFLAGS CXXFLAGS LIB_FUZZING_ENGINE SANITIZER
# FUZZING_ENGINE SRC WORK OUT; run natively it defaults them (libFuzzer + ASan, clang, $OUT=build/oss-fuzz/out).
# For each registered target T (fuzz/targets/T.c) it writes, with T exactly the registry name (the name
# `run_tests.py fuzz --target T` and `reproduce` use; fuzz_T is only the CMake target's name):
#   $OUT/T  $OUT/T_seed_corpus.zip (the encoded corpus/T/*.ops, flat)  $OUT/T.dict  $OUT/T.options
# Extra: KM_BUILD_JOBS (parallel compile jobs, default nproc), KM_TARGETS (space-separated subset).

# Physical path: the CMake cache in $WORK stays valid whichever symlink ($SRC/<project>) led here.
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"

: "${SANITIZER:=address}"
: "${FUZZING_ENGINE:=libfuzzer}"
: "${SRC:=$(dirname "$repo")}"
: "${WORK:=$repo/build/oss-fuzz/work}"
: "${OUT:=$repo/build/oss-fuzz/out}"
: "${CC:=clang}"
: "${CXX:=clang++}"
if [[ -z "${CFLAGS+set}" ]]; then
  # What base-builder would export for this sanitizer when the script runs outside its image.
  CFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION"
  case "$SANITIZER" in
    address) CFLAGS+=" -fsanitize=address -fsanitize-address-use-after-scope" ;;
    undefined) CFLAGS+=" -fsanitize=array-bounds,bool,builtin,enum,integer-divide-by-zero,null,object-size,return,returns-nonnull-attribute,shift,signed-integer-overflow,unsigned-integer-overflow,unreachable,vla-bound -fno-sanitize-recover=array-bounds,bool,builtin,enum,integer-divide-by-zero,null,object-size,return,returns-nonnull-attribute,shift,signed-integer-overflow,unreachable,vla-bound" ;;
    memory) CFLAGS+=" -fsanitize=memory -fsanitize-memory-track-origins" ;;
    coverage) CFLAGS+=" -fprofile-instr-generate -fcoverage-mapping" ;;
    none) ;;
    *) echo "build.sh: unknown SANITIZER '$SANITIZER' (address, undefined, memory, coverage, none)" >&2; exit 2 ;;
  esac
  [[ "$FUZZING_ENGINE" == libfuzzer ]] && CFLAGS+=" -fsanitize=fuzzer-no-link"
fi
: "${CXXFLAGS:=$CFLAGS}"
: "${LIB_FUZZING_ENGINE:=-fsanitize=fuzzer}"

for tool in cmake ninja python3 "${CC%% *}" "${CXX%% *}"; do
  command -v "$tool" >/dev/null || { echo "build.sh: '$tool' not found on PATH" >&2; exit 2; }
done

# One CMake tree per engine and sanitizer, so variants sharing $WORK do not rebuild each other.
build="$WORK/cmake-$FUZZING_ENGINE-$SANITIZER"
mutator=ON
[[ "$FUZZING_ENGINE" == libfuzzer ]] || mutator=OFF  # libAFLDriver's LLVMFuzzerMutate is a stub
mkdir -p "$build" "$OUT"
# afl-clang-fast ignores no_sanitize("coverage"); its deny list keeps AFL++ stability at 100% (fuzz_engine.cmake).
if [[ "$FUZZING_ENGINE" == afl && -z "${AFL_LLVM_DENYLIST:-}" ]]; then
  export AFL_LLVM_DENYLIST="$repo/fuzz/afl_denylist.txt"
fi

# KM_SANITIZER=none and an empty build type: the flags are exactly $CFLAGS. KM_WERROR=OFF: a newer
# builder clang must not break fuzzing on a new warning (the test presets keep -Werror).
cmake -S "$repo" -B "$build" -G Ninja \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_EXE_LINKER_FLAGS="$CXXFLAGS" \
  -DCMAKE_BUILD_TYPE= -DKM_SANITIZER=none -DKM_WERROR=OFF \
  -DKM_FUZZ_ENGINE=external -DKM_LIB_FUZZING_ENGINE="$LIB_FUZZING_ENGINE" -DKM_FUZZ_LINKER="$CXX" \
  -DKM_FUZZ_MUTATOR="$mutator"

read -r -a targets <<<"${KM_TARGETS:-$(ls "$repo/fuzz/targets" | sed -n 's/\.c$//p' | tr '\n' ' ')}"
build_targets=()
for t in "${targets[@]}"; do
  build_targets+=("fuzz_$t" "fuzz_corpus_$t")
done
cmake --build "$build" --parallel "${KM_BUILD_JOBS:-$(nproc)}" --target "${build_targets[@]}"

for t in "${targets[@]}"; do
  cp "$build/fuzz_$t" "$OUT/$t"
  cp "$repo/fuzz/dict/$t.dict" "$OUT/$t.dict"
  cp "$repo/fuzz/options/$t.options" "$OUT/$t.options"
  # Flat and deterministic (sorted, fixed timestamps), so the zip only changes when a seed does.
  python3 - "$build/corpus/$t" "$OUT/${t}_seed_corpus.zip" <<'PY'
import sys, zipfile
from pathlib import Path
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
seeds = sorted(p for p in src.glob("*.bin") if p.is_file())
if not seeds:
    sys.exit(f"build.sh: no encoded seeds in {src}")
with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
    for p in seeds:
        z.writestr(zipfile.ZipInfo(p.name, (1980, 1, 1, 0, 0, 0)), p.read_bytes())
PY
done
echo "build.sh: ${#targets[@]} targets ($FUZZING_ENGINE, $SANITIZER) in $OUT"
