"""``feeds check`` over an archive whose pages are not all there: every page is checked,
and each one missing that a link leads to is named."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from support import REPO


def _feeds(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "feeds", *args], capture_output=True, text=True, cwd=cwd, check=False
    )


def test_a_missing_page_does_not_hide_the_broken_pages_after_it(tmp_path: Path) -> None:
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    (tmp_path / "config.toml").write_text(
        '[[sources]]\nname = "business"\nurl = "samples/business.rss"\nfull_text = false\n'
        '[[sources]]\nname = "wire"\nurl = "samples/wire.atom"\nfull_text = false\n'
        '[[outputs]]\nname = "business"\npath = "out/business.atom"\nformats = ["atom", "rss"]\n'
        'url = "https://feeds.example.org/business.atom"\n'
        "max_entries = 2\narchive = true\narchive_page_size = 2\n"
    )
    assert _feeds("refresh", cwd=tmp_path).returncode == 0
    out = tmp_path / "out"
    assert _feeds("check", cwd=tmp_path).returncode == 0
    (out / "business-archive-2.atom").unlink()
    (out / "business-archive-4.atom").write_text("<feed/>")
    (out / "business-archive-2.rss").unlink()
    (out / "business-archive-3.rss").unlink()
    (out / "business-archive-5.atom").unlink()  # the newest: the document links to it

    check = _feeds("check", cwd=tmp_path)

    assert check.returncode == 1
    lines = check.stderr.splitlines()
    assert f"output business: {out / 'business-archive-4.atom'}: INVALID" in lines
    assert any(
        line.startswith(f"output business: {out / 'business-archive-2.atom'}: missing:")
        for line in lines
    )
    gap = f"{out / 'business-archive-2.rss'}: missing, and the pages after it up to 3:"
    assert any(line.startswith(f"output business: {gap}") for line in lines)
    assert any(
        line.startswith(f"output business: {out / 'business-archive-5.atom'}: missing:")
        for line in lines
    )
    assert f"output business: {out / 'business-archive-5.rss'}: valid RSS 2.0" in check.stdout
