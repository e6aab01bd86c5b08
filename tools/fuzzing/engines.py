"""One target's campaign under one engine: start the fuzzer on the seed corpus plus the persistent
campaign corpus, follow its progress, save every finding the moment it appears, restart after a crash
while time remains, and merge the new corpus at the end. State lives under out/fuzz/<engine>/<target>/
and is recovered on the next start, so a campaign killed at any point (even SIGKILL) loses nothing saved."""
from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import findings as fnd
from . import options as opt
from ..triage.registry import Registry
from .progress import Progress, apply_afl_files, feed_afl_line, feed_libfuzzer

SYMBOLIZE = {"ASAN_OPTIONS": "symbolize=1", "MSAN_OPTIONS": "symbolize=1"}  # reports name functions and lines
OUTPUT_KEEP_LINES = 3000  # of the current fuzzer process, for the report of a crash
ARTIFACT_PREFIXES = ("crash-", "leak-", "timeout-", "oom-")
REPRODUCE_TIMEOUT = 120.0
SHELL_SAFE = re.compile(r"[A-Za-z0-9_./+,:@%=-]+")  # what sh passes on as one word, unchanged


def _die_with_parent() -> None:
    """preexec_fn: the fuzzer dies with the campaign (SIGKILL of the campaign included)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


SHA1_NAME = re.compile(r"[0-9a-f]{40}")
DISK_FULL_HINT = "disk full?"


def sha1_name(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def write_bytes(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise fnd.named_error(exc, path) from exc


def damaged_units(d: Path, prefix: str = "") -> list[Path]:
    """Files of d named <prefix><sha1> whose content does not hash to that name. libFuzzer names every corpus
    unit and artifact by the SHA-1 of its content, and on a full disk its writes fail silently, leaving
    empty or truncated files: the name is the one reliable witness of what should be there. Files named
    otherwise (a user's own inputs) are not judged."""
    bad = []
    if not d.is_dir():
        return bad
    for p in sorted(d.iterdir()):
        if p.is_file() and not unit_matches_name(p, prefix):
            bad.append(p)
    return bad


def unit_matches_name(p: Path, prefix: str = "") -> bool:
    """False only for a file named <prefix><40 hex digits> whose content has another SHA-1."""
    name = p.name[len(prefix):] if p.name.startswith(prefix) else p.name
    if not SHA1_NAME.fullmatch(name):
        return True
    try:
        return sha1_name(p.read_bytes()) == name
    except OSError:
        return False


def move_aside(paths: list[Path], dest: Path) -> None:
    """Renames damaged files into dest (a rename needs no free space); they are kept for the user to look at,
    never fuzzed, merged or registered."""
    dest.mkdir(parents=True, exist_ok=True)
    for p in paths:
        p.rename(dest / p.name)


def copy_unique(src_dirs: list[Path], dst: Path) -> int:
    """Copies every regular file of src_dirs into dst under its SHA-1 (duplicates collapse)."""
    dst.mkdir(parents=True, exist_ok=True)
    count = 0
    for d in src_dirs:
        if not d.is_dir():
            continue
        for p in sorted(d.iterdir()):
            if not p.is_file() or p.name.startswith("."):
                continue
            data = p.read_bytes()
            target = dst / sha1_name(data)
            if not target.exists():
                write_bytes(target, data)
                count += 1
    return count


def swap_in(new: Path, corpus: Path) -> None:
    """Replaces corpus by new in two renames; recover_corpus() finishes an interrupted swap."""
    old = corpus.with_name(corpus.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if corpus.exists():
        corpus.rename(old)
    new.rename(corpus)
    shutil.rmtree(old, ignore_errors=True)


def recover_corpus(corpus: Path) -> None:
    old = corpus.with_name(corpus.name + ".old")
    merging = corpus.with_name(corpus.name + ".merging")
    if old.exists():
        if corpus.exists():
            shutil.rmtree(old)  # the swap completed; only the clean-up was lost
        else:
            old.rename(corpus)  # killed between the two renames
    if merging.exists():
        shutil.rmtree(merging)
    corpus.mkdir(parents=True, exist_ok=True)


def shell_safe_links(tmp: Path, targets: dict[str, Path]) -> Path | None:
    """Links tmp/NAME -> target for each entry and returns tmp, or None when tmp's own path is not one sh
    passes on unchanged. For libFuzzer modes that re-run the fuzzer through sh with the paths pasted in
    unquoted (-merge, -minimize_crash): a space in the checkout or --out split them."""
    if not SHELL_SAFE.fullmatch(str(tmp)):
        return None
    for name, target in targets.items():
        (tmp / name).symlink_to(target.resolve())
    return tmp


def corpus_link_problem(workdir: Path) -> str | None:
    """Why a target's campaign state cannot be used as it is, or None. The merge replaces the corpus
    directory by renaming (swap_in): a corpus that is a symbolic link to the user's own directory was
    renamed away, detached from the campaign, and every later run failed on it. We refuse instead of following
    the link: following it would rename and minimise the user's directory in place."""
    for name in ("corpus", "corpus.old", "corpus.merging"):
        p = workdir / name
        if p.is_symlink():
            return (f"{p} is a symbolic link (to {os.readlink(p)}); the campaign replaces that directory when it "
                    f"merges, so it must be a real directory: remove the link (the files it points to are not "
                    f"touched) and copy your inputs into {workdir / 'corpus'}, or give another --out")
    return None


class LogFile:
    """A fuzzer's output log that never stops the campaign: on a full disk the first failed write is kept
    (naming the file) and later lines are dropped, while the fuzzer goes on and its findings are saved."""

    def __init__(self, path: Path, say: Callable[[str], None]):
        self.name, self.say, self.error = str(path), say, None
        self._f = open(path, "w", encoding="utf-8", errors="replace")

    def __enter__(self) -> "LogFile":
        return self

    def __exit__(self, *exc) -> None:
        self._guard(self._f.close)

    def write(self, text: str) -> None:
        if self.error is None:
            self._guard(lambda: self._f.write(text))

    def flush(self) -> None:
        if self.error is None:
            self._guard(self._f.flush)

    def _guard(self, action: Callable[[], object]) -> None:
        try:
            action()
        except OSError as exc:
            if self.error is None:
                self.error = f"{exc.strerror or exc} ({self.name})"
                self.say(f"warning: cannot write the log {self.name}: {exc.strerror or exc}; the rest of it is lost")


@dataclass
class TargetSpec:
    name: str
    binary: Path
    seeds: Path | None  # the encoded seed corpus (build/<preset>/corpus/<name>), if any
    dictionary: Path | None
    options: opt.TargetOptions
    cmplog_binary: Path | None = None  # AFL++ only


@dataclass
class Outcome:
    target: str
    progress: Progress
    new: list[fnd.Finding] = field(default_factory=list)
    known: list[fnd.Finding] = field(default_factory=list)
    error: str | None = None
    corpus_size: int = 0
    storage_error: bool = False  # error is about the campaign's own files (--out): not a finding (exit 2)

    def fail_storage(self, message: str) -> None:
        self.error = message if self.error is None else f"{self.error}; {message}"
        self.storage_error = True


class EngineRun:
    engine = "?"

    def __init__(self, spec: TargetSpec, workdir: Path, findings_root: Path, seconds: float | None,
                 say: Callable[[str], None], registry: Registry | None = None, runs: int | None = None):
        """seconds, runs: the budget (None: no limit of that kind)."""
        self.spec, self.workdir, self.findings_root, self.seconds = spec, workdir, findings_root, seconds
        self.runs = runs
        self.registry = registry  # out/triage/registry.jsonl: known across campaigns
        self.say = say
        self.corpus = workdir / "corpus"
        self.outcome = Outcome(spec.name, Progress(spec.name))
        self.stop_requested = threading.Event()
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    # -- shared ------------------------------------------------------------------------------------
    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return opt.merged_env(dict(os.environ), self.spec.options, extra)

    def stop(self) -> None:
        """Ctrl-C: ask the running fuzzer to finish (it prints its final stats and exits)."""
        self.stop_requested.set()
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                try:
                    self._proc.send_signal(signal.SIGINT)
                except ProcessLookupError:
                    pass

    def _popen(self, cmd: list[str], env: dict[str, str], log) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=env, text=True, errors="replace", bufsize=1, preexec_fn=_die_with_parent)
        with self._lock:
            self._proc = proc
        log.write(f"$ {' '.join(cmd)}\n")
        log.flush()
        return proc

    def _run_logged(self, cmd: list[str], env: dict[str, str], log_name: str) -> int:
        """Runs a corpus tool (merge, minimisation) to completion with its output in logs/<log_name>; the
        exit status. Stoppable like the fuzzer (self._proc)."""
        with LogFile(self.workdir / "logs" / log_name, self.say) as log:
            proc = self._popen(cmd, env, log)
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
            rc = proc.wait()
            proc.stdout.close()
        with self._lock:
            self._proc = None
        return rc

    def record(self, data: bytes, output: str, exit_text: str = "") -> fnd.Finding:
        f = fnd.save(self.findings_root, self.spec.name, self.engine, data, output, exit_text, self.registry)
        (self.outcome.new if f.new else self.outcome.known).append(f)
        self.outcome.progress.findings += 1
        self.say(f"{self.spec.name}: {'NEW' if f.new else 'known'} finding {f.signature} -> {f.path}")
        for line in f.similar:
            self.say(f"{self.spec.name}:   {line}")
        return f

    def reproduce(self, data_path: Path, extra_env: dict[str, str] | None = None) -> str:
        """The report of one input, from the target binary run on that file alone."""
        env = self.env({**SYMBOLIZE, "ASAN_OPTIONS": "symbolize=1:abort_on_error=0", **(extra_env or {})})
        try:
            res = subprocess.run([str(self.spec.binary), str(data_path)], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True,
                                 errors="replace", timeout=REPRODUCE_TIMEOUT, preexec_fn=_die_with_parent)
            return res.stdout
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode("utf-8", "replace")
            return out + f"\n==0== ERROR: libFuzzer: timeout after {REPRODUCE_TIMEOUT:.0f} seconds (reproduction)\n"

    def run(self) -> Outcome:
        problem = corpus_link_problem(self.workdir)  # checked up front by check_binaries; again for other callers
        if problem is not None:
            self.outcome.error = problem
            return self.outcome
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
            fnd.clean_partial(self.findings_root)
            recover_corpus(self.corpus)
            self.recover()
            self.fuzz(time.monotonic() + self.seconds if self.seconds is not None else float("inf"))
            self.check_corpus()
            self.merge()  # after Ctrl-C too: it is quick and keeps the work
        except OSError as exc:
            text = f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc)
            full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
            self.outcome.fail_storage(text + (f": the disk holding {self.workdir} is full" if full else ""))
        try:
            self.outcome.corpus_size = (sum(1 for p in self.corpus.iterdir() if p.is_file() and unit_matches_name(p))
                                        if self.corpus.is_dir() else 0)
        except OSError:
            pass
        return self.outcome

    def check_corpus(self) -> None:
        """Corpus units the fuzzer wrote on a full disk (empty or truncated: their content no longer has the
        SHA-1 of their name) are moved to <workdir>/damaged and reported; they would be merged as inputs."""
        bad = damaged_units(self.corpus)
        if bad:
            dest = self.workdir / "damaged"
            move_aside(bad, dest)
            self.outcome.fail_storage(f"{len(bad)} corpus file(s) in {self.corpus} were written incompletely "
                                      f"({DISK_FULL_HINT} check free space there); moved to {dest}")

    def remaining_runs(self) -> int | None:
        return None if self.runs is None else self.runs - self.outcome.progress.total_execs

    def recover(self) -> None: ...
    def fuzz(self, deadline: float) -> None: ...
    def merge(self) -> None: ...


