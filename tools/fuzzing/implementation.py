"""KM_IMPLEMENTATION, the environment variable that picks the allocator the test filter's pin hosts in every
binary we run (fuzz targets, km_replay; fuzz/interp_impl.c op_impl_resolve). Checked here, up front, by each
tool that runs those binaries (fuzz, reproduce, conformance, diff, gate): a bad value made every run of the
binary exit at start-up, which the tools then reported as crashes, new findings or divergences, and
recorded. This check does not rely on the binaries' own: a binary built before theirs existed accepts
anything. Standard library only, no imports from the rest of tools/, so any tool can import it."""
from __future__ import annotations

import os
from typing import Mapping

VARIABLE = "KM_IMPLEMENTATION"
VALUES = ("default", "filter-specific")  # op_impl_parse: exact, case-sensitive matches


def problem(environ: Mapping[str, str] | None = None) -> str | None:
    """Why the environment's KM_IMPLEMENTATION is unusable, or None. Unset or empty means the build's default
    (as in op_impl_resolve); anything else must be one of VALUES exactly (no case folding, no spaces)."""
    value = (os.environ if environ is None else environ).get(VARIABLE)
    if value is None or value == "" or value in VALUES:
        return None
    return (f"{VARIABLE}={value!r} is not an implementation: expected {' or '.join(repr(v) for v in VALUES)} "
            f"(exactly), or unset for the build's default; nothing was run")
