"""The code fingerprint: what an output's documents depend on besides the store."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from feeds.config import Config, OutputConfig
from feeds.core.digest import blake2b, sha256
from feeds.run.filtering import fingerprint_part


def output_fingerprint(config: Config, output: OutputConfig) -> str:
    """What an output's documents depend on besides the store: its settings, the choice
    of copies, the filter rules, and the code that renders them. (What it shows of its
    sources, their titles and URLs, comes from the store.)"""
    digest = sha256(_code_fingerprint().encode())
    digest.update(repr((output, config.dedupe)).encode())
    digest.update(fingerprint_part(config, output).encode())  # global and sources' rules
    return digest.hexdigest()


PACKAGE = Path(__file__).resolve().parents[1]
"""The package's folder: every module in it and its sub-packages renders outputs."""


def _code_fingerprint() -> str:
    """A hash of this package's source files (a new version renders anew)."""
    return code_fingerprint(PACKAGE)


@cache
def code_fingerprint(package: Path) -> str:
    """A hash of every ``.py`` file under ``package``, sub-packages included, by relative path.

    BLAKE2b: over the package's 1.4 MB of source, CPython's own SHA-256 (the saving process
    does without OpenSSL's, :mod:`feeds.core.digest`) took 67 M instructions, BLAKE2b 20 M.
    """
    digest = blake2b(digest_size=32)
    for path in sorted(package.rglob("*.py")):
        name = path.relative_to(package).as_posix()
        digest.update(name.encode() + b"\x00" + path.read_bytes())
    return digest.hexdigest()
