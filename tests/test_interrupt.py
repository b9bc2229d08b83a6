"""Ctrl-C stops ``feeds refresh`` at once, as a terminal sends it: SIGINT to every process of
the foreground group (the run, its fetch processes, the workers and their fork server).

Fetches under way are abandoned (a server that keeps us waiting does not keep the user
waiting), and so are the workers' documents; nothing is left running, no process prints a
traceback, the sources saved before stay saved in an intact store, the outputs are not
published, and the exit status is 130. A second Ctrl-C while it stops ends it there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from test_fetch_processes import HTML, STORIES, _marked, _workers, served_elsewhere
from test_pipeline import rss

from feeds.app.cli_support import error_json
from feeds.run import executor, held_ctrl_c, worker_pool
from feeds.run.held_ctrl_c import ctrl_c_held

from httpserver import HTTPTestServer, Reply
from support import REPO
from wordpress import article_page, teaser_feed

FAST = 8
"""The first sources answer at once; the others keep the run waiting for a minute."""

BIG = 20_000
"""Items of the feed that keeps the workers busy for seconds."""


def _site(server: HTTPTestServer) -> None:
    for i in range(40):
        delay = 0.0 if i < FAST else 60.0
        server.route(f"/feed{i}", Reply(body=rss((f"{i}", f"Story {i}")), delay=delay))
    # A feed of teasers: its articles' pages are fetched (in this process) before it is saved.
    server.route("/teasers", Reply(body=teaser_feed(STORIES, base=server.base_url)))
    for s in STORIES:
        page = article_page(s, base=server.base_url)
        server.route(f"/{s.slug}/", Reply(body=page, headers=HTML, delay=60.0))
    server.route("/big", Reply(body=rss(*[(f"b{n}", f"Big story {n}") for n in range(BIG)])))


def _config(folder: Path, base: str, paths: list[str]) -> Path:
    sources = "".join(
        f'[[sources]]\nname = "s{i:02}"\nurl = "{base}/{path}"\n' for i, path in enumerate(paths)
    )
    config = folder / "config.toml"
    config.write_text(
        '[store]\npath = "feeds.db"\n'
        "[fetch]\nmin_host_delay = 0\nallow_private_addresses = true\nmax_per_host = 4\n"
        f'{sources}[[outputs]]\nname = "all"\npath = "all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
    return config


def _saved_sources(store: Path) -> int:
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT count(DISTINCT source) FROM entries").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def _cpu_seconds(pid: int) -> float:
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def _wait_for(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert condition()


CASES = {
    # sources, and when to press Ctrl-C (given the store, the server's counts, the mark)
    "fetched in the run's process": [f"feed{i}" for i in range(12)],
    "fetched in fetch processes": [f"feed{i}" for i in range(40)],
    "fetching article pages here": [*(f"feed{i}" for i in range(FAST)), "teasers"],
    "workers preparing": [*(f"feed{i}" for i in range(FAST)), "big"],
}


@pytest.mark.parametrize("case", list(CASES))
def test_ctrl_c_stops_a_refresh_at_once_and_keeps_what_was_saved(tmp_path: Path, case: str) -> None:
    _stop_a_refresh(tmp_path, case, os.killpg, signal.SIGINT)


SIGNALS = {
    # what stops it, and how: a signal to the run's process alone (kill, ``timeout
    # --foreground``), or to its group (``timeout`` from cron, systemd's stop, a closed terminal)
    "SIGTERM to the fetch processes' run": ("fetched in fetch processes", os.kill, signal.SIGTERM),
    "SIGTERM to the group, fetching here": (
        "fetched in the run's process",
        os.killpg,
        signal.SIGTERM,
    ),
    "SIGTERM to the workers' run": ("workers preparing", os.kill, signal.SIGTERM),
    "SIGHUP to the group": ("fetched in fetch processes", os.killpg, signal.SIGHUP),
}


@pytest.mark.parametrize("stop", list(SIGNALS))
def test_sigterm_and_sighup_stop_a_refresh_as_ctrl_c_does(tmp_path: Path, stop: str) -> None:
    """SIGTERM and SIGHUP ended a refresh silently (and its fetch processes fetched on, for
    as long as a slow server kept them): now it stops as Ctrl-C stops it, says so, and
    exits 128 plus the signal's number."""
    _stop_a_refresh(tmp_path, *SIGNALS[stop])


