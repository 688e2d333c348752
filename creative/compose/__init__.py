"""Banner composition: draw solved layouts with Pillow, fast, and publish a reviewed batch.

Public API (plain data in, plain data out; the CLI, flows and the web front call these):

    from creative.compose import BatchSelection, compose_batch
    result = compose_batch(home, engine, BatchSelection(products=("P-1a2b3c",), logos=("L-...",),
                           titles=(), templates=("all",), sizes=("all",)), out_dir="out/batch1",
                           formats=("jpeg",), max_n=None, seed=0, workers=None, progress=None)
    result.creatives, result.rejected, result.manifest, result.gallery

- `compose_batch` checks the selection (unknown codes, sizes, templates raise before anything is
  written), enumerates combinations (or a seeded sample of `max_n`), renders them on `workers`
  processes, writes `manifest.json` and the `index.html` gallery into a staging directory, records
  each creative in the `creatives` table, then renames the directory into place.
- For orchestration that wants one task per chunk: `resolve_selection` + `enumerate_specs` give the
  `ElementPack` and `CreativeSpec`s; `chunked(specs, workers)` splits them; `render_chunk(RenderChunk(
  pack, specs, out_dir, format))` renders one chunk and returns its manifest records;
  `creative.creatives.register(engine, creatives)` and `write_gallery(path, manifest)` finish.
- A creative's id is its template, size and element codes joined in a fixed order
  (`CreativeSpec.creative_id`), so identical combinations collapse to one banner.
"""

from creative.compose.batch import chunked, compose_batch, manifest_record, render_chunk, render_many, render_specs
from creative.compose.errors import CompositionError
from creative.compose.gallery import write_gallery
from creative.compose.render import Rendered, Renderer, encode
from creative.compose.selection import Resolved, enumerate_specs, resolve_selection, split_codes
from creative.compose.spec import FORMATS, BatchResult, BatchSelection, CreativeSpec, ElementInfo, ElementPack, RenderChunk

__all__ = [
    "FORMATS", "BatchResult", "BatchSelection", "CompositionError", "CreativeSpec", "ElementInfo", "ElementPack",
    "RenderChunk", "Rendered", "Renderer", "Resolved", "chunked", "compose_batch", "encode",
    "enumerate_specs", "manifest_record", "render_chunk", "render_many", "render_specs",
    "resolve_selection", "split_codes", "write_gallery",
]
