"""The gate's HTML summary: one self-contained file (inline CSS and SVG, no script, no external fetch) with
the verdict, the steps, per-target coverage-over-time charts from the fuzzing run's progress samples, exec
rates and coverage against their floors, findings with their reproduce command, and conformance by class."""
from __future__ import annotations

from html import escape

from .floors import Floors
from .model import FAIL, PASS, GateResult, Sample

CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1180px;color:#1d232a}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d8dde3;padding-bottom:4px}
.verdict{padding:14px 18px;border-radius:6px;font-size:18px;font-weight:600;margin:12px 0}
.ok{background:#e3f4e6;color:#17612a;border:1px solid #9fd3aa} .bad{background:#fbe5e5;color:#8b1a1a;border:1px solid #eba7a7}
table{border-collapse:collapse;width:100%;margin:6px 0} th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e6e9ed;vertical-align:top}
th{background:#f3f5f7;font-weight:600} th.num{text-align:right} table.narrow{width:auto;min-width:560px} td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#17612a;font-weight:600} .fail{color:#b21e1e;font-weight:600} .skip{color:#7a6a12;font-weight:600}
code,pre{font:12.5px/1.4 ui-monospace,'DejaVu Sans Mono',monospace;background:#f3f5f7;border-radius:4px}
code{padding:1px 4px} pre{padding:8px 10px;overflow-x:auto;white-space:pre-wrap;margin:4px 0}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:14px}
.chart{border:1px solid #e1e5ea;border-radius:6px;padding:8px 10px} .chart h3{font-size:14px;margin:0 0 4px}
.muted{color:#5f6b77} ul.details{margin:2px 0 0 18px;padding:0}
"""
W, H, PAD_L, PAD_B, PAD_T, PAD_R = 340, 170, 44, 28, 10, 12


def _status(s: str) -> str:
    return f'<span class="{s}">{s.upper()}</span>'


def chart(target: str, samples: list[Sample]) -> str:
    """Edges over seconds for one target, as an inline SVG line with its axes."""
    pts = [(s.seconds, s.edges) for s in samples]
    if len(pts) < 2:
        return f'<div class="chart"><h3>{escape(target)}</h3><p class="muted">not enough samples</p></div>'
    max_t = max(t for t, _ in pts) or 1.0
    max_e = max(e for _, e in pts) or 1
    def x(t: float) -> float:
        return PAD_L + (W - PAD_L - PAD_R) * t / max_t
    def y(e: float) -> float:
        return H - PAD_B - (H - PAD_B - PAD_T) * e / max_e
    path = " ".join(f"{x(t):.1f},{y(e):.1f}" for t, e in pts)
    last = samples[-1]
    svg = (f'<svg width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" '
           f'aria-label="{escape(target)}: edges over time">'
           f'<line x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - PAD_R}" y2="{H - PAD_B}" stroke="#8a949e"/>'
           f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{H - PAD_B}" stroke="#8a949e"/>'
           f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{W - PAD_R}" y2="{PAD_T}" stroke="#e6e9ed" stroke-dasharray="3,3"/>'
           f'<text x="{PAD_L - 4}" y="{PAD_T + 4}" font-size="11" text-anchor="end" fill="#5f6b77">{max_e}</text>'
           f'<text x="{PAD_L - 4}" y="{H - PAD_B + 4}" font-size="11" text-anchor="end" fill="#5f6b77">0</text>'
           f'<text x="{PAD_L}" y="{H - 8}" font-size="11" fill="#5f6b77">0 s</text>'
           f'<text x="{W - PAD_R}" y="{H - 8}" font-size="11" text-anchor="end" fill="#5f6b77">{max_t:.0f} s</text>'
           f'<text x="{(PAD_L + W) / 2:.0f}" y="{H - 8}" font-size="11" text-anchor="middle" fill="#5f6b77">'
           f'seconds of fuzzing</text>'
           f'<polyline points="{path}" fill="none" stroke="#2f6fb3" stroke-width="2"/>'
           + "".join(f'<circle cx="{x(t):.1f}" cy="{y(e):.1f}" r="2.2" fill="#2f6fb3"/>' for t, e in pts)
           + "</svg>")
    return (f'<div class="chart"><h3>{escape(target)} <span class="muted">— edges (libFuzzer cov) over time; '
            f'final {last.edges} edges, corpus {last.corpus}, {last.execs:,} execs</span></h3>{svg}</div>')


def _conformance(result: GateResult) -> str:
    data = result.conformance
    step = result.step("conformance")
    if data is None:
        why = step.summary if step is not None else "not run"
        return f'<p class="muted">No conformance summary: {escape(why)}</p>'
    classes = data.get("classes") or data.get("by_class") or {}
    rows = []
    if isinstance(classes, dict):
        keys = sorted({k for v in classes.values() if isinstance(v, dict) for k in v})
        head = "".join(f"<th>{escape(str(k))}</th>" for k in keys)
        for name, counts in sorted(classes.items()):
            if isinstance(counts, dict):
                cells = "".join(f'<td class="num">{escape(str(counts.get(k, "")))}</td>' for k in keys)
                rows.append(f"<tr><td>{escape(str(name))}</td>{cells}</tr>")
        table = f"<table><tr><th>provenance class</th>{head}</tr>{''.join(rows)}</table>" if rows else ""
    else:
        table = ""
    divs = data.get("divergences") or []
    items = "".join(f"<li><code>{escape(str(d.get('id', '?')))}</code> ({escape(str(d.get('class', '?')))}) "
                    f"<b>{escape(str(d.get('outcome', 'diverged')))}</b>: {escape(str(d.get('reason', '')))}</li>"
                    for d in divs if isinstance(d, dict))
    divs_html = f"<p>Divergences:</p><ul>{items}</ul>" if items else "<p>No divergence.</p>"
    return (table or '<p class="muted">The summary has no per-class counts.</p>') + divs_html


def render(result: GateResult, floors: Floors | None, title: str = "Release gate") -> str:
    ok = result.passed
    verdict = ("PASSED: every step passed and every floor holds" if ok else
               "FAILED: " + "; ".join(f"{s.name} ({s.summary})" for s in result.steps if s.status == FAIL))
    steps = "".join(
        f"<tr><td>{escape(s.name)}</td><td>{_status(s.status)}</td><td class='num'>{s.seconds:.0f} s</td>"
        f"<td>{escape(s.summary)}" + (f"<ul class='details'>{''.join(f'<li>{escape(d)}</li>' for d in s.details[:12])}</ul>"
                                       if s.details and s.status != PASS else "") + "</td></tr>"
        for s in result.steps)
    by_target: dict[str, list[Sample]] = {}
    for smp in result.samples:
        by_target.setdefault(smp.target, []).append(smp)
    charts = "".join(chart(t, s) for t, s in sorted(by_target.items())) or '<p class="muted">No fuzzing run.</p>'
    rate_rows = "".join(
        f"<tr><td>{escape(t)}</td><td class='num'>{r:,.0f}</td>"
        f"<td class='num'>{(floors.exec_per_sec.get(t, 0) if floors else 0):,.0f}</td>"
        f"<td>{_status(PASS if floors is None or r >= floors.exec_per_sec.get(t, 0) else FAIL)}</td></tr>"
        for t, r in sorted(result.rates.items()))
    cov = result.coverage or {}
    cov_rows = "".join(
        f"<tr><td>{k}</td><td class='num'>{cov.get(k, float('nan')):.1f}%</td>"
        f"<td class='num'>{(floors.coverage.get(k) if floors and k in floors.coverage else float('nan')):.1f}%</td>"
        f"<td>{_status(PASS if floors is None or k not in floors.coverage or cov.get(k, -1) >= floors.coverage[k] else FAIL)}</td></tr>"
        for k in ("lines", "branches", "functions") if k in cov)
    finds = "".join(
        f"<tr><td>{_status(FAIL if f.blocking else 'skip')}<br><span class='muted'>"
        f"{'known' if f.known else 'new'}, {'reproduced' if f.reproducible else 'not reproduced'} "
        f"({f.reproduced}/{f.attempts})</span></td><td>{escape(f.target)}</td>"
        f"<td><b>{escape(f.signature)}</b><br>at <code>{escape(f.frame_file or '?')}:{f.frame_line or '?'}</code>"
        f"<pre>{escape(f.reproduce_command)}</pre></td></tr>"
        for f in result.findings)
    findings = (f"<table><tr><th>verdict</th><th>target</th><th>crash state and reproduce command</th></tr>{finds}</table>"
                if finds else "<p>No finding.</p>")
    notes = "".join(f"<li>{escape(n)}</li>" for n in result.notes)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title><style>{CSS}</style></head><body>
<h1>{escape(title)} — KS allocator harness</h1>
<p class="muted">Fuzzing budget {result.budget:.0f} s; the gate took {result.seconds:.0f} s.</p>
<div class="verdict {'ok' if ok else 'bad'}">{escape(verdict)}</div>
<h2>Steps</h2><table><tr><th>step</th><th>result</th><th>time</th><th>summary</th></tr>{steps}</table>
<h2>Findings</h2>{findings}
<h2>Fuzzing: coverage over time</h2><div class="charts">{charts}</div>
<h2>Exec rate against the floors</h2>
<table class="narrow"><tr><th>target</th><th class="num">exec/s (run average)</th><th class="num">floor</th><th></th></tr>{rate_rows}</table>
<h2>{escape(result.code_under_test)} coverage against the floors</h2>
<table class="narrow"><tr><th>measure</th><th class="num">covered</th><th class="num">floor</th><th></th></tr>{cov_rows}</table>
<h2>Conformance by provenance class</h2>{_conformance(result)}
{f'<h2>Notes</h2><ul>{notes}</ul>' if notes else ''}
</body></html>
"""
