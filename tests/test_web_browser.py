"""The UI in a real browser: Playwright driving Debian's headless Chromium against a live server.

One journey per test, as a marketer would take it: log in, upload elements (one of them bad),
import a catalog with markup in a name, launch a small batch and see its gallery, start an
experiment, serve traffic, run a round and see the charts update. Screenshots of the main pages go
to $WEB_SCREENSHOTS (default: the test's temporary directory).
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import expect
from support.browser import BROWSER_MARKS, log_in
from support.web import ADMIN, make_experiment, rendered_experiment, serve_rounds

from creative.services import Workspace
from creative.services.rounds import experiment_report
from experiments.summary import CREATIVE_CHOICES

pytestmark = BROWSER_MARKS


def png(path: Path, size=(120, 90), colour=(30, 160, 90)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


def test_login_shows_an_error_then_lets_the_user_in(page, shots):
    log_in(page, password="not the password", wait=False)
    assert page.locator("#login-error").inner_text() == "wrong user name or password"
    page.screenshot(path=str(shots / "login.png"))
    log_in(page)
    page.wait_for_url(re.compile(r"/elements$"))
    assert page.locator("header .who").inner_text() == ADMIN


def test_upload_many_files_by_drag_and_drop_with_a_result_per_file(page, tmp_path, shots):
    log_in(page)
    page.select_option("#upload-kind", "product")
    good = [png(tmp_path / "kettle.png", colour=(220, 60, 60)), png(tmp_path / "lamp.png", colour=(60, 60, 220))]
    bad = tmp_path / "readme.png"
    bad.write_text("this is a text file with an image name")
    # a real drop event carrying File objects, as a desktop drag would
    files = [{"name": p.name, "bytes": list(p.read_bytes())} for p in good + [bad]]
    page.evaluate("""(files) => {
        const dt = new DataTransfer();
        for (const f of files) dt.items.add(new File([new Uint8Array(f.bytes)], f.name, {type: "image/png"}));
        const zone = document.getElementById("drop-zone");
        zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: dt, bubbles: true, cancelable: true}));
        zone.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
    }""", files)
    expect(page.locator("#upload-results")).to_have_attribute("data-done", "3")
    items = page.locator("#upload-results li")
    assert items.count() == 3
    assert items.nth(0).get_attribute("class") == "ok" and "stored as P-" in items.nth(0).inner_text()
    assert items.nth(1).get_attribute("class") == "ok"
    assert items.nth(2).get_attribute("class") == "bad"
    assert items.nth(2).inner_text().startswith("readme.png: not an image")
    page.screenshot(path=str(shots / "elements-upload.png"), full_page=True)
    # the file input path (no drag and drop) reports a bad file the same way
    tiny = png(tmp_path / "speck.png", size=(5, 5))
    page.set_input_files("#file-input", [str(tiny)])
    expect(page.locator("#upload-results")).to_have_attribute("data-done", "4")
    assert "too small" in items.nth(3).inner_text()
    page.goto("/elements?kind=product")
    assert page.locator("#element-grid li").filter(has_text="kettle").count() == 1
    page.locator("#element-grid li").filter(has_text="kettle").locator("a").click()
    assert page.locator("#palette .swatch").count() >= 1
    page.screenshot(path=str(shots / "element-detail.png"), full_page=True)


def test_markup_in_an_imported_product_name_is_shown_as_text(page, tmp_path, shots):
    log_in(page, start="/catalog")
    catalog = tmp_path / "catalog.csv"
    catalog.write_text("product_id,name,brand,category,price,language,landing_url\n"
                       "XSS-9,<script>alert('pwned')</script><img src=x onerror=alert(2)>Mug,Brand,kitchen,12,en,https://shop.example.com/mug\n")
    page.set_input_files("#catalog-form input[type=file]", str(catalog))
    page.click("#catalog-form button[type=submit]")
    page.wait_for_selector("#flash")
    assert "1 added" in page.locator("#flash").inner_text()
    cell = page.locator("#products td.pname").filter(has_text="Mug")
    assert cell.inner_text() == "<script>alert('pwned')</script><img src=x onerror=alert(2)>Mug"
    assert page.dialogs == []
    page.screenshot(path=str(shots / "catalog.png"), full_page=True)


def test_launch_a_batch_see_the_gallery_start_an_experiment_and_watch_a_round(page, live, shots):
    home, server = live
    log_in(page, start="/batches")
    products = page.locator("input[name=products]")
    products.nth(0).check()
    products.nth(1).check()
    page.locator("input[name=logos]").nth(0).check()
    page.locator("input[name=templates][value=hero]").check()
    page.fill("input[name=max_creatives]", "4")
    page.screenshot(path=str(shots / "batch-launch.png"), full_page=True)
    page.click("#launch")
    page.wait_for_url(re.compile(r"/batches/[0-9a-f]+$"))
    page.wait_for_selector("#gallery li.banner > img")  # the job page polls, then opens the batch under its own id
    assert page.locator("#job-status").inner_text() == "done"
    n_banners = page.locator("#gallery li.banner > img").count()
    assert n_banners >= 2
    for i in range(n_banners):
        expect(page.locator("#gallery li.banner > img").nth(i)).to_have_js_property("naturalWidth", 300)
    page.screenshot(path=str(shots / "batch-gallery.png"), full_page=True)

    page.click("#start-experiment")
    page.wait_for_url(re.compile(r"/experiments/exp-[0-9a-f]+$"))
    experiment_id = page.url.rsplit("/", 1)[1]
    assert page.locator("#chart-traffic").get_attribute("data-points") == "0"

    with httpx.Client(base_url=server.url) as ads:
        served = [ads.get("/v1/serve", params={"experiment": experiment_id, "user": f"u{i}", "size": "300x250"}).json() for i in range(60)]
        for s in served[:9]:
            assert ads.get("/v1/click", params={"token": s["token"]}).status_code == 302
    page.click("#run-round")
    page.wait_for_selector("#flash")
    assert page.locator("#flash").inner_text().startswith("round 1 closed")
    assert page.locator("#exp-round").inner_text() == "2"
    points = int(page.locator("#chart-traffic").get_attribute("data-points"))
    assert points == n_banners  # round 1's share of impressions, per creative
    assert int(page.locator("#chart-ctr").get_attribute("data-points")) == n_banners
    assert page.locator("#rounds tbody tr").first.locator("td").nth(1).text_content() == "60"
    assert sum(int(t) for t in page.locator("#arms tbody tr td:nth-child(3)").all_inner_texts()) == 9
    page.screenshot(path=str(shots / "experiment-detail.png"), full_page=True)

    page.click("#run-round")
    page.wait_for_selector("#flash")
    assert int(page.locator("#chart-ctr").get_attribute("data-points")) > n_banners  # the chart grew (an empty round: no traffic share)

    page.accept_dialogs = True
    page.click("#stop-experiment")
    expect(page.locator("#flash")).to_contain_text("stopped: no more rounds")
    assert page.locator("#exp-status").inner_text() == "stopped"
    expect(page.locator("#run-round")).to_be_disabled()

    page.goto("/experiments")
    assert page.locator("#experiments").filter(has_text=experiment_id).count() == 1
    page.screenshot(path=str(shots / "experiments.png"), full_page=True)


def test_schedule_rounds_and_see_user_tags_and_copy_pages(page, live, shots):
    home, _ = live
    experiment_id = make_experiment(home, name="tags page")
    log_in(page, start=f"/experiments/{experiment_id}")
    page.fill("input[name=every_minutes]", "15")
    page.click("#schedule")
    page.wait_for_selector("#flash")
    assert "every 15 minutes" in page.locator("#flash").inner_text()
    page.click("#run-round")
    expect(page.locator("#flash")).to_contain_text("round 1 closed")
    page.goto(f"/tags?experiment={experiment_id}")
    assert page.locator("#tags-round").inner_text().startswith("Computed after round 1 closed")
    assert page.locator("#export").get_attribute("href") == f"/tags/export.csv?experiment={experiment_id}"
    page.screenshot(path=str(shots / "tags.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#export")
    assert download.value.suggested_filename == f"tags-{experiment_id}-round-1.csv"
    assert page.console_errors == []


def test_generate_titles_review_them_and_approve_one(page, shots):
    log_in(page, start="/copy")
    page.select_option("#copy-form select[name=product]", "SKU-1001")
    page.select_option("#copy-form select[name=engine]", "grammar")
    page.click("#generate")
    batch = page.locator(".copy-run").first
    expect(batch).to_have_attribute("data-status", "done")  # the page polls the run and swaps the review in when it ends
    accepted = batch.locator("tr.accepted")
    assert accepted.count() >= 1
    title = accepted.first.locator("td.text").inner_text()
    accepted.first.locator("button.approve").click()
    expect(page.locator("#flash")).to_contain_text("approved as T-")
    assert page.locator("#titles").filter(has_text=title).count() == 1
    page.screenshot(path=str(shots / "copy.png"))
    page.locator(".copy-run").first.locator("tr.approved button.reject").first.click()
    expect(page.locator("#flash")).to_contain_text("rejected")
    assert page.locator("#titles").filter(has_text=title).count() == 0


@pytest.fixture(scope="module")
def results(live):
    """A 40-creative, two-size experiment over real rendered banners after a few rounds of traffic; one banner clicks best."""
    home, _ = live
    experiment_id = rendered_experiment(home, n=40, sizes=("300x250", "728x90"), name="spring sale")
    best = Workspace.of(home).experiments.arms(experiment_id)[5].id
    serve_rounds(home, experiment_id, lambda creative: 0.05 if creative == best else 0.02, rounds=5, per_round=6000)
    return experiment_id


VERDICT = re.compile(r"^(Banner [A-Z]+ \(.+\) beats the others: [+-][\d.]+% clicks vs the next best, Banner [A-Z]+ \(95% interval .+\); promote it\."
                     r"|No winner yet: Banner [A-Z]+ \(.+\) leads with [+-][\d.]+% clicks vs the next best, Banner [A-Z]+ \(95% interval .+\); .+\.)$")


def load_thumbnails(page) -> None:
    """Scroll each shown banner into view, as a reader would, and wait for it (they load lazily)."""
    thumbs = page.locator("img.thumb")
    for i in range(thumbs.count()):
        if thumbs.nth(i).is_visible():
            thumbs.nth(i).scroll_into_view_if_needed()
            expect(thumbs.nth(i)).to_have_js_property("complete", True)
            assert thumbs.nth(i).evaluate("img => img.naturalWidth") > 0


def test_results_page_shows_thumbnails_lift_p_best_and_a_verdict(page, results, shots):
    log_in(page, start=f"/experiments/{results}")
    assert VERDICT.match(page.locator("#verdict").inner_text())
    rows = page.locator("#arms tbody tr")
    assert rows.count() == 40
    assert page.locator("#arms tbody tr:visible").count() == 10  # the ten best first
    top = rows.first
    assert re.fullmatch(r"\d+%|<1%", top.locator("td.pbest").inner_text())
    assert re.match(r"[+-][\d.]+%", top.locator("td.lift").inner_text())  # the leader against the control
    assert page.locator("#arms td.lift", has_text="reference").count() == 1
    legends = page.locator("#chart-ctr .legend").all_text_contents()
    assert len(legends) == 9 and legends[-1] == "others (32)" and not any("…" in t for t in legends)
    assert page.locator(".placement").count() == 2
    assert all(VERDICT.match(t) or t.startswith("No winner yet") for t in page.locator(".placement .verdict").all_inner_texts())
    choices = [t.split("\n")[0] for t in page.locator("#effects tbody td:first-child strong").all_inner_texts()]
    assert choices and set(choices) <= set(CREATIVE_CHOICES.values())
    assert "title_px" not in page.content() and "log-odds" not in page.content()
    load_thumbnails(page)
    page.screenshot(path=str(shots / "results-page.png"), full_page=True)

    page.click("#show-all")
    expect(page.locator("#arms tbody tr:visible")).to_have_count(40)
    load_thumbnails(page)  # every creative beside its banner

    page.set_viewport_size({"width": 375, "height": 812})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing spills sideways
    assert page.locator("#verdict").is_visible()
    load_thumbnails(page)
    page.screenshot(path=str(shots / "results-page-mobile.png"), full_page=True)

    # compared with the current best, the leader becomes the reference
    page.set_viewport_size({"width": 1280, "height": 900})
    page.select_option("#compare-with", "best")
    page.click("form.compare button")
    expect(page.locator("#arms tbody tr").first.locator("td.lift")).to_have_text("reference")


def test_the_report_says_what_the_page_says_with_thumbnails(page, live, results, shots, tmp_path):
    home, _ = live
    log_in(page, start=f"/experiments/{results}")
    verdict = page.locator("#verdict").inner_text()
    lifts = page.locator("#arms td.lift").all_inner_texts()
    report = experiment_report(Workspace.of(home), results, tmp_path / "report")
    page.goto(report.as_uri())
    assert page.locator("#verdict").inner_text() == verdict
    assert [t.replace("\n", " ") for t in page.locator("#arms td.l:not(.creative)").all_inner_texts()] == [t.replace("\n", " ") for t in lifts]
    thumbs = page.locator("#arms img.thumb")
    assert thumbs.count() == 40
    assert all(w > 0 for w in thumbs.evaluate_all("imgs => imgs.map(i => i.naturalWidth)"))
    assert page.locator("img.chart").count() >= 3  # CTR, traffic share, creative choices
    page.screenshot(path=str(shots / "experiment-report.png"), full_page=True)


def test_tag_thresholds_and_the_lifecycle_from_the_experiment_page(page, live):
    home, _ = live
    experiment_id = make_experiment(home, name="lifecycle")
    serve_rounds(home, experiment_id, lambda creative: 0.1, rounds=1, per_round=1500, users=20)
    log_in(page, start=f"/experiments/{experiment_id}")
    page.fill("input[name=tag_min_impressions]", "3")
    page.fill("input[name=tag_min_probability]", "0.6")
    page.click("#save-settings")
    expect(page.locator("#flash")).to_contain_text("tag thresholds saved: at least 3 impressions and probability 0.6")
    assert page.locator("input[name=tag_min_impressions]").input_value() == "3"
    page.fill("input[name=tag_min_probability]", "1.5")
    page.click("#save-settings")  # the browser refuses it before it is sent
    assert page.locator("input[name=tag_min_probability]").evaluate("e => e.validity.valid") is False

    page.goto(f"/tags?experiment={experiment_id}")
    assert page.locator("#tag-thresholds").inner_text().startswith("A tag needs at least 3 impressions of a choice and a probability of 0.6")
    shown = int(page.locator("#tag-count").inner_text())
    with page.expect_download() as download:
        page.click("#export")
    lines = Path(download.value.path()).read_text().splitlines()
    assert len(lines) - 1 == shown  # the export is the page's tags, header aside

    page.goto(f"/experiments/{experiment_id}")
    page.click("#pause-experiment")
    expect(page.locator("#exp-status")).to_have_text("paused")
    expect(page.locator("#run-round")).to_be_disabled()
    page.click("#resume-experiment")
    expect(page.locator("#exp-status")).to_have_text("running")
    page.click("#stop-experiment")  # the confirmation is dismissed: nothing happens
    expect(page.locator("#exp-status")).to_have_text("running")
    page.accept_dialogs = True
    page.click("#stop-experiment")
    expect(page.locator("#exp-status")).to_have_text("stopped")
    page.click("#archive-experiment")
    expect(page.locator("#exp-status")).to_have_text("archived")
    assert page.locator("#pause-experiment, #resume-experiment, #stop-experiment, #archive-experiment").count() == 0
