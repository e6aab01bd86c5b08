"""Compatibility name: the crash-signature code lives in tools/triage/signature.py (one implementation)."""
from ..triage.signature import *  # noqa: F401,F403
from ..triage.signature import Crash, Frame, extract, parse_frames, top_frames  # noqa: F401
