"""``feeds check``: read every published file (documents and archive pages) and check it
with its format's checker."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from feeds.config import Config, OutputConfig
from feeds.publish import formats
from feeds.publish.documents import archive_path

__all__ = ["NOT_PUBLISHED", "FileCheck", "check_outputs"]

#: What ``feeds check`` says of an output's document that is not there yet.
NOT_PUBLISHED = "not published yet (`feeds refresh` or `feeds publish` writes it)"


@dataclass(frozen=True)
class FileCheck:
    """What checking one published file found: ``read_error`` when it could not be read,
    else the format checker's ``problems`` (empty: valid)."""

    output: str
    path: Path
    label: str
    problems: tuple[str, ...] = ()
    read_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.read_error is None and not self.problems


def check_outputs(config: Config) -> Iterator[FileCheck]:
    """Check each output's documents, format by format, each followed by its archive pages."""
    for output in config.outputs:
        for name in output.formats:
            fmt = formats.get(name)
            for path in _published_files(output, name):
                try:
                    data = path.read_bytes()
                except FileNotFoundError:
                    # A new install runs `feeds check` before its first refresh: say what
                    # to do, not the errno.
                    yield FileCheck(output.name, path, fmt.label, read_error=NOT_PUBLISHED)
                    continue
                except OSError as exc:
                    yield FileCheck(output.name, path, fmt.label, read_error=str(exc.strerror))
                    continue
                yield FileCheck(output.name, path, fmt.label, tuple(fmt.check(data)))


def _published_files(output: OutputConfig, name: str) -> list[Path]:
    """The ``name`` document of ``output`` and, for an archived format, its archive pages
    (``…-archive-1``, ``-2``, … while they exist)."""
    paths = [output.format_path(name)]
    page = 1
    while formats.get(name).archived and archive_path(output, name, page).exists():
        paths.append(archive_path(output, name, page))
        page += 1
    return paths
