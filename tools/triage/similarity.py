"""ClusterFuzz's crash-state similarity (crash_comparer.py): identical states match; otherwise two states are
similar when their longest common subsequence of frames has >= 2 frames or the average per-line similarity
is above 0.8. Similar findings are reported as such, never merged."""
from __future__ import annotations

from difflib import SequenceMatcher

LCS_MIN = 2
LINE_SIMILARITY_MIN = 0.8


def lcs_length(a: list[str] | tuple[str, ...], b: list[str] | tuple[str, ...]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def line_similarity(a: list[str] | tuple[str, ...], b: list[str] | tuple[str, ...]) -> float:
    """Average similarity of corresponding lines over the longer state (a missing line scores 0); the ratio
    is difflib's, a stdlib stand-in for ClusterFuzz's normalised Levenshtein distance."""
    n = max(len(a), len(b))
    if n == 0:
        return 0.0
    total = sum(SequenceMatcher(None, x, y).ratio() for x, y in zip(a, b))
    return total / n


def why_similar(a: tuple[str, ...], b: tuple[str, ...]) -> str | None:
    """None when not similar, else the rule that matched ("2 common frames", "line similarity 0.86")."""
    if not a or not b:
        return None  # a state without frames (timeout, OOM, decoder) says nothing about where
    if tuple(a) == tuple(b):
        return "identical crash state"
    common = lcs_length(a, b)
    if common >= LCS_MIN:
        return f"{common} frames in common"
    ratio = line_similarity(a, b)
    if ratio > LINE_SIMILARITY_MIN:
        return f"line similarity {ratio:.2f}"
    return None