class LibFuzzerRun(EngineRun):
    engine = "libfuzzer"

    @property
    def artifacts(self) -> Path:
        return self.workdir / "artifacts"

    def recover(self) -> None:
        """Artifacts a killed campaign had not saved yet become findings now."""
        if not self.artifacts.is_dir():
            return
        for art in sorted(self.artifacts.iterdir()):
            if art.is_file() and art.name.startswith(ARTIFACT_PREFIXES):
                if self.damaged_artifact(art):
                    continue
                self.say(f"{self.spec.name}: saving {art.name} left by an interrupted campaign")
                self.record(art.read_bytes(), self.reproduce(art))
                art.unlink()

    def damaged_artifact(self, art: Path) -> bool:
        """True (after reporting it and moving it to <workdir>/damaged) when art is not the input libFuzzer
        meant to write: its name is <kind>-<sha1 of the input>, and on a full disk the write fails silently.
        An empty or truncated input is never a finding: it would be registered as a new bug that is not one."""
        prefix = next((p for p in ARTIFACT_PREFIXES if art.name.startswith(p)), "")
        if unit_matches_name(art, prefix):
            return False
        dest = self.workdir / "damaged"
        move_aside([art], dest)
        self.outcome.fail_storage(f"artifact {art} is damaged (its content does not match the SHA-1 in its name: "
                                  f"{DISK_FULL_HINT}); moved to {dest / art.name}, not registered as a finding")
        self.say(f"{self.spec.name}: error: {self.outcome.error}")
        return True

    def command(self, seconds: int | None, runs: int | None = None) -> list[str]:
        cmd = [str(self.spec.binary), *self.spec.options.libfuzzer_flags()]
        cmd += [f"-max_total_time={seconds}"] if seconds is not None else []
        cmd += [f"-runs={runs}"] if runs is not None else []
        cmd += ["-print_final_stats=1", f"-artifact_prefix={self.artifacts}/"]
        if self.spec.dictionary is not None:
            cmd.append(f"-dict={self.spec.dictionary}")
        cmd.append(str(self.corpus))
        if self.spec.seeds is not None and self.spec.seeds.is_dir():
            cmd.append(str(self.spec.seeds))
        return cmd

    def fuzz(self, deadline: float) -> None:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        logs = self.workdir / "logs"
        logs.mkdir(exist_ok=True)
        p = self.outcome.progress

        def budget_left() -> bool:
            # The first process runs whatever is left of a time budget (the set-up before it took some
            # of --time 1); a restart needs a whole second, the least -max_total_time can ask for.
            runs = self.remaining_runs()
            left = deadline - time.monotonic()
            return (left > 0 if p.runs == 0 else left >= 1) and (runs is None or runs > 0)

        while not self.stop_requested.is_set() and budget_left():
            p.base_execs += p.execs
            p.execs = 0
            p.runs += 1
            # At least 1: -max_total_time=0 would mean no limit at all.
            seconds = max(1, int(deadline - time.monotonic())) if deadline != float("inf") else None
            with LogFile(logs / f"run-{p.runs}.log", self.say) as log:
                proc = self._popen(self.command(seconds, self.remaining_runs()), self.env(SYMBOLIZE), log)
                lines: list[str] = []
                artifact, inited = None, False
                assert proc.stdout is not None
                for line in proc.stdout:
                    log.write(line)
                    inited = inited or (line.startswith("#") and "INITED" in line)
                    if "libFuzzer: run interrupted" in line:  # Ctrl-C reached the fuzzer first: no restart
                        self.stop_requested.set()
                    lines.append(line)
                    if len(lines) > OUTPUT_KEEP_LINES:
                        del lines[:len(lines) - OUTPUT_KEEP_LINES]
                    found = feed_libfuzzer(p, line)
                    if found is not None:
                        artifact = Path(found)
                rc = proc.wait()
            proc.stdout.close()
            with self._lock:
                self._proc = None
            if artifact is not None and not artifact.is_file():
                self.outcome.fail_storage(f"fuzz_{self.spec.name} found a crash but could not write its input "
                                          f"{artifact} ({DISK_FULL_HINT} check free space there); see {log.name}")
                return
            if artifact is not None and self.damaged_artifact(artifact):
                return
            if artifact is not None:
                data = artifact.read_bytes()
                self.record(data, "".join(lines), f"exit status {rc}")
                artifact.unlink()
                if not inited:  # a corpus input crashes before fuzzing starts: a restart would loop
                    self.outcome.error = (f"an input of the corpus ({self.corpus} or {self.spec.seeds}) crashes "
                                          f"fuzz_{self.spec.name} before fuzzing starts; fix the bug or move it out")
                    return
                continue  # fuzz on with the remaining budget
            if rc != 0 and not self.stop_requested.is_set():
                tail = "".join(lines[-15:]).rstrip()
                self.outcome.error = f"fuzz_{self.spec.name} exited with status {rc} without a crash input:\n{tail}"
                return
            if rc == 0 and self.runs is None and budget_left() and not self.stop_requested.is_set():
                continue  # an -runs of the options file reached; unusual, but keep the time budget honest
            break

    def merge(self) -> None:
        if not any(self.corpus.iterdir()):
            return
        merging = self.corpus.with_name("corpus.merging")
        merging.mkdir(parents=True, exist_ok=True)
        keep = [f for f in self.spec.options.libfuzzer_flags() if f.split("=")[0] in ("-max_len", "-rss_limit_mb")]
        # libFuzzer's merge runs its inner process through sh with the paths pasted in unquoted: a space in
        # --out (or in the build directory) split them, and the merge failed on every run. It gets paths
        # that need no quoting: links in a private temporary directory to the binary and the directories.
        with tempfile.TemporaryDirectory(prefix="ks-merge-") as tmp:
            links = shell_safe_links(Path(tmp), {"fuzzer": self.spec.binary, "merging": merging,
                                                 "corpus": self.corpus, "artifacts": self.artifacts})
            if links is None:
                shutil.rmtree(merging, ignore_errors=True)
                self.say(f"{self.spec.name}: corpus merge skipped: the temporary directory {tmp} has characters "
                         f"libFuzzer's merge cannot pass through sh; set TMPDIR to a plain path "
                         f"(the corpus is kept unmerged)")
                return
            # A corpus input that crashes during the merge is written under the artifact prefix, never into
            # the caller's working directory.
            cmd = [str(links / "fuzzer"), "-merge=1", f"-merge_control_file={links / 'merge.control'}", *keep,
                   f"-artifact_prefix={links / 'artifacts'}/", str(links / "merging"), str(links / "corpus")]
            rc = self._run_logged(cmd, self.env(), "merge.log")
        if rc == 0 and any(merging.iterdir()):
            problem = self.merge_problem(merging)
            if problem is not None:
                shutil.rmtree(merging, ignore_errors=True)
                self.outcome.fail_storage(problem)
                self.say(f"{self.spec.name}: error: {problem}")
                return
            swap_in(merging, self.corpus)
        else:
            shutil.rmtree(merging, ignore_errors=True)
            why = f"exit status {rc}" if rc != 0 else "it wrote no corpus"
            self.say(f"{self.spec.name}: corpus merge failed ({why}); the corpus is kept unmerged "
                     f"(log: {self.workdir / 'logs' / 'merge.log'})")


    def merge_problem(self, merging: Path) -> str | None:
        """Why the merged corpus must not replace the old one, or None. On a full disk libFuzzer's merge writes
        empty files (or none) and still exits 0; swapping that in emptied the corpus. Every unit must have the
        SHA-1 of its name, and there must be as many as merge.log says were written."""
        bad = damaged_units(merging)
        m = re.findall(r"MERGE-OUTER: (\d+) new files", read_text(self.workdir / "logs" / "merge.log"))
        written = sum(1 for p in merging.iterdir() if p.is_file())
        if not bad and (not m or written >= int(m[-1])):
            return None
        what = (f"{len(bad)} of its files are empty or truncated" if bad
                else f"it holds {written} files of the {m[-1]} libFuzzer reported")
        return (f"corpus merge discarded: {what} ({DISK_FULL_HINT} check free space on the disk holding "
                f"{self.workdir}); the corpus {self.corpus} is kept unmerged")


