"""The exporter's HTTP routes, served by aiohttp over an ExporterService.

Endpoints: /metrics, /healthz (the process runs), /readyz (the first
evaluation has completed, successfully or not, so Prometheus can see
`data_up` 0 for broken data), /report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from .config import ExporterConfig
from .service import ExporterService, ReportTimeout, WorkerStopped

log = logging.getLogger("genre_monitor_exporter")

# After SIGTERM, requests in progress get this long to finish (the workers
# are killed first, so a /report render ends at once).
SHUTDOWN_TIMEOUT_SECONDS = 3.0

SERVICE_KEY = web.AppKey("service", ExporterService)


async def _metrics(request: web.Request) -> web.Response:
    service = request.app[SERVICE_KEY]
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    response = web.Response(body=service.render_metrics(encoder))
    response.headers["Content-Type"] = content_type
    return response


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def _readyz(request: web.Request) -> web.Response:
    service = request.app[SERVICE_KEY]
    if service.ready.is_set():
        return web.Response(text="ready\n")
    return web.Response(status=503, text="waiting for the first evaluation\n")


async def _report(request: web.Request) -> web.Response:
    service = request.app[SERVICE_KEY]
    try:
        html = await service.report_html()
    except LookupError as error:
        return web.Response(status=503, text=f"{error}\n")
    except ReportTimeout as error:
        return web.Response(status=504, text=f"{error}\n")
    except WorkerStopped as error:
        return web.Response(status=503, text=f"{error}; try again\n")
    except Exception as error:
        log.error("report failed: %s: %s", type(error).__name__, error)
        return web.Response(status=500, text=f"the report failed: {type(error).__name__}\n")
    return web.Response(text=html, content_type="text/html")


def make_app(service: ExporterService, *, schedule: bool = True) -> web.Application:
    """The aiohttp application; with `schedule`, it runs the service's
    evaluation schedule for as long as it serves, and closes the service after."""
    app = web.Application()
    app[SERVICE_KEY] = service
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/report", _report)

    async def schedule_context(app: web.Application):
        task = asyncio.create_task(service.run_schedule()) if schedule else None
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        service.close()

    async def stop_workers(app: web.Application) -> None:
        # On shutdown, before waiting for requests in progress: a render or an
        # evaluation must not hold the process's exit.
        service.close()

    app.on_shutdown.append(stop_workers)
    app.cleanup_ctx.append(schedule_context)
    return app


def serve(config: ExporterConfig) -> None:
    """Serve the routes and run the schedule until the process is stopped."""
    service = ExporterService(config)
    log.info(
        "serving on %s:%d; %s; every %g s",
        config.host,
        config.port,
        service.describe_sources(),
        config.interval_seconds,
    )
    web.run_app(
        make_app(service),
        host=config.host,
        port=config.port,
        print=None,
        shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS,
    )
