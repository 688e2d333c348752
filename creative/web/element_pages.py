"""The designer's pages: the element library (upload with a live tile per file, search, brand filter), an
element's page (rename, brand, where it is used, guarded removal) and its pictures.

Business steps are the library's use cases (creative.services.library); this module turns them into pages,
JSON for the upload script and messages in a web user's words.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, BinaryIO, Callable

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from creative.elements import IMAGE_KINDS, IMAGE_SUFFIXES, KINDS, Element
from creative.elements.validation import ACCEPTED_FORMATS_TEXT, MIN_SIDE
from creative.errors import ElementInUse, ElementNotFound, ElementRejected
from creative.services import Workspace
from creative.services.library import Uploaded, edit_element, find_elements, remove_element, upload_image, where_used
from creative.web.page_common import flash, page, render, require_user
from creative.web.security import checked_form, requires
from creative.web.uploads import in_decode_pool, safe_filename, staged_upload

PICTURES = ("thumb", "rgba", "cutout")
Highlighter = Callable[[str | None], list[tuple[str, bool]]]


def _ws(request: Request) -> Workspace:
    return request.app.state.ws


def _missing(code: str) -> HTTPException:
    return HTTPException(404, f"There is no element {code} in the library: it may have been removed. The element library lists every element there is.")


def highlighter(query: str) -> Highlighter:
    """Split a text into (part, matched) pieces for every word of the search, so a page can mark what matched."""
    words = sorted({w for w in query.split() if w}, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE) if words else None

    def split(text: str | None) -> list[tuple[str, bool]]:
        text = text or ""
        if pattern is None:
            return [(text, False)]
        parts, at = [], 0
        for m in pattern.finditer(text):
            parts += [(text[at:m.start()], False), (m.group(), True)]
            at = m.end()
        return [p for p in parts + [(text[at:], False)] if p[0]]

    return split


def _tile_html(request: Request, element: Element) -> str:
    """The library grid's tile, from the same macro the page uses, for the upload script to insert."""
    macro = request.app.state.templates.get_template("element_tile.html").module.tile
    return str(macro(element, highlighter("")))


# ---- the library ------------------------------------------------------------------------------------
@page
async def elements_page(request: Request) -> Response:
    params = request.query_params
    kind = params.get("kind") or None
    if kind is not None and kind not in KINDS:
        raise HTTPException(400, f"There is no kind {kind!r}; pick one of {', '.join(KINDS)}.")
    query, brand = params.get("q", "").strip()[:200], params.get("brand") or None
    ws = _ws(request)
    elements = await run_in_threadpool(find_elements, ws, query, kind=kind, brand=brand)
    brands = sorted({e.brand for e in await run_in_threadpool(ws.elements.list) if e.brand}, key=str.casefold)
    return render(request, "elements.html", {
        "elements": elements, "kind": kind, "kinds": KINDS, "image_kinds": IMAGE_KINDS, "q": query, "brand": brand, "brands": brands,
        "hl": highlighter(query), "formats": ACCEPTED_FORMATS_TEXT, "min_side": MIN_SIDE, "accept": ",".join(sorted(IMAGE_SUFFIXES)),
        "filtered": bool(query or kind or brand)})


@requires("elements:write")
async def upload_elements(request: Request) -> Response:
    """One or more files; each is checked and stored on its own and gets its own result (with its tile when new).

    `also_as_kind=1` stores bytes the library already holds as another kind: the designer asked for it."""
    require_user(request)
    form = await checked_form(request)
    kind = str(form.get("kind", ""))
    if kind not in IMAGE_KINDS:
        return JSONResponse({"error": f"choose what the files are: {', '.join(IMAGE_KINDS)}"}, status_code=400)
    brand = str(form.get("brand", "")).strip()[:200] or None
    also = str(form.get("also_as_kind", "")) == "1"
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
    if not files:
        return JSONResponse({"error": f"no files in the upload; drop {ACCEPTED_FORMATS_TEXT} files on the page"}, status_code=400)
    ws, root = _ws(request), request.app.state.home.root
    results = []
    for upload in files:
        name = safe_filename(upload.filename)
        result = await in_decode_pool(_upload_one, ws, root, name, upload.filename or name, upload.file, kind, brand, also)
        element = result.pop("element", None)
        if element is not None:
            result["tile"] = _tile_html(request, element)
        results.append(result)
    status = 200 if all(r["ok"] for r in results) else 422
    return JSONResponse({"results": results}, status_code=status)


