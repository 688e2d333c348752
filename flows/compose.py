"""compose_batch: a selection of elements into banners, a manifest and a gallery; chunks are tasks."""


from pathlib import Path

from prefect import flow, task
from pydantic import Field

from creative.compose import BatchSelection, RenderChunk, chunked, compose_batch, render_chunk
from flows.common import FlowParams, publish
from flows.runners import task_runner

CHUNK_SIZE = 200  # banners per task: Prefect costs ~6 ms a task run, a chunk renders in ~0.5-1 s


class ComposeParams(FlowParams):
    products: list[str] = Field(min_length=1)
    logos: list[str] = []
    titles: list[str] = []
    models: list[str] = []
    backgrounds: list[str] = []
    templates: list[str] = ["all"]
    sizes: list[str] = ["all"]
    format: str = "jpeg"
    max_n: int | None = Field(default=None, ge=1)
    seed: int = 0
    out: str
    dask_address: str | None = None
    chunk_size: int = Field(default=CHUNK_SIZE, ge=1)

    def selection(self) -> BatchSelection:
        return BatchSelection(products=tuple(self.products), logos=tuple(self.logos), titles=tuple(self.titles),
                              models=tuple(self.models), backgrounds=tuple(self.backgrounds),
                              templates=tuple(self.templates), sizes=tuple(self.sizes))


@task(retries=1, retry_delay_seconds=2)
def render_chunk_task(chunk: RenderChunk) -> list[dict]:
    return render_chunk(chunk)


def _render_as_tasks(chunk_size: int):
    """A renderer for compose_batch that submits each chunk of banners as one task."""
    def render(pack, specs, out_dir, formats, workers=1, progress=None, **_):
        futures = [render_chunk_task.submit(RenderChunk(pack, tuple(part), str(out_dir), fmt))
                   for part in chunked(specs, 1, chunk_size) for fmt in formats[:1]]
        records, done = [], 0
        for future in futures:
            part = future.result()
            records.extend(part)
            done += len(part)
            if progress:
                progress(done, len(specs))
        return records
    return render


@flow(name="compose_batch")
def compose_batch_flow(params: ComposeParams) -> dict:
    """Validate the selection, render chunk tasks, then publish manifest, gallery and library records."""
    home, store = params.open()
    result = compose_batch(home, store.engine, params.selection(), params.out, formats=(params.format,),
                           max_n=params.max_n, seed=params.seed, render=_render_as_tasks(params.chunk_size))
    by_template: dict[str, int] = {}
    for c in result.creatives:
        by_template[c["template"]] = by_template.get(c["template"], 0) + 1
    summary = (f"# Batch {result.batch}\n\n{len(result.creatives)} banners, {len(result.rejected)} rejected, "
               f"from {result.combinations} combinations.\n\n" + "\n".join(f"- {k}: {v}" for k, v in sorted(by_template.items())))
    rows = [{"id": c["id"], "template": c["template"], "size": c["size"], "violations": len(c.get("violations", []))}
            for c in result.creatives[:500]]
    publish("compose-batch", summary, rows, {"gallery": Path(result.gallery), "manifest": Path(result.manifest)})
    return {"batch": result.batch, "manifest": result.manifest, "gallery": result.gallery,
            "creatives": len(result.creatives), "rejected": len(result.rejected)}


def compose_batch_on(params: ComposeParams) -> dict:
    """Run the flow on the configured task runner (local threads or the Dask cluster at dask_address)."""
    return compose_batch_flow.with_options(task_runner=task_runner(params.dask_address))(params)
