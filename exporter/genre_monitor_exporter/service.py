"""The exporter's service: the state /metrics shows, the evaluation schedule
and the caches in front of it.

Evaluations run in a worker process (one at a time), on the interval and as
soon as a source's change token moves; the event loop only awaits them, so
/metrics serves the last result from memory whatever the evaluation costs
(no shared GIL with a 1M-row evaluation). The report renders Evidently's HTML
in a second worker process on demand, cached per data version.

Both workers run under a deadline: a worker that overruns it is killed (an
evaluation fails with reason `timeout`, a render answers 504), and so are
both when the process is asked to stop, so SIGTERM never waits on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from prometheus_client import CollectorRegistry

from genre_monitor.exporter_limits import HTTP_READ_TIMEOUT_SECONDS, evaluation_timeout_seconds
from genre_monitor.metric_names import DATASET_CURRENT, DATASET_REFERENCE

from . import sources, worker
from .collector import ExporterCollector, ExporterState
from .config import ExporterConfig
from .errors import INTERNAL, TIMEOUT, SourceError
from .evaluation import EvaluationError, EvaluationResult, Evaluator

log = logging.getLogger("genre_monitor_exporter")


class ReportTimeout(Exception):
    """The report render overran its deadline and was stopped."""


class WorkerStopped(Exception):
    """A worker process was stopped (shutdown) or died during the job."""


def kill_workers(executor: Executor) -> None:
    """Shut the pool down and kill its worker processes at once: a job in
    progress would otherwise hold the process's exit until it ends
    (ProcessPoolExecutor offers kill_workers() only from Python 3.14)."""
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(OSError, ValueError):
            process.kill()


class ExporterService:
    """Owns the state /metrics shows and the evaluation schedule.

    isolation="process" (the default, what the server runs) evaluates in a
    worker process; "thread" evaluates in a thread of this process (tests,
    --once), where the scrape path shares the GIL with the evaluation.
    """

    def __init__(self, config: ExporterConfig, isolation: str = "process"):
        self.config = config
        self.isolation = isolation
        self.state = ExporterState()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(ExporterCollector(self.state))
        self.ready = asyncio.Event()
        self._executor: Executor | None = None
        self._report_executor: Executor | None = None
        self._reports: dict[tuple, asyncio.Future] = {}
        self._last_problem: str | None = None
        self._tokens_at_last_attempt: tuple | None = None
        self._evaluation_lock = asyncio.Lock()
        self._rendered: tuple | None = None
        self._closed = False
        # Each data set read has its own deadline; this one stops anything
        # else (a stalled read that no socket timeout catches, a runaway).
        self._deadline = config.evaluation_timeout_seconds or evaluation_timeout_seconds(
            config.source_limits.timeout_seconds
        )

    def render_metrics(self, encoder) -> bytes:
        """The exposition text, rendered by the collector once per state change
        (an evaluation's end) and format, then served from memory."""
        key = (self.state.evaluations_completed, encoder)
        if self._rendered is None or self._rendered[0] != key:
            self._rendered = (key, encoder(self.registry))
        return self._rendered[1]

    # executors

    def _evaluation_executor(self) -> Executor:
        if self._executor is None:
            if self.isolation == "process":
                self._executor = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=worker.init_evaluation_worker,
                    initargs=(self.config, logging.getLogger().level),
                )
            else:
                self._executor = ThreadPoolExecutor(max_workers=1)
                self._thread_evaluator = Evaluator(self.config)
        return self._executor

    def close(self) -> None:
        """Stop both workers now, jobs in progress included, and start no new one."""
        self._closed = True
        for executor in (self._executor, self._report_executor):
            if executor is not None:
                kill_workers(executor)
        self._executor = self._report_executor = None

    # evaluation

    async def evaluate(self, trigger: str = "interval") -> EvaluationResult | None:
        """Run one evaluation and record its outcome; never raises."""
        async with self._evaluation_lock:
            if self._closed:
                return None
            loop = asyncio.get_running_loop()
            executor = self._evaluation_executor()
            self._tokens_at_last_attempt = await self._current_tokens()
            now = time.time()
            started = time.perf_counter()
            try:
                if self.isolation == "process":
                    result = await asyncio.wait_for(
                        loop.run_in_executor(executor, worker.evaluate, now), self._deadline
                    )
                else:
                    result = await loop.run_in_executor(
                        executor, self._thread_evaluator.evaluate, now
                    )
            except EvaluationError as error:
                self._record_failure(error, time.perf_counter() - started)
                return None
            except TimeoutError:
                # Only a worker process can be stopped; its cached reference goes too.
                kill_workers(executor)
                self._executor = None
                self._record_failure(
                    EvaluationError(
                        TIMEOUT,
                        None,
                        f"the evaluation did not finish within {self._deadline:g} s; "
                        "its worker process was stopped",
                    ),
                    time.perf_counter() - started,
                )
                return None
            except BrokenProcessPool:
                if self._closed:  # stopped on purpose: shutting down
                    return None
                # The worker died (e.g. out of memory): start a new one next time.
                executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None
                self._record_failure(
                    EvaluationError(INTERNAL, None, "the evaluation worker process died"),
                    time.perf_counter() - started,
                )
                return None
            except Exception as error:  # never let a bug stop the schedule
                log.exception("unexpected evaluation failure")
                self._record_failure(
                    EvaluationError(INTERNAL, None, f"unexpected {type(error).__name__}: {error}"),
                    time.perf_counter() - started,
                )
                return None
            self._record_success(result, trigger)
            return result

    def _record_success(self, result: EvaluationResult, trigger: str) -> None:
        state = self.state
        state.result = result
        state.data_up = {DATASET_REFERENCE: 1, DATASET_CURRENT: 1}
        state.failing_reason = None
        state.last_duration_seconds = result.duration_seconds
        state.last_success_timestamp = result.finished_at
        state.evaluations_completed += 1
        if self._last_problem is not None:
            log.info("evaluation recovered: %s", self.describe_sources())
        self._last_problem = None
        for warning in result.warnings:
            log.warning("%s", warning)
        log.info(
            "evaluated (%s) in %.2f s: %d of %d features drifted",
            trigger,
            result.duration_seconds,
            result.drifted_features,
            len(result.features),
        )
        self.ready.set()

    def _record_failure(self, error: EvaluationError, duration: float) -> None:
        state = self.state
        state.errors[error.reason] = state.errors.get(error.reason, 0) + 1
        state.failing_reason = error.reason
        state.last_duration_seconds = duration
        state.evaluations_completed += 1
        if error.dataset is None:
            state.data_up = dict.fromkeys(state.data_up, 0)
        else:
            state.data_up[error.dataset] = 0
            if error.dataset == DATASET_CURRENT:
                state.data_up[DATASET_REFERENCE] = 1  # read and checked before the current
        problem = f"{error.reason}: {error.message}"
        if problem != self._last_problem:
            # One line per problem, not one per failed attempt.
            log.error(
                "evaluation failed (%s), keeping the last good values: %s",
                error.reason,
                error.message,
            )
        self._last_problem = problem
        self.ready.set()

    def describe_sources(self) -> str:
        """Both sources' URIs, redacted, for the log."""
        return (
            f"reference {sources.redact(self.config.reference_uri)}, "
            f"current {sources.redact(self.config.current_uri)}"
        )

    async def _current_tokens(self) -> tuple:
        def token(uri: str) -> str:
            try:
                # A source without a version (no ETag/Last-Modified) is only
                # re-read on the interval.
                return sources.change_token(uri, self.config.source_limits) or "untracked"
            except SourceError as error:
                return f"error:{error.reason}"
            except Exception as error:  # the schedule must survive any surprise
                log.debug("change check of %s failed: %s", sources.redact(uri), error)
                return "error:unexpected"

        # Each http(s) read has its deadline, but nothing bounds a hanging
        # name lookup (getaddrinfo): the schedule does not wait past this
        # (the thread ends when the lookup does).
        limit = 2 * (self.config.source_limits.timeout_seconds + HTTP_READ_TIMEOUT_SECONDS)
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(
                    lambda: (token(self.config.reference_uri), token(self.config.current_uri))
                ),
                limit,
            )
        except TimeoutError:
            return ("error:timeout", "error:timeout")

    async def run_schedule(self) -> None:
        """Evaluate now, then on the interval and whenever a source changes."""
        loop = asyncio.get_running_loop()
        await self.evaluate("start")
        next_due = loop.time() + self.config.interval_seconds
        while True:
            wait = max(0.0, min(self.config.change_poll_seconds, next_due - loop.time()))
            await asyncio.sleep(wait)
            if loop.time() >= next_due:
                await self.evaluate("interval")
                next_due = loop.time() + self.config.interval_seconds
            elif await self._current_tokens() != self._tokens_at_last_attempt:
                await self.evaluate("source changed")
                next_due = loop.time() + self.config.interval_seconds

    # report

    async def report_html(self) -> str:
        """The last good evaluation's HTML report, rendered once per data version.

        Raises LookupError before the first good evaluation, ReportTimeout
        when the render overran (remembered for that data version, so
        repeated requests do not start the same doomed render again), and
        WorkerStopped when the renderer was stopped or died.
        """
        result = self.state.result
        if result is None:
            raise LookupError("no successful evaluation yet")
        key = result.data_version
        if None in key:  # untracked sources: a version per evaluation
            key = (*key, result.finished_at)
        future = self._reports.get(key)
        if future is None:
            future = asyncio.ensure_future(self._render_report(result.finished_at))
            # Keep only the latest data version's report.
            self._reports = {key: future}
        try:
            return await asyncio.shield(future)
        except ReportTimeout:
            raise
        except Exception:
            self._reports.pop(key, None)  # let the next request retry
            raise

    async def _render_report(self, at: float) -> str:
        """Render in the report worker; kill it when the deadline passes."""
        if self._closed:
            raise WorkerStopped("the exporter is shutting down")
        if self._report_executor is None:
            self._report_executor = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=worker.init_report_worker,
            )
        executor = self._report_executor
        loop = asyncio.get_running_loop()
        timeout = self.config.report_timeout_seconds
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(executor, worker.render_report, self.config, at), timeout
            )
        except TimeoutError:
            kill_workers(executor)
            if self._report_executor is executor:
                self._report_executor = None
            raise ReportTimeout(
                f"the report did not render within {timeout:g} s (--report-timeout) and was "
                "stopped; a smaller spec.evaluation.sampleSize renders faster"
            ) from None
        except BrokenProcessPool:
            if self._report_executor is executor:
                self._report_executor = None
            raise WorkerStopped("the report worker stopped before the report was ready") from None
