"""What someone else put under a published file's name (a FIFO, a link to a device) is
replaced by a publish and named by ``feeds check``, never read: reading it waits for ever
or never ends."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from feeds import config as config_module
from feeds.app.check import NOT_A_FILE, FileCheck, check_outputs
from feeds.publish import documents as publish

from test_publish import output, stored


def _within(seconds: float, work: Callable[[], object], fifo: Path | None = None) -> object:
    """``work()``'s result; fails when it is still running after ``seconds`` (a reader
    blocked on ``fifo`` is let go by opening its other end)."""
    done: list[object] = []
    thread = threading.Thread(target=lambda: done.append(work()), daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if fifo is not None:
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(f"still running after {seconds} s")
    return done[0]


def test_a_fifo_under_the_name_is_replaced_not_waited_on(tmp_path: Path) -> None:
    out = output(tmp_path)
    out.path.parent.mkdir()
    os.mkfifo(out.path)
    result = _within(10, lambda: publish.publish(out, [stored(1)]), out.path)
    assert isinstance(result, publish.PublishResult) and result.written
    assert out.path.is_file() and out.path.read_bytes().startswith(b"<?xml")


def test_check_names_a_fifo_without_waiting_on_it(tmp_path: Path) -> None:
    config = config_module.from_dict(
        {
            "sources": [{"name": "a", "url": "https://a.example/feed/"}],
            "outputs": [{"name": "business", "path": "out/business.atom"}],
        },
        base_dir=tmp_path,
    )
    fifo = config.outputs[0].path
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    found = _within(10, lambda: list(check_outputs(config)), fifo)
    assert found == [FileCheck("business", fifo, "Atom", read_error=NOT_A_FILE)]


def test_a_link_under_the_name_is_replaced_not_the_file_it_points_to(tmp_path: Path) -> None:
    precious = tmp_path / "home" / ".profile"
    precious.parent.mkdir()
    precious.write_text("export PATH=/usr/bin\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "business.atom").symlink_to(precious)
    config = config_module.from_dict(
        {
            "sources": [{"name": "a", "url": "https://a.example/feed/"}],
            "outputs": [{"name": "business", "path": "out/business.atom"}],
        },
        base_dir=tmp_path,
    )
    (out,) = config.outputs
    assert out.path == tmp_path.resolve() / "out" / "business.atom"
    assert publish.publish(out, [stored(1)]).written
    assert precious.read_text() == "export PATH=/usr/bin\n"
    assert not out.path.is_symlink() and out.path.read_bytes().startswith(b"<?xml")