def _stop_a_refresh(
    tmp_path: Path, case: str, send: Callable[[int, int], None], signum: int
) -> None:
    """Start a refresh of ``CASES[case]``, stop it by ``send(its pid, signum)`` at that
    moment, and check that it stopped at once, cleanly, with what it saved before kept."""
    mark = f"ctrl-c-{os.getpid()}-{time.monotonic_ns()}"
    marked = f"FEEDS_TEST_MARK={mark}"
    store = tmp_path / "feeds.db"
    with served_elsewhere(_site) as (base, stats):
        config = _config(tmp_path, base, CASES[case])
        run = subprocess.Popen(
            [sys.executable, "-m", "feeds", "refresh", "--config", str(config)],
            env={**os.environ, "FEEDS_TEST_MARK": mark},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a group of its own, as a terminal's foreground job
        )
        try:
            if case == "workers preparing":  # a worker has been at the big feed for a while
                _wait_for(lambda: max(map(_cpu_seconds, _workers(marked)), default=0) > 1.5)
            else:  # the fast sources saved (committed while waiting), the slow ones under way
                _wait_for(lambda: _saved_sources(store) == FAST)
                _wait_for(lambda: stats()["requests"] >= FAST + 2)
            if case == "fetched in fetch processes":
                assert len(_marked(marked)) >= 4  # the run forked them
            send(run.pid, signum)
            started = time.monotonic()
            out, err = run.communicate(timeout=30)
            # Not the minute the slow servers take, nor the seconds the big feed does.
            assert time.monotonic() - started < 2
        except BaseException:  # a failed test leaves nothing running
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.pid, signal.SIGKILL)
            raise
    word: dict[int, str] = {
        signal.SIGINT: "interrupted",
        signal.SIGTERM: "terminated",
        signal.SIGHUP: "hung up",
    }
    assert run.returncode == 128 + signum
    assert err.decode() == f"feeds: {word[signum]}: the store and every output are intact\n"
    assert out == b""
    _wait_for(lambda: _marked(marked) == [], 5)
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        saved = db.execute("SELECT DISTINCT source FROM entries ORDER BY source").fetchall()
    # Sources are committed in groups, and while a server keeps the run waiting: the big
    # feed's group (the fast sources before it too) was still open, and was rolled back.
    kept = 0 if case == "workers preparing" else FAST
    assert saved == [(f"s{i:02}",) for i in range(kept)]
    assert not (tmp_path / "all.atom").exists()


STOPPING = """
import os, signal, sys, time
from feeds.app.cli_support import stopped_by_ctrl_c
with stopped_by_ctrl_c():
    try:
        print("ready", flush=True)
        time.sleep(30)
    except KeyboardInterrupt:
        print("stopping", flush=True)
        time.sleep(30)  # a slow clean-up, during which Ctrl-C comes again
        raise
"""


