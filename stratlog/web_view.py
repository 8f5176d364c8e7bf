"""`stratlog view ADDR --web [HOST:PORT]`: the same Textual dashboard, served to a browser.

textual-serve (extra `stratlog[web]`) runs one `stratlog view ADDR` per browser tab, under
Textual's web driver, and relays its screen over a WebSocket: every tab is a viewer of its own,
subscribed to the sink's --publish endpoint with the same options (CURVE keys included) as this
command. The web server has no login of its own, so it listens on loopback unless
--web-insecure says otherwise; reach it from elsewhere through an SSH tunnel
(`ssh -L 8000:127.0.0.1:8000 server`).
"""

from __future__ import annotations

import argparse
import importlib.util
import shlex
import sys

from stratlog.protocol.curve import InsecureBindError, is_loopback

DEFAULT_WEB = "127.0.0.1:8000"


def parse_web_address(text: str) -> tuple[str, int]:
    """HOST:PORT (or :PORT, loopback) -> (host, port); argparse's type for --web."""
    host, separator, port = text.rpartition(":")
    if not separator or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"--web takes HOST:PORT (e.g. {DEFAULT_WEB}), got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def viewer_command(args: argparse.Namespace) -> list[str]:
    """This `view` command line without --web: what each browser tab runs."""
    command = [sys.executable, "-m", "stratlog.cli", "view", args.address]
    for option, value in (("--log-dir", args.log_dir), ("--sink-key", args.sink_key), ("--client-key", args.client_key),
                          ("--tokenizer", args.tokenizer), ("--stall-after", args.stall_after),
                          ("--rotate-mb", args.rotate_mb), ("--fail-on", args.fail_on)):
        if value is not None:
            command += [option, str(value.resolve() if hasattr(value, "resolve") else value)]
    if args.exit_after_run:
        command.append("--exit-after-run")
    return command


def serve_web(args: argparse.Namespace) -> int:
    host, port = args.web
    if not args.web_insecure and not is_loopback(f"tcp://{host}:{port}"):
        raise InsecureBindError(f"--web {host}:{port} is reachable from other hosts and the browser view has no login: "
                                "keep it on loopback and reach it through an SSH tunnel, or pass --web-insecure")
    if importlib.util.find_spec("textual_serve") is None:
        print("error: --web needs textual-serve: pip install 'stratlog[web]'", file=sys.stderr)
        return 2
    from textual_serve.server import Server

    command = shlex.join(viewer_command(args))
    print(f"serving the dashboard of {args.address} on http://{host}:{port} (each browser tab runs: {command})",
          flush=True)
    Server(command, host=host, port=port, title=f"stratlog view {args.address}").serve()
    return 0
