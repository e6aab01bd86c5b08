"""What a gate run produces, shared by the steps and the three reports: steps, findings, samples."""
from __future__ import annotations

from dataclasses import dataclass, field

PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass
class Step:
    name: str  # builds, tests, conformance, regression, fuzz, findings, coverage, floors
    status: str = PASS
    seconds: float = 0.0
    summary: str = ""
    details: list[str] = field(default_factory=list)  # one line per problem or fact

    def fail(self, line: str) -> None:
        self.status = FAIL
        self.details.append(line)


@dataclass
class Sample:
    target: str
    seconds: float  # since the target's fuzzing started
    execs: int
    exec_per_sec: float
    edges: int
    corpus: int


@dataclass
class GateFinding:
    target: str
    signature: str  # the campaign's one-line crash state (tools/fuzzing/signature.py)
    crash_type: str  # "Heap-buffer-overflow READ 4", "VERIFIER POOL_LEAK", ...
    input_path: str  # repo-relative when under the repository
    reproduced: int  # runs out of attempts that crashed
    attempts: int
    known: bool  # in the triage registry
    frame_file: str | None = None  # repo-relative path of the crash state's first frame
    frame_line: int | None = None
    frame_func: str | None = None
    report_excerpt: list[str] = field(default_factory=list)
    reproduce_command: str = ""

    @property
    def reproducible(self) -> bool:
        return self.reproduced > 0

    @property
    def blocking(self) -> bool:
        """What fails the gate: reproducible and not a known finding (CIFuzz: reportable and novel)."""
        return self.reproducible and not self.known


@dataclass
class GateResult:
    steps: list[Step] = field(default_factory=list)
    findings: list[GateFinding] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    rates: dict[str, float] = field(default_factory=dict)
    coverage: dict[str, float] | None = None  # percent of the code under test: lines, branches, functions
    code_under_test: str = "allocator/"  # what `coverage` measured (gate/coverage.py code_under_test)
    conformance: dict | None = None  # build/conformance-summary.json as read
    budget: float = 0.0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(s.status != FAIL for s in self.steps)

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)
