"""Progress of a running fuzzer, parsed from libFuzzer's status lines and AFL++'s fuzzer_stats file."""
from __future__ import annotations

import re
from dataclasses import dataclass

# "#1234	NEW    cov: 210 ft: 480 corp: 37/2144b lim: 4096 exec/s: 617 rss: 48Mb L: 61/1508 MS: 2 ..."
LIBFUZZER_STATUS = re.compile(r"^#(\d+)\s+(INITED|NEW|REDUCE|pulse|DONE|RELOAD)\b(.*)$")
LIBFUZZER_FIELDS = {
    "cov": re.compile(r"\bcov: (\d+)"),
    "ft": re.compile(r"\bft: (\d+)"),
    "corp": re.compile(r"\bcorp: (\d+)/"),
    "exec_s": re.compile(r"\bexec/s: (\d+)"),
}
FINAL_EXECS = re.compile(r"^stat::number_of_executed_units: (\d+)")
FINAL_RATE = re.compile(r"^stat::average_exec_per_sec: +(\d+)")
ARTIFACT = re.compile(r"Test unit written to (\S+)")


@dataclass
class Progress:
    target: str
    execs: int = 0
    exec_per_sec: float = 0.0
    edges: int = 0
    features: int = 0
    corpus: int = 0
    findings: int = 0
    stability: str = ""
    runs: int = 0  # engine processes started (a crash restarts libFuzzer)
    base_execs: int = 0  # executions of earlier processes of this campaign

    def line(self) -> str:
        text = (f"{self.target}: execs {self.total_execs} exec/s {self.exec_per_sec:.0f} edges {self.edges} "
                f"corpus {self.corpus} findings {self.findings}")
        if self.features:
            text += f" features {self.features}"
        if self.stability:
            text += f" stability {self.stability}"
        return text

    @property
    def total_execs(self) -> int:
        return self.base_execs + self.execs


def feed_libfuzzer(p: Progress, line: str) -> str | None:
    """Updates p from one line of libFuzzer output; returns an artifact path the line announces."""
    line = line.rstrip("\n")
    m = LIBFUZZER_STATUS.match(line)
    if m is not None:
        p.execs = max(p.execs, int(m.group(1)))
        rest = m.group(3)
        for key, rx in LIBFUZZER_FIELDS.items():
            f = rx.search(rest)
            if f is None:
                continue
            v = int(f.group(1))
            if key == "cov":
                p.edges = v
            elif key == "ft":
                p.features = v
            elif key == "corp":
                p.corpus = v
            else:
                p.exec_per_sec = float(v)
        return None
    m = FINAL_EXECS.match(line)
    if m is not None:
        p.execs = max(p.execs, int(m.group(1)))
        return None
    m = FINAL_RATE.match(line)
    if m is not None:
        p.exec_per_sec = float(m.group(1))
        return None
    m = ARTIFACT.search(line)
    return m.group(1) if m is not None else None


def parse_fuzzer_stats(text: str) -> dict[str, str]:
    stats: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            stats[key.strip()] = value.strip()
    return stats


def _num(stats: dict[str, str], *keys: str) -> float:
    for k in keys:
        v = stats.get(k)
        if v is None:
            continue
        try:
            f = float(v.rstrip("%"))
        except ValueError:
            continue
        return f if f == f and f not in (float("inf"), float("-inf")) else 0.0
    return 0.0


def apply_afl_stats(p: Progress, stats: dict[str, str]) -> None:
    p.execs = int(_num(stats, "execs_done"))
    # Within its first second AFL++ 4.04c divides by the milliseconds run: 25 executions read as 25,000/s.
    p.exec_per_sec = _num(stats, "execs_per_sec") if _num(stats, "run_time") >= 1 else 0.0
    p.edges = int(_num(stats, "edges_found"))
    p.corpus = int(_num(stats, "corpus_count", "paths_total"))
    p.stability = stats.get("stability", "")


def apply_afl_plot(p: Progress, text: str) -> None:
    """The last row of AFL++'s plot_data (written more often than fuzzer_stats in 4.04c): relative_time,
    cycles_done, cur_item, corpus_count, pending_total, pending_favs, map_size, saved_crashes, saved_hangs,
    max_depth, execs_per_sec, total_execs, edges_found. Only moves the counters forward."""
    rows = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if not rows:
        return
    cols = [c.strip() for c in rows[-1].split(",")]
    if len(cols) < 13:
        return
    try:
        corpus, rate, execs, edges = int(cols[3]), float(cols[10]), int(cols[11]), int(cols[12])
    except ValueError:
        return
    if rate != rate or rate in (float("inf"), float("-inf")):
        rate = 0.0
    if execs >= p.execs:
        p.execs, p.exec_per_sec, p.corpus, p.edges = execs, rate, corpus, max(p.edges, edges)


def apply_afl_files(p: Progress, stats_text: str, plot_text: str) -> None:
    """Both of a running afl-fuzz's files: plot_data first (written more often), then fuzzer_stats when it is
    as new (its rate is the run's average; plot_data's is the last interval's, 0 in some final rows, which
    then stood on the campaign's closing line). Stability comes from fuzzer_stats only; "" is a file not
    written yet."""
    apply_afl_plot(p, plot_text)
    if stats_text:
        stats = parse_fuzzer_stats(stats_text)
        if int(_num(stats, "execs_done")) >= p.execs:
            apply_afl_stats(p, stats)
        p.stability = stats.get("stability", p.stability)


# afl-fuzz without a terminal: "[*] Fuzzing test case #12 (76 total, 0 crashes saved, perf_score=50, ...".
AFL_CASE_LINE = re.compile(r"Fuzzing test case #\d+ \((\d+) total, (\d+) crashes saved")


def feed_afl_line(p: Progress, line: str) -> None:
    """AFL++ 4.04c rewrites fuzzer_stats only about once a minute; its status lines keep the corpus size fresh."""
    m = AFL_CASE_LINE.search(line)
    if m is not None:
        p.corpus = max(p.corpus, int(m.group(1)))
