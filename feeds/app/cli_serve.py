"""``feeds serve``: serve the published feeds over HTTP."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from feeds.app.cli_support import config_option, load_config, utc_now
from feeds.errors import FeedsError

if TYPE_CHECKING:
    from feeds.config import Config


@click.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on.",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Folder to serve [default: the folder of the outputs, e.g. out/].",
)
@click.option("-q", "--quiet", is_flag=True, help="Do not log requests to stderr.")
@click.option(
    "--allow-root-with-secrets",
    is_flag=True,
    help="Serve a folder that holds the config, the store or a source file (only the "
    "outputs' files are served either way).",
)
@click.option(
    "--metrics",
    "with_metrics",
    is_flag=True,
    help="Also answer /metrics (Prometheus) and /healthz (503 when the daemon is stale).",
)
@click.option(
    "--stale-after",
    default=None,
    metavar="DURATION",
    help="/healthz: the oldest daemon heartbeat that is healthy [default: 3 x heartbeat].",
)
def serve(
    config_path: Path | None,
    host: str,
    port: int,
    root: Path | None,
    quiet: bool,
    allow_root_with_secrets: bool,
    with_metrics: bool,
    stale_after: str | None,
) -> None:
    """Serve the published feeds over HTTP (for trying out and small installs).

    ETag/Last-Modified with 304 answers, gzip, HEAD, an index page at /, and a
    readable HTML view when a browser opens a feed. Production: see the
    nginx snippet in docs/publishing.md.

    \b
    Example:
      feeds serve --port 8080     then open http://127.0.0.1:8080/
    """
    from feeds.app import serve as serve_module

    config = load_config(config_path)
    if stale_after is not None and not with_metrics:
        raise click.UsageError("--stale-after is the /healthz limit: it needs --metrics")
    stale_limit = _stale_after(config, stale_after)
    folder = _served_folder(config, root, allow_root_with_secrets)

    def log(served: serve_module.Served) -> None:
        click.echo(f"{served.method} {served.path} {served.status}", err=True)

    try:
        server = serve_module.serve(
            folder, config.outputs, host, port, on_request=None if quiet else log
        )
    except OSError as exc:
        raise FeedsError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    if with_metrics:
        from feeds.app.metrics import routes

        server.dynamic.update(routes(config, stale_limit, utc_now))
    click.echo(f"serving {folder} on {server.url}/ (Ctrl-C stops)", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _served_folder(config: Config, root: Path | None, allow_root_with_secrets: bool) -> Path:
    """``--root`` or the outputs' folder; a usage error when that folder holds a secret."""
    from feeds.app import serve as serve_module
    from feeds.app.serve_files import secrets_under

    folder = root or serve_module.default_root(config.outputs)
    if folder is None:
        raise click.UsageError(
            "the outputs are written to different folders; choose one with --root"
        )
    secrets = secrets_under(folder, config)
    if secrets and not allow_root_with_secrets:
        raise click.UsageError(
            f"{folder} holds {', '.join(str(p) for p in secrets)}; write the outputs to a "
            'folder of their own (path = "out/NAME.atom"), choose one with --root, or '
            "pass --allow-root-with-secrets (only the outputs' files are served)"
        )
    return folder


def _stale_after(config: Config, text: str | None) -> timedelta:
    from feeds.core.schedule import parse_duration

    if text is None:
        return 3 * config.daemon.heartbeat
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--stale-after") from exc
