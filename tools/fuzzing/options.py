"""Per-target run options from fuzz/options/<target>.options (OSS-Fuzz format): the [libfuzzer] section
as -key=value flags, sanitizer sections as ASAN_OPTIONS/UBSAN_OPTIONS/MSAN_OPTIONS strings."""
from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from pathlib import Path

SANITIZER_ENV = {"asan": "ASAN_OPTIONS", "ubsan": "UBSAN_OPTIONS", "msan": "MSAN_OPTIONS", "lsan": "LSAN_OPTIONS"}


class OptionsError(Exception):
    pass


@dataclass
class TargetOptions:
    libfuzzer: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    def libfuzzer_flags(self) -> list[str]:
        return [f"-{k}={v}" for k, v in self.libfuzzer.items()]

    def int_option(self, key: str, default: int) -> int:
        try:
            return int(self.libfuzzer.get(key, default))
        except ValueError:
            raise OptionsError(f"[libfuzzer] {key} = {self.libfuzzer[key]!r} is not an integer") from None


def load(path: Path) -> TargetOptions:
    opts = TargetOptions()
    if not path.is_file():
        return opts
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise OptionsError(f"{path}: {exc}") from None
    for section in parser.sections():
        items = dict(parser.items(section))
        if section == "libfuzzer":
            opts.libfuzzer = items
        elif section in SANITIZER_ENV:
            opts.env[SANITIZER_ENV[section]] = ":".join(f"{k}={v}" for k, v in items.items())
        else:
            raise OptionsError(f"{path}: unknown section [{section}] (expected libfuzzer, asan, ubsan, msan, lsan)")
    return opts


def merged_env(base: dict[str, str], opts: TargetOptions, extra: dict[str, str] | None = None) -> dict[str, str]:
    """base + the target's sanitizer options + extra (e.g. AFL++'s abort_on_error), later ones winning."""
    env = dict(base)
    for key, value in opts.env.items():
        env[key] = value
    for key, value in (extra or {}).items():
        env[key] = f"{env[key]}:{value}" if key in env and key.endswith("_OPTIONS") else value
    return env
