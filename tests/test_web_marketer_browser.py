"""The marketer's journey in a real browser (Playwright + Debian's headless Chromium against a live server).

Copy review: bulk approve, un-approve and an inline edit happen in place (the page is never reloaded:
a marker set on `window` and the scroll position survive). Batches: the form's live count is the
number of banners the launch renders, the zip holds exactly the gallery's banners, the gallery filters
and per-banner reviews work in place. Screenshots go to $WEB_SCREENSHOTS (default: a temporary directory)
as web-copy.png, web-batch-launch.png and web-batch-gallery.png.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect
from support.browser import BROWSER_MARKS, log_in, mark_window, open_page, same_document

from creative.catalog import list_products
from creative.services import Workspace

pytestmark = BROWSER_MARKS
PER_STYLE = 3


@pytest.fixture
def page(browser, live):
    context, pg = open_page(browser, live[1].url, accept_downloads=True)
    yield pg
    context.close()


def test_copy_review_bulk_approve_unapprove_and_edit_without_reloading(page, live, shots):
    log_in(page, "/copy")
    page.select_option("#copy-product", "SKU-1001")
    page.select_option("#copy-engine", "grammar")
    page.fill("#copy-n", str(PER_STYLE))
    mark_window(page)
    page.click("#generate")
    run = page.locator(".copy-run").first
    expect(run).to_have_attribute("data-status", "done")  # polled and swapped in, not reloaded
    assert same_document(page)

    # the requested count per style, accepted first; the rest folded away
    groups = run.locator(".style-group")
    assert groups.count() == 4
    for i in range(groups.count()):
        shown = groups.nth(i).locator(":scope > table tbody tr")
        assert shown.count() == PER_STYLE
        assert shown.evaluate_all("rows => rows.every(r => r.classList.contains('accepted'))")
        for details in groups.nth(i).locator("details").all():
            assert not details.evaluate("d => d.open")
    assert run.locator("details.rejected").count() >= 1

    # scrolled down to the last style: bulk approve keeps the reader where they were
    run.locator(".style-group").last.scroll_into_view_if_needed()
    page.mouse.wheel(0, 200)
    page.wait_for_function("window.scrollY > 0")
    scrolled = page.evaluate("window.scrollY")
    texts = run.locator(".style-group > table tbody td.text").all_inner_texts()
    run.locator("input.select-all").check()
    run.locator("button.approve-selected").click()
    expect(page.locator("#flash")).to_have_text(f"{4 * PER_STYLE} titles approved")
    assert same_document(page)
    assert abs(page.evaluate("window.scrollY") - scrolled) < 5
    library = page.locator("#titles tbody")
    for text in texts:
        expect(library.locator("td", has_text=re.compile(f"^{re.escape(text)}$"))).to_have_count(1)
    page.screenshot(path=str(shots / "web-copy.png"))

    # un-approve one: it leaves the library and can be approved again
    row = page.locator(".copy-run").first.locator("tr.approved").first
    title, cid = row.locator("td.text").inner_text(), row.get_attribute("data-id")
    row = page.locator(f".copy-run >> nth=0 >> tr[data-id='{cid}']")
    row.locator("button.unapprove").click()
    expect(page.locator("#flash")).to_contain_text("back to review, out of the library")
    expect(library.locator("td", has_text=re.compile(f"^{re.escape(title)}$"))).to_have_count(0)
    expect(row).to_have_class(re.compile(r"\bpending\b"))
    expect(row.locator("button.approve")).to_have_count(1)

    # an inline edit runs the guardrails again: an invented discount and a banned claim are refused with reasons
    row.locator("button.edit").click()
    row.locator("input.edit-text").fill("Best deal, 90% off")
    row.locator("button.save-edit").click()
    expect(page.locator("#flash")).to_contain_text("fails the guardrails")
    edited = row
    expect(edited.locator("td.text")).to_have_text("Best deal, 90% off")
    expect(edited).to_have_class(re.compile(r"\brejected\b"))
    expect(edited.locator("td.guard")).to_contain_text("banned claim")
    expect(edited.locator("td.guard")).to_contain_text(f"edited from “{title}”")
    assert same_document(page)

    # on a phone the review is a column of small cards: nothing scrolls sideways, every action is on screen
    page.set_viewport_size({"width": 375, "height": 812})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    buttons = page.locator(".copy-run >> nth=0 >> .style-group > table button:visible")
    assert buttons.count() > 0
    assert all(box["x"] >= 0 and box["x"] + box["width"] <= 375 for box in (b.bounding_box() for b in buttons.all()))
    assert page.console_errors == []


def test_batch_form_counts_what_the_launch_renders_and_the_zip_holds_it(page, live, shots, tmp_path):
    home, _ = live
    log_in(page, "/batches")
    names = {p.name for p in list_products(Workspace.of(home).engine)}
    products = page.locator("#pick-products label.pick")
    assert products.locator(".choice-label").first.inner_text() in names  # the catalog's name, not a file name
    assert page.locator("#pick-templates svg rect").count() > 0  # each template has a preview

    count = page.locator("#banner-count")
    mark_window(page)
    products.nth(0).locator("input").check()
    expect(count).to_have_attribute("data-state", "ok")
    page.locator("input[name=templates][value=hero]").check()
    expect(count).to_have_attribute("data-banners", "1")
    products.nth(1).locator("input").check()
    page.locator("input[name=templates][value=minimal]").check()
    page.locator("input[name=sizes][value='728x90']").check()
    expect(count).to_have_attribute("data-banners", "8")  # 2 products x 2 templates x 2 sizes
    expect(count).to_have_text("8 banners")
    page.fill("#max-creatives", "5")
    expect(count).to_have_text("5 banners (a sample of 8 combinations)")
    assert same_document(page)
    page.screenshot(path=str(shots / "web-batch-launch.png"), full_page=True)
    promised = int(count.get_attribute("data-banners"))

    page.click("#launch")
    page.wait_for_url(re.compile(r"/batches/\d{8}T\d{6}-[0-9a-f]{6}$"))  # the batch's own id, once rendered
    batch = page.locator("#batch-id").inner_text()
    assert page.url.endswith(f"/batches/{batch}")
    tiles = page.locator("#gallery li.banner")
    not_published = page.locator("ul.layout-rejected li, ul.refused li").count()  # the layout checks', the quality gate's
    assert tiles.count() + not_published == promised
    assert page.locator("#static-gallery").get_attribute("href") == f"/batches/{batch}/files/index.html"

    with page.expect_download() as download:
        page.click("#download-zip")
    assert download.value.suggested_filename == f"batch-{batch}.zip"
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    files = {Path(src).name for src in tiles.locator(":scope > img").evaluate_all("imgs => imgs.map(i => i.getAttribute('src'))")}
    assert {n for n in archive.namelist() if n != "manifest.json"} == files
    assert "manifest.json" in archive.namelist()


def test_gallery_filters_and_per_banner_review_in_place(page, live, shots):
    home, _ = live
    log_in(page, "/batches")
    page.locator("#pick-products input").nth(0).check()
    page.locator("#pick-products input").nth(1).check()
    page.locator("#pick-logos input").nth(0).check()
    page.locator("input[name=sizes][value='728x90']").check()
    expect(page.locator("#banner-count")).to_have_attribute("data-state", "ok")
    page.fill("#max-creatives", "40")
    page.click("#launch")
    page.wait_for_url(re.compile(r"/batches/\d{8}T\d{6}-[0-9a-f]{6}$"))
    tiles = page.locator("#gallery li.banner")
    total = tiles.count()
    assert total >= 4
    first = tiles.first
    for field in ("title", "product", "brand", "warnings"):
        assert first.locator(f"dd.{field}").inner_text().strip()
    mark_window(page)

    templates = sorted(set(tiles.evaluate_all("ts => ts.map(t => t.dataset.template)")))
    assert len(templates) >= 2
    page.select_option("#gallery-filters select[name=template]", templates[0])
    want = tiles.evaluate_all(f"ts => ts.filter(t => t.dataset.template === {templates[0]!r}).length")
    expect(page.locator("#gallery li.banner:visible")).to_have_count(want)
    expect(page.locator("#gallery-shown")).to_have_text(str(want))
    page.select_option("#gallery-filters select[name=size]", "728x90")
    both = tiles.evaluate_all(f"ts => ts.filter(t => t.dataset.template === {templates[0]!r} && t.dataset.size === '728x90').length")
    expect(page.locator("#gallery li.banner:visible")).to_have_count(both)
    page.click("#gallery-filters button[type=reset]")
    expect(page.locator("#gallery li.banner:visible")).to_have_count(total)

    product = tiles.first.get_attribute("data-product")
    page.select_option("#gallery-filters select[name=product]", product)
    of_product = tiles.evaluate_all(f"ts => ts.filter(t => t.dataset.product === {product!r}).length")
    expect(page.locator("#gallery li.banner:visible")).to_have_count(of_product)
    page.click("#gallery-filters button[type=reset]")

    warned = tiles.evaluate_all("ts => ts.filter(t => t.dataset.warnings === 'yes').length")
    page.select_option("#gallery-filters select[name=warnings]", "no")
    expect(page.locator("#gallery li.banner:visible")).to_have_count(total - warned)
    page.click("#gallery-filters button[type=reset]")

    # approve one banner, reject another: stored, shown in place, filterable, and kept after a reload
    tiles.nth(0).locator("button.approve").click()
    expect(tiles.nth(0)).to_have_attribute("data-review", "approved")
    tiles.nth(1).locator("button.reject").click()
    expect(tiles.nth(1)).to_have_attribute("data-review", "rejected")
    assert same_document(page)
    page.select_option("#gallery-filters select[name=review]", "approved")
    expect(page.locator("#gallery li.banner:visible")).to_have_count(1)
    page.select_option("#gallery-filters select[name=review]", "")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / "web-batch-gallery.png"), full_page=False)
    page.reload()
    expect(page.locator("#gallery li.banner").nth(0)).to_have_attribute("data-review", "approved")
    expect(page.locator("#gallery li.banner").nth(1).locator(".review-state")).to_have_text("rejected")

    # the rejected banner stays out of the experiment started from the batch
    page.click("#start-experiment")
    page.wait_for_url(re.compile(r"/experiments/exp-[0-9a-f]+$"))
    expect(page.locator("#flash")).to_contain_text("1 rejected banner left out")
    assert page.console_errors == []