def test_a_second_ctrl_c_while_it_stops_ends_it_there() -> None:
    run = subprocess.Popen(
        [sys.executable, "-c", STOPPING], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert run.stdout is not None
        assert run.stdout.readline() == b"ready\n"
        run.send_signal(signal.SIGINT)
        assert run.stdout.readline() == b"stopping\n"
        run.send_signal(signal.SIGINT)
        started = time.monotonic()
        _, err = run.communicate(timeout=10)
        assert time.monotonic() - started < 2
    finally:
        run.kill()
    assert run.returncode == 130
    assert err == b"feeds: interrupted again: stopped at once\n"


# Ctrl-C between loading the command line and the command's own handler, sent from inside
# the moment named, so that the KeyboardInterrupt is raised there: as click parses the
# command line (a busy machine's Ctrl-C 60 ms into a refresh fell there: click's "Aborted!",
# exit 1), and as a class is made (Python 3.11 wraps a KeyboardInterrupt raised in a
# descriptor's __set_name__, cached_property's, in a RuntimeError: a traceback, exit 1) while
# the command line is imported, while the refresh command reads its config (its own Ctrl-C
# handler) and while another command does (the console's guard); in click's own code before
# it parses the command line (a traceback, exit 1); in a weakref's callback (importlib's
# module locks have one), whose exceptions Python only prints: the Ctrl-C was lost and a
# refresh went on; lost as the command ends, it was raised again after it, by Python's
# handler, as the interpreter exited (exit 0, or a traceback).
CTRL_C_INSIDE = """
import importlib.abc, importlib.machinery, os, signal, sys, time, click
def press(*args):
    os.kill(os.getpid(), signal.SIGINT)
    sum(range(100_000))  # the handler runs here, inside the caller
class Sends:
    def __set_name__(self, owner, name):
        press()
def make_a_class(*args, **kwargs):
    class Loaded:
        attribute = Sends()
    raise AssertionError("no Ctrl-C")
where, argv = sys.argv[1], sys.argv[2:]
if where == "parsing":
    parse_args = click.Group.parse_args
    def parse_and_ctrl_c(self, ctx, args):
        os.kill(os.getpid(), signal.SIGINT)
        return parse_args(self, ctx, args)
    click.Group.parse_args = parse_and_ctrl_c
elif where == "importing":
    class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, path, target=None):
            if name == "feeds.app.cli":
                return importlib.machinery.ModuleSpec(name, self)
        def create_module(self, spec):
            return None
        def exec_module(self, module):
            make_a_class()
    sys.meta_path.insert(0, Finder())
elif where == "click":
    main_shell_completion = click.Command._main_shell_completion
    def ctrl_c_in_click(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        return main_shell_completion(*args, **kwargs)
    click.Command._main_shell_completion = ctrl_c_in_click
elif where == "end callback":
    import weakref
    class Gone:
        pass
    group_main = click.Group.main
    def main_then_ctrl_c(self, *args, **kwargs):
        try:
            return group_main(self, *args, **kwargs)
        finally:  # the command has ended; no other thread runs before the command line does
            sys.setswitchinterval(100)
            gone = Gone()
            ref = weakref.ref(gone, press)
            del gone  # press runs here, in a callback whose exceptions Python only prints
    click.Group.main = main_then_ctrl_c
elif where.endswith("callback"):
    import weakref, feeds.app.cli, feeds.app.cli_refresh
    class Gone:
        pass
    def in_callback(*args, **kwargs):
        gone = Gone()
        ref = weakref.ref(gone, press)
        del gone  # press runs here, in a callback whose exceptions Python only prints
        time.sleep(10)  # the Ctrl-C comes again (from a thread: it waits for the GIL)
        raise AssertionError("Ctrl-C lost")
    feeds.app.cli.load_config = feeds.app.cli_refresh.load_config = in_callback
else:
    import feeds.app.cli, feeds.app.cli_refresh
    feeds.app.cli.load_config = feeds.app.cli_refresh.load_config = make_a_class
from feeds.app.console import main
sys.argv = ["feeds", *argv]
main()
"""

CTRL_C_MOMENTS = {
    "parsing": ["status"],
    "importing": ["status"],
    "refresh": ["refresh", "--config", "absent.toml"],
    "status": ["status", "--config", "absent.toml"],
    "click": ["status"],
    "refresh callback": ["refresh", "--config", "absent.toml"],
    "status callback": ["status", "--config", "absent.toml"],
    "end callback": ["--help"],
}


@pytest.mark.parametrize("where", list(CTRL_C_MOMENTS))
def test_ctrl_c_before_the_command_runs_is_an_interrupted_command(where: str) -> None:
    run = subprocess.run(
        [sys.executable, "-c", CTRL_C_INSIDE, where, *CTRL_C_MOMENTS[where]],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert (run.returncode, run.stderr) == (130, b"feeds: interrupted: " + INTACT)


@pytest.mark.parametrize("where", ["status", "parsing", "importing"])
def test_a_command_asked_for_json_and_interrupted_says_so_in_json(where: str) -> None:
    """Ctrl-C in a command that does not take it over itself (``status``), as click parses
    its command line, as the command line loads: a script reading its ``--json`` got nothing
    on stdout."""
    run = subprocess.run(
        [sys.executable, "-c", CTRL_C_INSIDE, where, "status", "--json"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert (run.returncode, run.stderr) == (130, b"feeds: interrupted: " + INTACT)
    intact = "interrupted: the store and every output are intact"
    assert run.stdout.decode() == error_json(intact, 130) + "\n"


ENTRY_MODULE, _, ENTRY_FUNCTION = tomllib.loads(
    (REPO / "pyproject.toml").read_text(encoding="utf-8")
)["project"]["scripts"]["feeds"].partition(":")


def console_script(*, stop_first: bool) -> str:
    """The ``feeds`` console script as pip writes it for pyproject.toml's entry point, which
    stops itself (SIGSTOP) once it has imported that entry point, or ``stop_first``, just
    before: Python's own start (``site``) comes before any code of feeds can see Ctrl-C."""
    stop = "os.kill(os.getpid(), signal.SIGSTOP)\n"
    entry = f"from {ENTRY_MODULE} import {ENTRY_FUNCTION} as main\n"
    return (
        "import os, signal, sys\n"
        + (stop + entry if stop_first else entry + stop)
        + 'sys.argv[0] = "feeds"\nsys.exit(main())\n'
    )


STARTS: dict[str, list[tuple[str, float]]] = {
    # after so many seconds from the script's first import: while the command line loads
    # (click and the commands' modules, 35 to 75 ms), a Ctrl-C printed a traceback; its
    # guard is up once the package and its console module are imported (typing too: 10 ms
    # of CPU were not always enough for that on a loaded machine)
    "while the command line loads": [("loading", n / 200) for n in range(4, 16)],
    # after so many seconds: while the run's modules load, the store opens, the config is read
    "while the run loads": [("after", n / 50) for n in range(1, 9)],
    # as the n-th process is forked: fetch processes, multiprocessing's tracker, fork server
    "as its processes start": [("forked", n) for n in (1, 1, 2, 2, 3, 4, 5)],
}


def _children(pid: int) -> int:
    tasks = Path(f"/proc/{pid}/task")
    with contextlib.suppress(OSError):
        return sum(len((task / "children").read_text().split()) for task in tasks.iterdir())
    return 0


def _stopped(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
    return False


def _run_seconds(pid: int) -> float:
    """How long the process's main thread has run on a CPU, to the nanosecond (0 once it
    is gone; ``/proc/<pid>/stat`` counts in ticks of 10 ms)."""
    with contextlib.suppress(OSError, ValueError):
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    return 0.0


def _wait_for_point(run: subprocess.Popen[bytes], point: tuple[str, float]) -> None:
    kind, value = point
    if kind in ("after", "loading"):
        # So many seconds, and as much CPU time, since it went on: on a loaded machine a
        # process may not run at all for a tenth of a second, and a Ctrl-C then reaches
        # it where it stopped itself, before feeds' first line.
        start, deadline = _run_seconds(run.pid), time.monotonic() + 10
        time.sleep(value)
        while (
            _run_seconds(run.pid) - start < value
            and run.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.002)
        return
    deadline = time.monotonic() + 10
    while _children(run.pid) < value and run.poll() is None and time.monotonic() < deadline:
        pass  # no sleep: Ctrl-C comes within microseconds of the fork


def _interrupt_at(folder: Path, base: str, point: tuple[str, float]) -> str | None:
    """Start a refresh, press Ctrl-C at ``point``; what went wrong, or None."""
    folder.mkdir()
    mark = f"ctrl-c-start-{os.getpid()}-{time.monotonic_ns()}"
    config = _config(folder, base, [f"feed{i}" for i in range(40)])
    ended = _run_interrupted(config, mark, point)
    _wait_for(lambda: _marked(f"FEEDS_TEST_MARK={mark}") == [], 5)
    if ended is None:
        return f"{point}: Ctrl-C was lost, the run went on"
    status, out, err = ended
    problems = []
    if status != 130 or out or err != b"feeds: interrupted: " + INTACT:
        problems.append(f"exit {status}, stdout {out[-200:]!r}, stderr {err[-600:]!r}")
    if (folder / "feeds.db").exists():
        with sqlite3.connect(folder / "feeds.db") as db:
            if db.execute("PRAGMA integrity_check").fetchone() != ("ok",):
                problems.append("the store is damaged")
    if (folder / "all.atom").exists():
        problems.append("an output was published")
    return f"{point}: {'; '.join(problems)}" if problems else None


def _run_interrupted(
    config: Path, mark: str, point: tuple[str, float]
) -> tuple[int, bytes, bytes] | None:
    """The exit status, stdout and stderr of a refresh given Ctrl-C at ``point`` (None: it
    went on for 10 s more); every process of it is killed on the way out."""
    script = console_script(stop_first=point[0] == "loading")
    with subprocess.Popen(
        [sys.executable, "-c", script, "refresh", "--config", str(config)],
        env={**os.environ, "FEEDS_TEST_MARK": mark},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    ) as run:
        try:
            _wait_for(lambda: _stopped(run.pid))
            os.kill(run.pid, signal.SIGCONT)
            _wait_for_point(run, point)
            os.killpg(run.pid, signal.SIGINT)
            out, err = run.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            return None
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.pid, signal.SIGKILL)
    return run.returncode, out, err


INTACT = b"the store and every output are intact\n"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
@pytest.mark.parametrize("start", list(STARTS))
def test_ctrl_c_as_a_refresh_starts_exits_130_without_a_traceback(
    tmp_path: Path, start: str
) -> None:
    """Ctrl-C in the first moments of a run: loading its modules, forking its fetch
    processes, starting the workers' fork server. Each is a clean stop, exit 130: not a
    traceback (of the run, or of a process just forked), not click's "Aborted!" (exit 1),
    not an exit by SIGINT, not a Ctrl-C lost in a fork and a run that goes on."""
    with served_elsewhere(_site) as (base, _stats):
        problems = [
            _interrupt_at(tmp_path / f"run{n}", base, point)
            for n, point in enumerate(STARTS[start])
        ]
    assert [problem for problem in problems if problem] == []


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals: main thread"
)
def test_a_ctrl_c_another_thread_takes_while_it_is_held_comes_once_it_is_let_go() -> None:
    """Ctrl-C is held back while the run forks or makes its pool, by a blocked signal in
    the thread that does. Sent to the process, another thread (a fetch process's reader)
    took it, and Python ran the handler in the main thread all the same, in the middle of
    the held moment: a Ctrl-C lost, a semaphore leaked (a refresh's "as its processes start"
    moments, under load). It is raised as the moment ends."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    taken, woken = socket.socketpair()  # the signal's number is written here once taken
    woken.setblocking(False)
    taken.settimeout(10)
    wakeup = signal.set_wakeup_fd(woken.fileno())
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    reached = []
    try:
        with pytest.raises(KeyboardInterrupt), ctrl_c_held():
            assert other.ident is not None
            signal.pthread_kill(other.ident, signal.SIGINT)
            assert taken.recv(1) == bytes([signal.SIGINT])  # the other thread took it
            for _ in range(1000):  # the handler ran at one of these calls
                reached.append("the end of the held moment")
        assert len(reached) == 1000
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        stop.set()
        signal.set_wakeup_fd(wakeup)
        signal.signal(signal.SIGINT, previous)
        taken.close()
        woken.close()


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals: main thread"
)
def test_two_ctrl_cs_while_it_is_held_are_the_first_and_the_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two Ctrl-Cs noted while held: the first handler raises, and the handler it put in
    place for a second Ctrl-C (the command's stops at once) gets the second."""
    seconds: list[int] = []

    def again(signum: int, frame: object) -> None:
        seconds.append(signum)

    def first(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, again)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, first)
    try:
        with pytest.raises(KeyboardInterrupt), ctrl_c_held():
            noting = signal.getsignal(signal.SIGINT)
            assert callable(noting) and noting is not first
            noting(signal.SIGINT, None)
            noting(signal.SIGINT, None)
        assert seconds == [signal.SIGINT]
        # one alone is the first only; a Ctrl-C that fails to note leaves SIGINT unblocked
        signal.signal(signal.SIGINT, first)
        with pytest.raises(KeyboardInterrupt), ctrl_c_held():
            noting = signal.getsignal(signal.SIGINT)
            assert callable(noting)
            noting(signal.SIGINT, None)
        assert seconds == [signal.SIGINT]

        def refused() -> None:
            raise KeyboardInterrupt  # a Ctrl-C as the noting handler is put in place

        monkeypatch.setattr(held_ctrl_c._CtrlCNoted, "install", refused)
        with pytest.raises(KeyboardInterrupt), ctrl_c_held():
            pass
        assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals: main thread"
)
def test_a_ctrl_c_while_a_job_starts_a_worker_waits_until_it_is_there() -> None:
    """A job given to the pool may start a worker: the fork server forks it once the run has
    sent it the worker's descriptors. A Ctrl-C in the middle of that handshake left the fork
    server printing a traceback (EOFError). It is taken once the job is given."""
    given: list[object] = []

    class Pool:
        def submit(self, *job: object) -> object:
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)  # as a worker starts
            sum(range(100_000))
            given.append(job)
            return job

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            executor._submitted(Pool(), "job")  # type: ignore[arg-type]
        assert len(given) == 1
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals: main thread"
)
def test_a_ctrl_c_while_the_pool_is_made_waits_until_its_ending_is_on_the_stack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C while the workers' pool makes its queues: taken between a semaphore's
    registration with multiprocessing's resource tracker and its finalizer, it left the
    tracker warning of a leaked semaphore at the run's exit (a refresh's stderr, beside
    "interrupted"). It is taken once the pool is made and the stack ends it."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    made: list[ProcessPoolExecutor] = []

    def pool(*args: Any, **kwargs: Any) -> ProcessPoolExecutor:
        # Ctrl-C, as the pool starts to be made (to this thread: another thread of the
        # test process, which does not hold it, would take a signal sent to the process)
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        made.append(ProcessPoolExecutor(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(worker_pool, "ProcessPoolExecutor", pool)
    try:
        with ExitStack() as stack, pytest.raises(KeyboardInterrupt):
            worker_pool.start_pool(stack, 2)
        assert len(made) == 1  # made whole, then ended by the stack
        assert made[0]._shutdown_thread
    finally:
        signal.signal(signal.SIGINT, previous)
        worker_pool.stop_fork_server()


class _ClosedAsItWrites:
    """A wakeup pipe's writer that its manager thread closes as another thread writes."""

    def __init__(self, wakeup: Any, closed: bool) -> None:
        self.wakeup, self.closed = wakeup, closed

    def send_bytes(self, data: bytes) -> None:
        self.wakeup._closed = self.closed  # the manager's close() sets it, then closes
        raise OSError(9, "Bad file descriptor")


@pytest.mark.parametrize("closed", [True, False])
def test_a_pool_wakeup_closed_as_it_is_written_is_no_traceback(closed: bool) -> None:
    """Ctrl-C as the workers start: the pool's manager thread closed its wakeup pipe while
    the run, ending the pool, wrote to it, and an ``OSError: [Errno 9]`` traceback followed
    the run's clean exit 130. A pipe closed meanwhile is let go; another error is not."""
    from concurrent.futures import process

    import feeds.run.ending  # noqa: F401  (what the run imports before any pool)

    wakeup = process._ThreadWakeup()
    writer = wakeup._writer
    wakeup._writer = _ClosedAsItWrites(wakeup, closed)  # type: ignore[assignment]
    try:
        if closed:
            wakeup.wakeup()
        else:
            with pytest.raises(OSError):
                wakeup.wakeup()
    finally:
        wakeup._writer = writer
        wakeup._closed = False
        wakeup.close()