def read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


class AflRun(EngineRun):
    engine = "afl"
    POLL = 1.0

    @property
    def run_dir(self) -> Path:
        return self.workdir / "run"

    def afl_env(self) -> dict[str, str]:
        mutator = self.spec.binary.parent / "afl_op_mutator.so"  # CMake target afl_op_mutator, PREFIX ""
        custom = {"AFL_CUSTOM_MUTATOR_LIBRARY": str(mutator)} if mutator.is_file() else {}
        return self.env({**custom,"AFL_SKIP_CPUFREQ": "1", "AFL_NO_AFFINITY": "1", "AFL_FAST_CAL": "1",
                         "AFL_CMPLOG_ONLY_NEW": "1", "AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES": "1",
                         "AFL_ALLOW_TMP": "1", "AFL_FORKSRV_INIT_TMOUT": "30000",
                         "ASAN_OPTIONS": "abort_on_error=1:symbolize=0:detect_leaks=1",
                         "UBSAN_OPTIONS": "abort_on_error=1:symbolize=0"})

    def _read_stats(self) -> None:
        d = self.run_dir / "default"
        apply_afl_files(self.outcome.progress, read_text(d / "fuzzer_stats"), read_text(d / "plot_data"))

    def _saved_crashes(self) -> set[str]:
        f = self.workdir / "saved-crashes.txt"
        return set(f.read_text().split()) if f.is_file() else set()

    def _scan_crashes(self) -> None:
        crashes = self.run_dir / "default" / "crashes"
        if not crashes.is_dir():
            return
        saved = self._saved_crashes()
        for c in sorted(crashes.iterdir()):
            if not c.name.startswith("id:"):
                continue
            data = c.read_bytes()
            key = sha1_name(data)
            if key in saved:
                continue
            self.record(data, self.reproduce(c))
            with open(self.workdir / "saved-crashes.txt", "a") as f:
                f.write(key + "\n")
            saved.add(key)

    def recover(self) -> None:
        """A run directory left by a killed campaign: save its crashes, keep its queue, start afresh."""
        if not self.run_dir.exists():
            return
        self.say(f"{self.spec.name}: recovering the AFL++ run left by an interrupted campaign")
        self._scan_crashes()
        copy_unique([self.run_dir / "default" / "queue"], self.corpus)
        shutil.rmtree(self.run_dir)
        (self.workdir / "saved-crashes.txt").unlink(missing_ok=True)

    def fuzz(self, deadline: float) -> None:
        inputs = self.workdir / "in"
        shutil.rmtree(inputs, ignore_errors=True)
        sources = [self.corpus] + ([self.spec.seeds] if self.spec.seeds is not None else [])
        if copy_unique(sources, inputs) == 0:
            (inputs / "empty-seed").write_bytes(b"\x01")  # afl-fuzz needs one input
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        remaining = max(1.0, remaining)  # what the set-up took of a 1-second budget: -V needs a whole second
        timeout_ms = self.spec.options.int_option("timeout", 25) * 1000
        cmd = ["afl-fuzz", "-i", str(inputs), "-o", str(self.run_dir), "-m", "none", "-t", f"{timeout_ms}+"]
        cmd += ["-V", str(int(remaining))] if remaining != float("inf") else []
        cmd += ["-E", str(self.runs)] if self.runs is not None else []
        if self.spec.dictionary is not None:
            cmd += ["-x", str(self.spec.dictionary)]
        if self.spec.cmplog_binary is not None and self.spec.cmplog_binary.is_file():
            cmd += ["-c", str(self.spec.cmplog_binary)]
        cmd += ["--", str(self.spec.binary)]
        logs = self.workdir / "logs"
        logs.mkdir(exist_ok=True)
        p = self.outcome.progress
        p.runs += 1
        with LogFile(logs / "afl-fuzz.log", self.say) as log:
            proc = self._popen(cmd, self.afl_env(), log)
            tail: list[str] = []

            def pump() -> None:
                assert proc.stdout is not None
                for line in proc.stdout:
                    log.write(line)
                    feed_afl_line(p, line)
                    tail.append(line)
                    del tail[:-40]

            reader = threading.Thread(target=pump, daemon=True)
            reader.start()
            stats = self.run_dir / "default" / "fuzzer_stats"
            while proc.poll() is None:
                time.sleep(self.POLL)
                self._read_stats()
                self._scan_crashes()
                if time.monotonic() > deadline + 120:
                    proc.kill()
            reader.join(timeout=5)
            if not reader.is_alive() and proc.stdout is not None:
                proc.stdout.close()
        with self._lock:
            self._proc = None
        self._read_stats()
        self._scan_crashes()
        if proc.returncode != 0 and not self.stop_requested.is_set() and not stats.is_file():
            self.outcome.error = f"afl-fuzz exited with status {proc.returncode}:\n{''.join(tail[-15:]).rstrip()}"

    def merge(self) -> None:
        queue = self.run_dir / "default" / "queue"
        union = self.workdir / "cmin-in"
        shutil.rmtree(union, ignore_errors=True)
        if copy_unique([self.corpus, queue], union) == 0:
            shutil.rmtree(union, ignore_errors=True)
            return
        merging = self.corpus.with_name("corpus.merging")
        shutil.rmtree(merging, ignore_errors=True)
        timeout_ms = self.spec.options.int_option("timeout", 25) * 1000
        cmd = ["afl-cmin", "-i", str(union), "-o", str(merging), "-m", "none", "-t", str(timeout_ms), "--",
               str(self.spec.binary)]
        rc = self._run_logged(cmd, self.afl_env(), "afl-cmin.log")
        bad = damaged_units(merging)  # afl-cmin keeps the names copy_unique gave: the SHA-1 of each input
        if bad:
            self.outcome.fail_storage(f"afl-cmin wrote {len(bad)} empty or truncated files into {merging} "
                                      f"({DISK_FULL_HINT}); the merge is discarded")
        if rc == 0 and not bad and merging.is_dir() and any(merging.iterdir()):
            swap_in(merging, self.corpus)
        else:  # keep everything rather than lose the queue
            self.say(f"{self.spec.name}: afl-cmin failed (exit status {rc}); keeping the whole queue "
                     f"(log: {self.workdir / 'logs' / 'afl-cmin.log'})")
            shutil.rmtree(merging, ignore_errors=True)
            copy_unique([queue], self.corpus)
        shutil.rmtree(union, ignore_errors=True)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        (self.workdir / "saved-crashes.txt").unlink(missing_ok=True)


class LibFuzzerMsanRun(LibFuzzerRun):
    """The same targets built with MemorySanitizer instead of ASan+UBSan (preset libfuzzer-msan)."""
    engine = "libfuzzer-msan"


ENGINES: dict[str, type[EngineRun]] = {"libfuzzer": LibFuzzerRun, "libfuzzer-msan": LibFuzzerMsanRun, "afl": AflRun}