def _upload_one(ws: Workspace, root: Path, name: str, original: str, data: BinaryIO, kind: str, brand: str | None, also: bool) -> dict[str, Any]:
    with staged_upload(root, name, data) as path:
        try:
            outcome = upload_image(ws, path, kind, brand=brand, tags={"source": "web"}, as_another_kind=also)
        except ElementRejected as exc:
            # the message names the temporary path; the user knows the file by its name
            return {"file": original, "stored_as": name, "ok": False, "error": str(exc).replace(str(path), name)}
    return {"file": original, "stored_as": name, "ok": True, **_outcome(original, kind, outcome)}


def _outcome(file: str, kind: str, outcome: Uploaded) -> dict[str, Any]:
    """What the upload list says about one stored (or held back) file."""
    same = outcome.same_bytes
    if outcome.element is None:
        assert same is not None
        return {"code": same.code, "created": False, "held": True, "other_kind": same.kind, "notes": [],
                "message": f"{file}: already in the library as {same.code}, a {same.kind} named “{same.name}”; nothing new was stored",
                "offer": f"Add it as a {kind} too", "url": f"/elements/{same.code}"}
    e = outcome.element
    if not outcome.created:
        message = f"{file}: already in the library as {e.code} (“{e.name}”); nothing new was stored"
    else:
        message = f"{file}: stored as {e.code}" + (f", also kept as {same.code} ({same.kind})" if same else "")
        if outcome.notes:
            message += " — " + "; ".join(outcome.notes)
    return {"code": e.code, "created": outcome.created, "held": False, "notes": list(outcome.notes), "message": message,
            "url": f"/elements/{e.code}", "element": e if outcome.created else None}


# ---- one element ------------------------------------------------------------------------------------
@page
async def element_page(request: Request) -> Response:
    code = request.path_params["code"]
    try:
        use = await run_in_threadpool(where_used, _ws(request), code)
    except ElementNotFound:
        raise _missing(code) from None
    e = use.element
    parts = [f"{len(use.products)} catalog product(s)" if use.products else "",
             f"{sum(b.creatives for b in use.batches)} banner(s) in {len(use.batches)} batch(es)" if use.batches else "",
             f"{len(use.experiments)} ended experiment(s)" if use.experiments else ""]
    confirm = f"Remove {e.code} “{e.name}”?" + (f" It is used by {', '.join(p for p in parts if p)}; catalog rows will show it as removed and "
                                             "rendered banners keep their pictures." if use.used else "")
    return render(request, "element.html", {"e": e, "use": use, "palette": e.attributes.get("palette", []), "confirm": confirm})


@requires("elements:write")
async def edit_element_form(request: Request) -> Response:
    """Rename an element and set its brand (a logo goes only on its brand's products)."""
    require_user(request)
    form = await checked_form(request)
    code = request.path_params["code"]
    name, brand = str(form.get("name", "")), str(form.get("brand", ""))
    try:
        e = await run_in_threadpool(edit_element, _ws(request), code, name, brand)
        flash(request, f"saved: {e.code} is “{e.name}”" + (f", brand {e.brand}" if e.brand else ", no brand"))
    except ElementNotFound:
        raise _missing(code) from None
    except ElementRejected as exc:
        flash(request, str(exc), "error")
    return RedirectResponse(f"/elements/{code}", status_code=303)


@requires("elements:write")
async def delete_element(request: Request) -> Response:
    require_user(request)
    await checked_form(request)
    code = request.path_params["code"]
    try:
        use = await run_in_threadpool(remove_element, _ws(request), code)
    except ElementNotFound:
        flash(request, f"{code} was already removed")
        return RedirectResponse("/elements", status_code=303)
    except ElementInUse as exc:
        flash(request, str(exc), "error")
        return RedirectResponse(f"/elements/{code}", status_code=303)
    flash(request, f"removed {code} “{use.element.name}”" + (" (catalog rows that showed it now say so)" if use.products else ""))
    return RedirectResponse("/elements", status_code=303)


@page
async def element_file(request: Request) -> Response:
    which = request.path_params["which"]
    if which not in PICTURES:
        raise HTTPException(404, f"no such picture; use {', '.join(PICTURES)}")
    store = _ws(request).elements
    code = request.path_params["code"]
    try:
        element = store.get(code)
    except ElementNotFound:
        raise _missing(code) from None
    try:
        path = store.derived_path(element, which)
    except ElementNotFound as exc:  # no cut-out for this element
        raise HTTPException(404, str(exc)) from None
    if not path.is_file():
        raise HTTPException(404, f"{code} has no {which} picture")
    return FileResponse(path, media_type="image/png", headers={"cache-control": "private, max-age=3600"})


routes = [
    Route("/elements", elements_page),
    Route("/elements/upload", upload_elements, methods=["POST"]),
    Route("/elements/{code}", element_page),
    Route("/elements/{code}/edit", edit_element_form, methods=["POST"]),
    Route("/elements/{code}/delete", delete_element, methods=["POST"]),
    Route("/elements/{code}/{which}.png", element_file),
]
