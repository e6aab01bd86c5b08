"""The gate's time-boxed fuzzing run: every target, one after the other, from its committed seed corpus
only (a fresh state directory each time), with the campaign's progress lines kept as coverage-over-time
samples for the HTML chart."""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Callable

from ..fuzzing import campaign as fc
from . import outdir
from .model import Sample

PROGRESS = re.compile(r"^(\w+): execs (\d+) exec/s (\d+) edges (\d+) corpus (\d+) findings (\d+)")
STARTED = re.compile(r"^(\w+): fuzzing for ")


def run(root: Path, state: Path, build: Path, targets: list[str], per_target: int,
        say: Callable[[str], None]) -> tuple[fc.Campaign, list[Sample]]:
    # The gate measures the committed corpus, not an earlier gate's; it deletes only a state directory it
    # made (outdir.OutDirError otherwise, before anything is deleted).
    outdir.wipe(state)
    outdir.make(state)
    layout = fc.Layout(root, state, "libfuzzer", build_dir=build)
    samples: list[Sample] = []
    started: dict[str, float] = {}

    def listen(line: str) -> None:
        now = time.monotonic()
        m = STARTED.match(line)
        if m is not None:
            started[m.group(1)] = now
            samples.append(Sample(m.group(1), 0.0, 0, 0.0, 0, 0))
        m = PROGRESS.match(line)
        if m is not None and m.group(1) in started:
            t = m.group(1)
            samples.append(Sample(t, round(now - started[t], 2), int(m.group(2)), float(m.group(3)),
                                  int(m.group(4)), int(m.group(5))))
        say("    " + line)

    interval = max(1.0, per_target / 12.0)  # about a dozen points per target's curve
    camp = fc.Campaign(layout, targets, per_target, 1, interval, listen)
    try:
        camp.run()
    except fc.UsageError as exc:  # <state>/.lock held by another gate's campaign, or the state not writable
        raise outdir.OutDirError(str(exc)) from None
    return camp, samples
