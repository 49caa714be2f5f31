"""The Ray executor: ingestion's load -> PII policy -> chunk -> embed on Ray actors.

    with RayExecutor(settings) as executor:   # joins ray_address, or starts a local Ray
        ingest_paths(paths, store=store, settings=settings, executor=executor)

- ``ray_workers`` actors (0: as many as the cluster's CPUs allow), each reserving
  ``threads`` CPUs (1 when ``threads`` is 0) and building its embedder, and its PII
  detector when the ``pii`` setting needs one, once, from the settings (``make_embedder``).
  The model files must be at the driver's model directory on every node.
- The driver (:func:`fiable.ingest.ingest_paths`) reads, hashes and skips files itself and
  sends the bytes of changed ones, a batch per actor call, so no filesystem is shared.
- At most ``_DEPTH`` batches per actor are in flight (backpressure): the driver holds
  ``workers x _DEPTH`` batches of at most ``_BATCH_FILES`` files / ``_BATCH_BYTES``.
- Results come back as batches finish and are written by the driver in group transactions.
- With no ``ray_address`` a local Ray is started on 127.0.0.1 only (no dashboard), and
  shut down on close; a process already connected to Ray keeps its connection.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from types import ModuleType, TracebackType
from typing import Any, Iterable, Iterator

from .._cpus import available_cpus
from ..components import make_embedder, make_pii_detector, model_dir
from ..errors import ConfigError, FiableError
from ..ingest import FileFailure, FileJob, PreparedDocument, prepare_files
from ..settings import Settings

__all__ = ["RayExecutor", "import_ray", "start_local_ray"]

logger = logging.getLogger(__name__)

# Files per actor call. Bigger calls embed faster (the embedder sorts texts by length within
# a call, padding less): 300 SciFact abstracts, 1 thread, took 43.2 s in calls of 16
# files, 38.6 s of 32, 36.9 s of 64, 36.0 s in one call; smaller ones balance the
# workers better at the end of an ingest.
_BATCH_FILES = 32
_BATCH_BYTES = 4 * 1024 * 1024  # ...or fewer when their bytes reach this
_DEPTH = 2  # actor calls in flight per actor: one running, one queued behind it
_START_TIMEOUT_S = 300.0  # actors scheduled and their models loaded


def import_ray() -> ModuleType:
    """The ``ray`` module, or a ConfigError saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("ingest_executor = 'ray' needs Ray, which is not installed",
                          hint="pip install 'fiable[ray]'") from exc
    return ray


@contextmanager
def _loopback_only(ray: ModuleType) -> Iterator[None]:
    """While Ray starts, keep ``127.0.0.1`` as the node address: on Linux Ray replaces a
    loopback address with the machine's routable one unless its cluster mode is off (as
    it is on macOS and Windows), and its servers listen on every interface."""
    constants = getattr(getattr(ray, "_private", None), "ray_constants", None)
    if constants is None or not hasattr(constants, "ENABLE_RAY_CLUSTER"):
        yield
        return
    previous = constants.ENABLE_RAY_CLUSTER
    constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        constants.ENABLE_RAY_CLUSTER = previous


def start_local_ray(num_cpus: int) -> None:
    """Start a one-machine Ray in this process: 127.0.0.1 only, no dashboard, workers' logs
    kept in Ray's session folder. Stop it with ``ray.shutdown()``."""
    ray = import_ray()
    with _loopback_only(ray):
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                 ignore_reinit_error=True, logging_level=logging.WARNING,
                 _node_ip_address="127.0.0.1")
    address = ray.util.get_node_ip_address()
    if address != "127.0.0.1":
        logger.warning("local Ray is not on loopback only", extra={"address": address})


