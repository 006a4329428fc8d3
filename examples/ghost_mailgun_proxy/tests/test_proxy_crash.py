"""Exactly once across crashes: the proxy as a real process, killed with SIGKILL at each crash point.

One Ghost batch of 200 members goes through six processes of the proxy on one database. Each of the first
five is killed with SIGKILL (no ``finally``, no flush) at a deterministic point; the sixth finishes. The
points (the table of the README's "Restarts" section):

| run | killed | how |
|---|---|---|
| 1 | before the request: the intent is committed, the request not made | ``intent-recorded`` crash point |
| 2 | after the request left and SES accepted it, before the answer came back | SES front kills it |
| 3 | after the answer, before it is recorded | ``answer-received`` crash point |
| 4 | while the event worker settles a recipient from its Send event, before the commit | ``event-settling`` |
| 5 | after that commit, before the queue message is deleted | ``event-settled`` |
| 6 | not killed: finishes the batch | |

SES's events of runs 1 to 3 are held back and published before run 4 (SES publishes asynchronously, so a
restarted proxy must wait for them rather than resend), with a window of 60 s in runs 1 to 5 and 2 s in run
6. What SES accepted is counted from the moto server's own record (``/moto-api/data.json``) and from
LocalSes, never from the proxy's database. The result: every member got exactly one message, and Ghost's
events API agrees with SES.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import urllib.parse
from collections import Counter
from collections.abc import Mapping
from email.utils import parseaddr
from pathlib import Path

import httpx

import sesflow
from sesflow.testing import LocalSes

from .fixtures import API_KEY, AUTH, Aws, ghost_fields, ghost_multipart, ghost_pages, member
from .ses_front import SesFront

MEMBERS = 200
EXAMPLES = Path(__file__).resolve().parents[2]
SOURCE = Path(sesflow.__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ProxyProcess:
    """``python -m ghost_mailgun_proxy`` with the given settings; its log goes to a file."""

    def __init__(self, env: Mapping[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.base_url = f"http://127.0.0.1:{self.port}"
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ghost_mailgun_proxy", "serve", "--log-level", "info"],
                env={**env, "GHOST_PROXY_PORT": str(self.port)},
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    async def ready(self) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as http:
            for _ in range(600):
                assert self.process.poll() is None, self.text()
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError(f"the proxy did not start:\n{self.text()}")

    async def killed(self) -> None:
        """Wait for the process to end, and check that SIGKILL ended it."""
        code = await asyncio.to_thread(self.process.wait, 60)
        assert code == -signal.SIGKILL, f"exit code {code}:\n{self.text()}"


def ses_accepted(moto: str, domain: str) -> Counter[str]:
    """What the moto server accepted from ``domain``, per recipient: its own record of raw messages.

    Read from moto's SES backend in this process (the test's server runs here) rather than through
    ``/moto-api/data.json``, which serialises every service's state and fails once another test sharing the
    server leaves an S3 object without its bucket.
    """
    from moto.ses.models import RawMessage, ses_backends

    assert urllib.parse.urlsplit(moto).hostname == "127.0.0.1"  # an in-process ThreadedMotoServer
    out: Counter[str] = Counter()
    for regions in ses_backends.values():
        for backend in regions.values():
            for message in backend.sent_messages:
                if isinstance(message, RawMessage) and parseaddr(message.source)[1].endswith(f"@{domain}"):
                    # moto adds the To header's addresses to the given destinations: count each address once.
                    out.update({parseaddr(d)[1] for d in message.destinations})
    return out


async def test_exactly_once_across_sigkills_at_every_crash_point(aws: Aws, tmp_path: Path) -> None:
    members = {
        f"member{n:03d}@example.org": member(f"member{n:03d}@example.org", f"M {n}") for n in range(MEMBERS)
    }
    with LocalSes(aws.endpoint, seed=16) as local, SesFront(aws.endpoint, local) as front:
        base = {
            **{k: v for k, v in os.environ.items() if not k.startswith("GHOST_PROXY_")},
            "PYTHONPATH": os.pathsep.join([str(EXAMPLES), str(SOURCE)]),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "GHOST_PROXY_API_KEY": API_KEY,
            "GHOST_PROXY_CONFIGURATION_SET": aws.configuration_set,
            "GHOST_PROXY_UNTRACKED_CONFIGURATION_SET": aws.untracked_configuration_set,
            "GHOST_PROXY_QUEUE_URL": aws.queue_url,
            "GHOST_PROXY_DATABASE": str(tmp_path / "proxy.sqlite3"),
            "GHOST_PROXY_REGION": "us-east-1",
            "GHOST_PROXY_SES_ENDPOINT_URL": front.endpoint_url,
            "GHOST_PROXY_SQS_ENDPOINT_URL": aws.endpoint,
            "GHOST_PROXY_SES_API": "v1",  # moto lists a set's event destinations through v1 only
            "GHOST_PROXY_MAX_SEND_RATE": "none",
            "GHOST_PROXY_QUEUE_VISIBILITY_TIMEOUT": "1",
            "GHOST_PROXY_SEND_EVENT_WINDOW": "60",
            "GHOST_PROXY_SHUTDOWN_GRACE": "1",
        }
        runs: list[ProxyProcess] = []

        def start(crash: str | None = None, **settings: str) -> ProxyProcess:
            env = dict(base, **{f"GHOST_PROXY_{k.upper()}": v for k, v in settings.items()})
            if crash is not None:
                env["GHOST_PROXY_TEST_CRASH_AT"] = crash
            runs.append(ProxyProcess(env, tmp_path / f"run-{len(runs) + 1}.log"))
            return runs[-1]

        # Run 1: Ghost posts the batch; killed with its 60th intent committed, before that request.
        front.hold_events()
        run = start("intent-recorded:60")
        await run.ready()
        body, content_type = ghost_multipart(ghost_fields(aws.domain, members))
        async with httpx.AsyncClient(base_url=run.base_url, timeout=30) as http:
            response = await http.post(
                f"/v3/{aws.domain}/messages",
                content=body,
                headers={"Content-Type": content_type, "Authorization": AUTH},
            )
        assert response.status_code == 200, response.text
        batch_id = response.json()["id"][1:-1]
        await run.killed()
        assert "crash point intent-recorded:60 reached" in run.text()
        assert "exactly once: a send interrupted by a crash waits up to 60 s" in run.text()

        # Run 2: killed by SES's side once SES has accepted its 40th send, before the answer is written.
        front.kill_on_send(40)
        run = start()
        front.victim(run.process)
        await run.killed()
        assert front.killed == [run.process.pid]

        # Run 3: killed with its 40th answer in hand, before it is recorded.
        run = start("answer-received:40")
        await run.ready()
        await run.killed()
        assert "crash point answer-received:40 reached" in run.text()
        assert "was in flight when the proxy stopped: waiting for its Send event" in run.text()

        # SES publishes the events of runs 1 to 3 now. Run 4: killed while settling a recipient from one of
        # them (the second), before the commit. Run 5: killed after such a commit, before the delete.
        assert front.release_events() > 0
        for point in ("event-settling:2", "event-settled:1"):
            run = start(point)
            await run.killed()
            assert f"crash point {point} reached" in run.text()

        # Run 6: finishes; what no Send event answered for within 2 s is sent again.
        run = start(send_event_window="2")
        await run.ready()
        async with httpx.AsyncClient(base_url=run.base_url, timeout=30) as http:
            query = {"event": "accepted OR delivered OR failed", "ascending": "yes", "limit": "300"}
            for _ in range(600):  # until the batch is done and every event SES published is in Ghost's view
                pages = await ghost_pages(http, aws.domain, query)
                items = [item for page in pages for item in page["items"]]
                finished = f"batch {batch_id} finished" in run.text()
                if finished and front.published and len(items) == 2 * len(local.messages):
                    break
                await asyncio.sleep(0.5)
        run.process.send_signal(signal.SIGTERM)  # a clean stop: uvicorn exits with the signal it got
        assert await asyncio.to_thread(run.process.wait, 60) in (0, -signal.SIGTERM), run.text()
        assert "Application shutdown complete" in run.text()
        accepted = ses_accepted(aws.endpoint, aws.domain)

    # 0 lost, 0 duplicated, by SES's own count (moto's record and LocalSes's agree).
    assert accepted == Counter(dict.fromkeys(members, 1))
    assert Counter(m.recipients[0] for m in local.messages) == accepted
    # Ghost's events API agrees with SES: one accepted and one delivered per member, nothing failed, every
    # item attributed to the batch Ghost posted.
    assert Counter(i["recipient"] for i in items if i["event"] == "accepted") == accepted
    assert Counter(i["recipient"] for i in items if i["event"] == "delivered") == accepted
    assert [i for i in items if i["event"] == "failed"] == []
    assert {i["message"]["headers"]["message-id"] for i in items} == {batch_id}
    assert {i["user-variables"]["email-id"] for i in items} == {"65f1c0de0000000000000001"}
    # The last run sent again what no Send event answered for: the request run 1 never made, at least.
    assert "sending recipient" in runs[-1].text()
    assert "again: no SES event for attempt 1 within 2 s" in runs[-1].text()
