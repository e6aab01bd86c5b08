#!/bin/bash -eu
# ClusterFuzzLite build.sh: the same build as OSS-Fuzz's, kept in one place (tools/ossfuzz/build.sh).
exec "$SRC/ks-allocator-harness/tools/ossfuzz/build.sh" "$@"
