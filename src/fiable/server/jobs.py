"""Background ingestion of uploaded files, one job at a time, with progress to poll.

Uploaded files are kept under ``<workspace>/uploads/<job id>/`` (they are the documents the
answers cite) and ingested by a single worker thread; ``wait()`` lets shutdown finish the
job in progress so that nothing half-written is left behind.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import FiableError
from ..ingest import IngestProgress

__all__ = ["IngestJob", "IngestJobs"]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class IngestJob:
    job_id: str
    collection: str
    files: list[str]
    status: str = "queued"  # queued | running | done | failed
    done: int = 0
    total: int = 0
    report: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    owner: str = "local"  # the principal who uploaded (the audit trail's actor)

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "collection": self.collection, "status": self.status,
                "done": self.done, "total": self.total or len(self.files),
                "files": [Path(f).name for f in self.files], "report": self.report,
                "error": self.error}


class IngestJobs:
    def __init__(self, workspace: Any, max_jobs: int = 1000) -> None:
        self.workspace = workspace
        self.uploads = Path(workspace.path) / "uploads"
        self._jobs: dict[str, IngestJob] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fiable-ingest")
        self._max_jobs = max_jobs

    def new_folder(self) -> tuple[str, Path]:
        job_id = uuid.uuid4().hex[:16]
        folder = self.uploads / job_id
        folder.mkdir(parents=True, exist_ok=False)
        return job_id, folder

    def submit(self, job_id: str, collection: str, files: list[Path], *,
               owner: str = "local") -> IngestJob:
        job = IngestJob(job_id, collection, [str(f) for f in files], total=len(files),
                        owner=owner)
        with self._lock:
            self._jobs[job_id] = job
            for old in list(self._jobs)[: max(0, len(self._jobs) - self._max_jobs)]:
                if self._jobs[old].status in ("done", "failed"):
                    del self._jobs[old]
        self._pool.submit(self._run, job)
        return job

    def get(self, job_id: str) -> IngestJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def _run(self, job: IngestJob) -> None:
        job.status = "running"

        def progress(event: IngestProgress) -> None:
            job.done, job.total = event.done, event.total

        try:
            report = self.workspace.ingest(job.files, collection=job.collection, actor=job.owner,
                                           progress=progress)
            job.report = _without_server_paths(dataclasses.asdict(report),
                                               str(Path(job.files[0]).parent) + "/")
            job.status = "done"
        except FiableError as exc:
            job.error = {"code": exc.code, "message": exc.message, "hint": exc.hint}
            job.status = "failed"
        except Exception:  # noqa: BLE001 - reported to the poller, details in the log
            logger.exception("ingest job failed", extra={"job_id": job.job_id})
            job.error = {"code": "internal_error", "message": "ingestion failed unexpectedly",
                         "hint": "see the server log"}
            job.status = "failed"
        logger.info("ingest job finished", extra={"job_id": job.job_id, "status": job.status})

    def wait(self) -> None:
        """Finish queued and running jobs (graceful shutdown)."""
        self._pool.shutdown(wait=True)


def _without_server_paths(value: Any, folder: str) -> Any:
    """The report as the uploader sees it: file names, not this server's upload folder."""
    if isinstance(value, str):
        return value.replace(folder, "")
    if isinstance(value, dict):
        return {k: _without_server_paths(v, folder) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_server_paths(v, folder) for v in value]
    return value
