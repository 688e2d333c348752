"""Task runners: the default one locally, or an existing Dask cluster given its address."""

from __future__ import annotations

from prefect.task_runners import ThreadPoolTaskRunner


def task_runner(dask_address: str | None = None, workers: int | None = None):
    """ThreadPool locally (render chunks release the GIL in Pillow); DaskTaskRunner for a cluster."""
    if dask_address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=dask_address)
    return ThreadPoolTaskRunner(max_workers=workers)
