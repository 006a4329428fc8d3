"""``sesflow smtp-password``: the SES SMTP password of an IAM secret access key, which never goes on argv."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ._console import UsageError

__all__ = ["add_smtp_password_parser", "run_smtp_password"]

_DESCRIPTION = """\
Derive the SES SMTP password from an IAM user's secret access key, for one or more regions. The secret is read
from the AWS_SECRET_ACCESS_KEY environment variable, or from the first line of standard input with --stdin;
it is never taken from the command line, where other users and the shell history would see it. The SMTP
user name is the access key id. Temporary (session) credentials do not work for SMTP.

  AWS_SECRET_ACCESS_KEY=... sesflow smtp-password --region eu-west-1
  pass show ses/secret | sesflow smtp-password --region us-east-1 --stdin"""


def add_smtp_password_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``smtp-password`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "smtp-password",
        help="derive the SES SMTP password of a secret access key (read from the environment or stdin)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--region",
        action="append",
        required=True,
        help="the SES region the password is for (repeat for several)",
    )
    parser.add_argument(
        "--stdin",
        action="store_true",
        help="read the secret access key from standard input, not the environment",
    )
    parser.add_argument("--json", action="store_true", help="print JSON: region, SMTP host and password")
    return parser


def _secret(from_stdin: bool) -> str:
    if from_stdin:
        secret = sys.stdin.readline().strip()
        if not secret:
            raise UsageError("standard input is empty: pipe the secret access key into the command")
        return secret
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "").strip()
    if not secret:
        raise UsageError(
            "AWS_SECRET_ACCESS_KEY is not set: export it, or pipe the secret into the command with --stdin"
        )
    return secret


def run_smtp_password(args: argparse.Namespace) -> int:
    """Run ``sesflow smtp-password``; returns the exit status."""
    from ..sending.errors import ValidationError
    from ..sending.smtp import smtp_host, smtp_password

    secret = _secret(args.stdin)
    rows = []
    for region in args.region:
        try:
            rows.append((region, smtp_host(region), smtp_password(secret, region)))
        except ValidationError as exc:
            raise UsageError(str(exc)) from exc
    if args.json:
        print(json.dumps([{"region": r, "host": h, "password": p} for r, h, p in rows]))
    elif len(rows) == 1:
        print(rows[0][2])
    else:
        for region, _, password in rows:
            print(f"{region}\t{password}")
    return 0
