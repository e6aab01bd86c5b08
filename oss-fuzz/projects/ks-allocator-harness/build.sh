#!/bin/bash -eu
# OSS-Fuzz build.sh: the build lives in the repository so it is tested there (run_tests.py oss-fuzz-build).
exec "$SRC/ks-allocator-harness/tools/ossfuzz/build.sh" "$@"
