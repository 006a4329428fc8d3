"""The child process of tests/test_analytics_compact.py: compact SRC into DST, one batch per source object,
and kill itself with SIGKILL at a chosen point of the N-th batch.

    python tests/_compact_worker.py SRC DST POINT N [S3_ENDPOINT]

POINT is where the process dies:

- ``writing``: while the Parquet file is being written (half a file on disk, under its temporary name);
- ``written``: the file is complete under its temporary name, not yet published;
- ``published``: the file is visible under its final name, the manifest does not list it yet;
- ``manifest-written``: the new manifest is on disk under its temporary name, not yet in place;
- ``manifest``: right after the manifest was replaced (the batch is done).

Nothing in sesflow is changed for the test: the child wraps sesflow's own steps and sends itself the signal.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from sesflow.analytics import compact


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    source, destination, point, nth = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    endpoint = sys.argv[5] if len(sys.argv) > 5 else None
    batches = 0

    convert = compact.ndjson_to_parquet

    def converting(files: Any, target: Any, **options: Any) -> int:
        nonlocal batches
        batches += 1
        if point == "writing" and batches == nth:
            Path(target).write_bytes(b"PAR1 half a file")
            die()
        return convert(files, target, **options)

    compact.ndjson_to_parquet = converting  # type: ignore[assignment]

    def wrap(cls: Any, name: str, before: str | None, after: str | None) -> None:
        original = getattr(cls, name)

        def step(self: Any, *args: Any) -> Any:
            if point == before and batches == nth:
                die()
            result = original(self, *args)
            if point == after and batches == nth:
                die()
            return result

        setattr(cls, name, step)

    for cls in (compact._LocalDestination, compact._S3Destination):
        wrap(cls, "publish", "written", None)
        wrap(cls, "write_manifest", "published", "manifest")

    replace = os.replace

    def replacing(src: Any, dst: Any) -> None:
        if point == "manifest-written" and batches == nth and str(dst).endswith(compact.MANIFEST_NAME):
            die()
        replace(src, dst)

    os.replace = replacing  # type: ignore[assignment]

    client = None
    if endpoint:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
    compact.compact_lake(source, destination, s3_client=client, max_batch_bytes=1)


if __name__ == "__main__":
    main()