class _IngestWorker:
    """One actor: an embedder (and a PII detector) built once, then batches of files."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._error: FiableError | None = None
        try:
            self._embedder = make_embedder(settings)
            self._pii = make_pii_detector(settings) if settings.pii != "keep" else None
        except FiableError as exc:  # raised by model_id(): a task error keeps its type, an
            self._error = exc       # actor that dies in __init__ only its text

    def model_id(self) -> str:
        if self._error is not None:
            raise self._error
        return self._embedder.model_id

    def prepare(self, jobs: list[FileJob]) -> list[PreparedDocument | FileFailure]:
        return prepare_files(jobs, embedder=self._embedder, settings=self._settings, pii=self._pii)


def _batches(jobs: Iterable[FileJob], max_files: int, max_bytes: int) -> Iterator[list[FileJob]]:
    batch: list[FileJob] = []
    size = 0
    for job in jobs:
        batch.append(job)
        size += len(job.data)
        if len(batch) >= max_files or size >= max_bytes:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


class RayExecutor:
    """A :class:`fiable.ingest.FileExecutor` on Ray actors (see the module docstring).

    ``address`` and ``workers`` default to the ``ray_address`` and ``ray_workers``
    settings. Use it in a ``with`` block (or call :meth:`start` and :meth:`close`).
    """

    def __init__(self, settings: Settings, *, address: str | None = None,
                 workers: int | None = None, batch_files: int = _BATCH_FILES) -> None:
        self.settings = settings
        self.address = settings.ray_address if address is None else address
        self.requested_workers = settings.ray_workers if workers is None else workers
        if self.requested_workers < 0:
            raise ConfigError(f"ray_workers must be >= 0 (got {self.requested_workers})",
                              hint="set ray_workers to 0 (one per CPU) or a positive count")
        if batch_files < 1:
            raise ValueError(f"batch_files must be >= 1 (got {batch_files})")
        self.batch_files = batch_files
        self.cpus_per_worker = settings.threads or 1
        self._ray: ModuleType | None = None
        self._actors: list[Any] = []
        self._started_ray = False
        self._model_id: str | None = None

    # -- life cycle ---------------------------------------------------------------------
    def __enter__(self) -> "RayExecutor":
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def workers(self) -> int:
        """Actors running (0 before :meth:`start`)."""
        return len(self._actors)

    @property
    def model_id(self) -> str:
        if self._model_id is None:
            raise RuntimeError("RayExecutor.start() has not been called")
        return self._model_id

    def start(self) -> None:
        """Connect to (or start) Ray and start the actors; they have loaded their models
        when this returns."""
        ray = self._ray = import_ray()
        started = time.perf_counter()
        try:
            self._connect(ray)
            self._start_actors(ray)
        except BaseException:
            self.close()
            raise
        logger.info("ray executor ready", extra={
            "workers": len(self._actors), "cpus_per_worker": self.cpus_per_worker,
            "model": self._model_id, "started_ray": self._started_ray,
            "seconds": round(time.perf_counter() - started, 3)})

    def _connect(self, ray: ModuleType) -> None:
        if ray.is_initialized():
            logger.info("ray executor uses this process's Ray connection")
            return
        if self.address:
            try:
                ray.init(address=self.address, log_to_driver=False, ignore_reinit_error=True,
                         logging_level=logging.WARNING)
            except ConnectionError as exc:
                raise ConfigError(f"cannot reach the Ray cluster at {self.address!r}: {exc}",
                                  hint="check ray_address (`ray status` on the head node "
                                       "prints it), or leave it empty for a local Ray") from exc
        else:
            start_local_ray(max(available_cpus(), self.requested_workers * self.cpus_per_worker))
        self._started_ray = True

    def _start_actors(self, ray: ModuleType) -> None:
        total = int(ray.cluster_resources().get("CPU", 0))
        workers = self.requested_workers or max(1, total // self.cpus_per_worker)
        if workers * self.cpus_per_worker > total:
            raise ConfigError(
                f"{workers} Ray workers of {self.cpus_per_worker} CPU(s) each need "
                f"{workers * self.cpus_per_worker} CPUs; the cluster has {total}",
                hint="lower ray_workers (0: as many as the CPUs allow) or threads, "
                     "or add nodes to the cluster")
        # Resolved here, so that every actor reads the model directory this process reads.
        actor_settings = self.settings.replace(threads=self.cpus_per_worker,
                                               model_dir=str(model_dir(self.settings)))
        actor_class = ray.remote(num_cpus=self.cpus_per_worker)(_IngestWorker)
        self._actors = [actor_class.remote(actor_settings) for _ in range(workers)]
        try:
            ids = self._get([actor.model_id.remote() for actor in self._actors],
                            timeout=_START_TIMEOUT_S)
        except ray.exceptions.GetTimeoutError as exc:
            raise FiableError(
                f"the {workers} Ray ingest workers did not start within {_START_TIMEOUT_S:.0f} s",
                hint="check `ray status`: the cluster needs that many free CPUs") from exc
        self._model_id = ids[0]

    def close(self) -> None:
        """Stop the actors, and Ray when this executor started it."""
        ray, self._ray = self._ray, None
        if ray is None:
            return
        for actor in self._actors:
            ray.kill(actor)
        self._actors = []
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False

    # -- work ---------------------------------------------------------------------------
    def map(self, jobs: Iterable[FileJob]) -> Iterator[PreparedDocument | FileFailure]:
        """Prepare ``jobs`` on the actors; results come as batches finish."""
        ray = self._ray
        if ray is None or not self._actors:
            raise RuntimeError("RayExecutor.start() has not been called")
        batches = _batches(jobs, self.batch_files, _BATCH_BYTES)
        running: dict[Any, Any] = {}  # ObjectRef of a batch's results -> its actor

        def submit(actor: Any) -> None:
            batch = next(batches, None)
            if batch is not None:
                running[actor.prepare.remote(batch)] = actor

        for _ in range(_DEPTH):
            for actor in self._actors:
                submit(actor)
        while running:
            [ref], _ = ray.wait(list(running), num_returns=1)
            actor = running.pop(ref)
            results = self._get(ref)
            submit(actor)  # before handing results over, so the actor never waits for the store
            yield from results

    def _get(self, refs: Any, timeout: float | None = None) -> Any:
        """``ray.get``, with a fiable error raised in an actor re-raised as itself and a
        dead actor reported with what to do."""
        assert self._ray is not None
        exceptions = self._ray.exceptions
        try:
            return self._ray.get(refs, timeout=timeout)
        except exceptions.RayTaskError as exc:
            if isinstance(exc.cause, FiableError):
                raise exc.cause from None
            raise
        except exceptions.RayActorError as exc:
            raise FiableError(f"a Ray ingest worker stopped: {exc}",
                              hint="check the worker's memory and logs (`ray logs`); run the "
                                   "ingest again, files already stored are skipped") from exc
