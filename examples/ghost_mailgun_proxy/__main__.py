"""``python -m ghost_mailgun_proxy``: run the proxy (settings from ``GHOST_PROXY_*``), or build its AWS side.

    python -m ghost_mailgun_proxy                  # serve on GHOST_PROXY_HOST:GHOST_PROXY_PORT
    python -m ghost_mailgun_proxy setup --configuration-set ghost-newsletters \\
        --untracked-configuration-set ghost-newsletters-untracked --region eu-west-1
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ghost_mailgun_proxy",
        description="A Mailgun-compatible API for Ghost that sends through Amazon SES (built on sesflow).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the proxy (the default)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    setup = commands.add_parser(
        "setup", help="create the configuration set(s), SNS topic and SQS queue; print the settings"
    )
    setup.add_argument("--configuration-set", required=True)
    setup.add_argument("--untracked-configuration-set", help="the set used for o:tracking-opens=no")
    setup.add_argument("--region")
    setup.add_argument("--endpoint-url", help="a local emulator (moto) instead of AWS")
    setup.add_argument("--api", choices=["v1", "v2"], default="v2", help="v1 on moto (default: v2)")
    return parser


def _serve(level: str) -> int:
    import uvicorn

    from .app import create_app
    from .settings import ProxyConfigError, Settings

    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
    except ProxyConfigError as exc:
        sys.stderr.write(f"ghost_mailgun_proxy: {exc}\n")
        return 2
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, proxy_headers=True, log_level=level
    )
    return 0


def _setup(args: argparse.Namespace) -> int:
    from sesflow.provisioning import Provisioner

    from .provision import provision, read_send_event_destinations

    provisioner = Provisioner(region=args.region, endpoint_url=args.endpoint_url, api=args.api)
    pipeline, env = provision(provisioner, args.configuration_set, args.untracked_configuration_set)
    for resource in pipeline.resources:
        sys.stderr.write(f"{resource.status:>8}  {resource.kind}  {resource.name}\n")
    sets = [args.configuration_set, *filter(None, [args.untracked_configuration_set])]
    missing = []
    for name, destinations in read_send_event_destinations(provisioner, sets).items():
        if destinations:
            sys.stderr.write(f"   check  {name} publishes Send events (through {', '.join(destinations)})\n")
        else:
            missing.append(name)
            sys.stderr.write(f"   check  {name} publishes NO Send events to a queue\n")
    if missing:
        sys.stderr.write(
            "exactly-once delivery across restarts needs Send events: the proxy will be at most once\n"
        )
    else:
        sys.stderr.write("exactly-once delivery across restarts: every set publishes Send events\n")
    for name, value in env.items():
        sys.stdout.write(f"{name}={value}\n")
    return 1 if missing else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.command == "setup":
        return _setup(args)
    return _serve(getattr(args, "log_level", "info"))


if __name__ == "__main__":
    sys.exit(main())
