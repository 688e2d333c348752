"""compose_batch: a selection of elements into banners (chunks are tasks), and optionally an experiment over them."""


from pathlib import Path

from prefect import flow, task
from pydantic import Field

from creative.compose import BatchSelection, RenderChunk, chunked, render_chunk
from creative.services import ExperimentPlan, launch_batch
from experiments.policies import DEFAULT_POLICY, POLICY_NAMES
from flows.common import FlowParams, publish, rename_run, run_logger, run_name
from flows.runners import task_runner

CHUNK_SIZE = 200  # banners per task: Prefect costs ~6 ms a task run, a chunk renders in ~0.5-1 s
POLICIES = f"^({'|'.join(POLICY_NAMES)})$"


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
    experiment_name: str | None = Field(default=None, max_length=200, description="start an experiment over the batch")
    policy: str = Field(default=DEFAULT_POLICY, pattern=POLICIES)
    policy_params: dict = {}  # e.g. {"min_exploration": 0.2}
    experiment_config: dict = {}  # experiments.model.ExperimentConfig fields, e.g. {"max_rounds": 20}

    def selection(self) -> BatchSelection:
        return BatchSelection(products=tuple(self.products), logos=tuple(self.logos), titles=tuple(self.titles),
                              models=tuple(self.models), backgrounds=tuple(self.backgrounds),
                              templates=tuple(self.templates), sizes=tuple(self.sizes))

    def experiment_plan(self) -> ExperimentPlan | None:
        if not self.experiment_name:
            return None
        return ExperimentPlan(self.experiment_name, self.policy, self.policy_params, self.experiment_config)


@task(retries=1, retry_delay_seconds=2)
def render_chunk_task(chunk: RenderChunk) -> list[dict]:
    return render_chunk(chunk)


def render_as_tasks(chunk_size: int = CHUNK_SIZE):
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


def _title(params: ComposeParams) -> str:
    """Before the batch has an id: what was asked for."""
    limit = f" · up to {params.max_n} banners" if params.max_n else ""
    return f"batch · {len(params.products)} products{limit} → {Path(params.out).name}"


@flow(name="compose_batch", flow_run_name=run_name(ComposeParams, _title, "batch"))
def compose_batch_flow(params: ComposeParams) -> dict:
    """Validate the selection, render chunk tasks, register the banners, start the experiment if asked."""
    launched = launch_batch(params.workspace(), params.selection(), params.out, experiment=params.experiment_plan(),
                            formats=(params.format,), max_n=params.max_n, seed=params.seed, render=render_as_tasks(params.chunk_size))
    result = launched.batch
    experiment = launched.experiment.experiment_id if launched.experiment else None
    rename_run(f"batch {result.batch} · {len(result.creatives)} banners" + (f" · {experiment}" if experiment else ""))
    log = run_logger()
    log.info("batch %s: %d banners from %d combinations, %d rejected; gallery %s", result.batch, len(result.creatives),
             result.combinations, len(result.rejected), result.gallery)
    if experiment:
        log.info("experiment %s started over %d banners", experiment, len(launched.experiment.arms))
    by_template: dict[str, int] = {}
    for c in result.creatives:
        by_template[c.template] = by_template.get(c.template, 0) + 1
    summary = (f"# Batch {result.batch}\n\n{len(result.creatives)} banners, {len(result.rejected)} rejected, "
               f"from {result.combinations} combinations.\n\n" + "\n".join(f"- {k}: {v}" for k, v in sorted(by_template.items())))
    if launched.experiment:
        summary += f"\n\nExperiment `{launched.experiment.experiment_id}` over {len(launched.experiment.arms)} banners."
    rows = [{"id": c.creative_id, "template": c.template, "size": c.size, "violations": len(c.violations)} for c in result.creatives[:500]]
    publish("compose-batch", summary, rows, {"gallery": Path(result.gallery), "manifest": Path(result.manifest)})
    return {"batch": result.batch, "manifest": result.manifest, "gallery": result.gallery,
            "creatives": len(result.creatives), "rejected": len(result.rejected),
            "experiment_id": launched.experiment.experiment_id if launched.experiment else None}


def compose_batch_on(params: ComposeParams) -> dict:
    """Run the flow on the configured task runner (local threads or the Dask cluster at dask_address)."""
    return compose_batch_flow.with_options(task_runner=task_runner(params.dask_address))(params)
