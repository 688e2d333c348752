"""Round reports over HTTP: GET /experiments/{experiment}/rounds/{n}/report/ (and the plots and thumbnails beside it).

Each closed round's report is kept in its own folder of the home (creative.services.reports), so this URL
is stable: a link a flow or the CLI printed after round 12 opens round 12's report, for any logged-in user,
where a `file://` link would be refused by the browser. Ids are checked and files confined to that folder.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from creative.services.reports import ReportNotFound, report_file, report_path
from creative.web.page_common import page

# a report folder holds its page, PNG plots, JPEG thumbnails and the tag exports
SERVED_TYPES = {".html": "text/html; charset=utf-8", ".png": "image/png", ".jpg": "image/jpeg", ".csv": "text/csv; charset=utf-8",
                ".json": "application/json"}


def _round(request: Request) -> tuple[str, int]:
    return request.path_params["experiment"], request.path_params["round_no"]


@page
async def report_redirect(request: Request) -> Response:
    """Without the trailing slash the page's relative plot links would miss its folder."""
    experiment_id, round_no = _round(request)
    return RedirectResponse(report_path(experiment_id, round_no), status_code=308)


@page
async def report_asset(request: Request) -> Response:
    experiment_id, round_no = _round(request)
    relative = request.path_params.get("file") or "index.html"
    try:
        path = report_file(request.app.state.home, experiment_id, round_no, relative)
    except ReportNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    media = SERVED_TYPES.get(path.suffix.lower())
    if media is None:
        raise HTTPException(404, f"{relative!r} is not a file a report shows")
    return FileResponse(path, media_type=media, headers={"cache-control": "private, max-age=300"})


routes = [
    Route("/experiments/{experiment}/rounds/{round_no:int}/report", report_redirect),
    Route("/experiments/{experiment}/rounds/{round_no:int}/report/", report_asset),
    Route("/experiments/{experiment}/rounds/{round_no:int}/report/{file:path}", report_asset),
]
