"""``fiable serve`` and ``fiable keys``."""

from __future__ import annotations

import ipaddress
import logging

import click

from ..errors import ConfigError
from ._common import echo_json, open_workspace

logger = logging.getLogger(__name__)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-auth", is_flag=True,
              help="Serve without API keys (refused unless the host is loopback).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, no_auth: bool) -> None:
    """Serve the HTTP API, the OpenAI-compatible API and the web chat (docs/server.md).

    API keys are required once one exists (`fiable keys create NAME`). With none, the
    server starts only on a loopback host, open to this machine alone."""
    try:
        import uvicorn
    except ImportError:
        raise ConfigError("the server needs uvicorn", hint="pip install 'fiable[server]'") from None
    from ..server import create_app

    with open_workspace(ctx) as ws:
        has_keys = any(k["revoked_at"] is None for k in ws.store.api_keys())
        auth = has_keys and not no_auth
        if not auth and not _loopback(host):
            raise ConfigError(
                f"refusing to serve {host} without API keys: anyone on the network could read "
                "the documents",
                hint="create a key with `fiable keys create NAME`, or serve on 127.0.0.1")
        if not auth:
            click.echo("no API keys: serving this machine only (127.0.0.1)", err=True)
        app = create_app(ws, auth=auth)
        click.echo(f"fiable on http://{host}:{port}  (web chat /, admin /admin, API docs /docs)",
                   err=True)
        uvicorn.run(app, host=host, port=port, log_level="warning",
                    timeout_graceful_shutdown=30)


@click.group()
def keys() -> None:
    """API keys for `fiable serve` (stored as hashes; shown once)."""


@keys.command("create")
@click.argument("name")
@click.pass_context
def keys_create(ctx: click.Context, name: str) -> None:
    """Create a key named NAME and print it (the only time it is shown)."""
    from ..server.auth import hash_key, new_key

    key = new_key()
    with open_workspace(ctx) as ws:
        ws.store.add_api_key(name, hash_key(key))
        ws.audit("local", "keys", {"created": name})
    click.echo(key)
    click.echo(f"key {name!r} created: keep it now, it is stored only as a hash", err=True)


@keys.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def keys_list(ctx: click.Context, as_json: bool) -> None:
    """Key names with their creation and revocation times (never the keys)."""
    with open_workspace(ctx) as ws:
        items = ws.store.api_keys()
    if as_json:
        echo_json(items)
        return
    for k in items:
        state = f"revoked {k['revoked_at']}" if k["revoked_at"] else "active"
        click.echo(f"{k['name']}  created {k['created_at']}  {state}")


@keys.command("revoke")
@click.argument("name")
@click.pass_context
def keys_revoke(ctx: click.Context, name: str) -> None:
    """Revoke the key NAME: it stops working at once, on every replica."""
    with open_workspace(ctx) as ws:
        if not ws.store.revoke_api_key(name):
            raise ConfigError(f"no active key named {name!r}", hint="see `fiable keys list`")
        ws.audit("local", "keys", {"revoked": name})
    click.echo(f"key {name!r} revoked")
