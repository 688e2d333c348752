"""The designer's journey in a real browser (Debian's headless Chromium against a live server), and every
page at a phone's width.

Upload -> the tile appears without a reload; the same bytes again are named ("already in the library as
P-…") and can be added as another kind on purpose; a bad file's message lists every accepted format;
search marks what matched; removing an element a running experiment uses is refused with where it is
used, and after it is removed no link leads to a missing page; at 375 px no page scrolls sideways, the
menu stays on its dark bar and every control has a label. Screenshots go to $WEB_SCREENSHOTS.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import expect
from support.browser import BROWSER_MARKS, log_in, open_page
from support.web import make_experiment

from creative.catalog import list_products
from creative.elements.validation import ACCEPTED_FORMATS_TEXT
from creative.services import Workspace, stop_experiment

pytestmark = BROWSER_MARKS
PHONE = {"width": 375, "height": 812}


@pytest.fixture
def phone(browser, live):
    context, pg = open_page(browser, live[1].url, PHONE)
    yield pg
    context.close()


def png(path: Path, colour, size=(160, 120)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


def upload(page, *paths: Path, kind: str = "product", brand: str = "") -> None:
    """Pick files with the file input, as a user without drag and drop would, and wait for every result."""
    results = page.locator("#upload-results")
    done = int(results.get_attribute("data-done") or 0)
    page.select_option("#upload-kind", kind)
    page.fill("#upload-brand", brand)
    page.set_input_files("#file-input", [str(p) for p in paths])
    expect(results).to_have_attribute("data-done", str(done + len(paths)))


def test_an_upload_shows_its_tile_at_once_with_its_brand_and_search_marks_matches(page, live, tmp_path, shots):
    log_in(page)
    page.evaluate("window.notReloaded = true")
    tiles_before = page.locator("#element-grid li").count()
    upload(page, png(tmp_path / "copper-kettle.png", (190, 90, 40)), brand="Northwind")
    line = page.locator("#upload-results li").last
    assert line.get_attribute("class") == "ok" and re.match(r"copper-kettle\.png: stored as P-[0-9a-f]{6}", line.inner_text())
    code = line.get_attribute("data-code")
    tile = page.locator(f"#tile-{code}")
    expect(tile).to_be_visible()
    assert "copper-kettle" in tile.inner_text() and "Northwind" in tile.locator(".brand").inner_text()
    expect(tile.locator("img")).to_have_js_property("complete", True)
    assert tile.locator("img").evaluate("i => i.naturalWidth") > 0
    assert page.locator("#element-grid li").count() == tiles_before + 1
    assert page.evaluate("window.notReloaded") is True  # the same page: no reload happened
    page.screenshot(path=str(shots / "web-elements-upload.png"), full_page=True)

    page.fill("#search-q", "KETTLE")  # the grid follows the typing, no button, no reload
    expect(page.locator("#element-grid li")).to_have_count(1)
    assert page.locator(f"#tile-{code} .name mark").inner_text() == "kettle"
    assert page.evaluate("window.notReloaded") is True and page.url.endswith("/elements?q=KETTLE")
    page.select_option("#search-brand", "Northwind")
    page.fill("#search-q", "")
    page.click("#search-form button[type=submit]")
    northwind = [e for e in Workspace.of(live[0]).elements.list() if e.brand == "Northwind"]
    expect(page.locator("#element-grid li")).to_have_count(len(northwind))
    assert page.locator("#element-grid li .brand").all_inner_texts() == ["Northwind"] * len(northwind)
    assert page.console_errors == []


def test_the_same_bytes_are_named_and_added_as_another_kind_only_on_request(page, live, tmp_path):
    log_in(page)
    mark = png(tmp_path / "sunburst.png", (250, 200, 20))
    upload(page, mark, kind="product")
    first = page.locator("#upload-results li").last.get_attribute("data-code")
    upload(page, mark, kind="product")
    assert page.locator("#upload-results li").last.inner_text() == f"sunburst.png: already in the library as {first} (“sunburst”); nothing new was stored"

    upload(page, mark, kind="logo")
    held = page.locator("#upload-results li").last
    assert held.get_attribute("class") == "held"
    assert held.inner_text().startswith(f"sunburst.png: already in the library as {first}, a product named “sunburst”; nothing new was stored")
    assert not [e for e in Workspace.of(live[0]).elements.list("logo") if e.name == "sunburst"]
    held.locator("button.add-anyway").click()  # "Add it as a logo too"
    expect(held).to_have_class("ok")
    logo = held.get_attribute("data-code")
    assert logo.startswith("L-") and f"also kept as {first} (product)" in held.inner_text()
    expect(page.locator(f"#tile-{logo}")).to_be_visible()


def test_a_file_that_is_not_an_image_is_refused_naming_every_accepted_format(page, tmp_path):
    log_in(page)
    notes = tmp_path / "notes.png"
    notes.write_text("meeting notes, not a picture")
    upload(page, notes)
    line = page.locator("#upload-results li").last
    assert line.get_attribute("class") == "bad"
    assert line.inner_text() == f"notes.png: not an image file we can read; upload a {ACCEPTED_FORMATS_TEXT} file"
    assert "Pillow" not in page.content()
    assert ACCEPTED_FORMATS_TEXT in page.locator("#upload-hint").inner_text()


def test_removing_an_element_a_running_experiment_uses_is_refused_then_leaves_no_dead_link(page, live, shots):
    home, server = live
    ws = Workspace.of(home)
    experiment_id = make_experiment(home, n=3, name="guarded delete")
    product = next(p for p in list_products(ws.engine) if p.images)
    code = product.images[0]
    log_in(page, start=f"/elements/{code}")
    assert product.name in page.locator("#used-products").inner_text()
    running = page.locator("#used-experiments li").filter(has_text="guarded delete")
    assert running.locator(".badge").inner_text() == "running"
    expect(page.locator("#remove-element")).to_be_disabled()
    assert "Stop it first" in page.locator("#remove-refused").inner_text()
    page.screenshot(path=str(shots / "web-element-detail.png"), full_page=True)

    # the server refuses too, whatever a page sends
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    refused = page.request.post(f"/elements/{code}/delete", form={"csrf": csrf})
    assert refused.ok and f"{code} is used by 1 experiment(s) still running" in refused.text()
    assert code in {e.code for e in ws.elements.list()}

    stop_experiment(ws, experiment_id)
    page.reload()
    page.accept_dialogs = True
    page.click("#remove-element")
    expect(page.locator("#flash")).to_contain_text(f"removed {code}")
    assert page.dialogs and page.dialogs[-1].startswith(f"Remove {code}") and "catalog product" in page.dialogs[-1]
    assert code not in {e.code for e in ws.elements.list()}

    page.goto("/catalog")
    row = page.locator(f"#product-{product.product_id}")
    assert f"{code} (removed)" in row.inner_text() and row.locator(f'a[href="/elements/{code}"]').count() == 0
    page.screenshot(path=str(shots / "web-catalog.png"), full_page=True)
    with httpx.Client(base_url=server.url, cookies={c["name"]: c["value"] for c in page.context.cookies()}) as client:
        for where in ("/catalog", f"/experiments/{experiment_id}", "/elements"):
            page.goto(where)
            links = {h for h in page.locator("a[href^='/'], img[src^='/']").evaluate_all(
                "els => els.map(e => e.getAttribute('href') || e.getAttribute('src'))") if not h.startswith("/logout")}
            dead = [h for h in links if client.get(h).status_code == 404]
            assert dead == [], f"{where} links to missing pages: {dead}"

    page.goto(f"/elements/{code}")  # an old bookmark: a page for a person, not a command line
    assert page.locator("#error h1").inner_text().startswith("Not found")
    message = page.locator("#error-message").inner_text()
    assert f"no element {code}" in message and "`" not in message and "creative " not in message
    assert page.locator("#error a[href='/elements']").count() == 1


def _pages(home, server, page) -> list[str]:
    """Every page a user can reach on the sample home, a rendered batch's page among them."""
    ws = Workspace.of(home)
    experiment_id = make_experiment(home, n=3, name="phone check")
    elements = ws.elements.list()
    one_per_kind = {e.kind: e.code for e in elements}
    page.goto("/batches")
    page.locator("input[name=products]").first.check()
    page.locator("input[name=templates][value=hero]").check()
    page.fill("input[name=max_creatives]", "2")
    page.click("#launch")  # the action is on screen and works at this width
    page.wait_for_url(re.compile(r"/batches/[0-9a-f]+$"))
    page.wait_for_selector("#gallery img")
    batch = page.url.split("/", 3)[3]
    return ["/elements", "/elements?q=a", *(f"/elements/{c}" for c in one_per_kind.values()), "/catalog", "/copy", "/batches",
            "/" + batch, "/experiments", f"/experiments/{experiment_id}", "/tags", f"/tags?experiment={experiment_id}", "/no/such/page"]


WIDEST = """() => [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1)
    .slice(0, 3).map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className)"""
OFF_SCREEN_ACTIONS = """() => [...document.querySelectorAll('main button, main input[type=submit]')]
    .filter(e => e.offsetParent !== null).map(e => [e, e.getBoundingClientRect()])
    .filter(([e, r]) => r.left < 0 || r.right > innerWidth).map(([e]) => e.outerHTML.slice(0, 120))"""
UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
    .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !(e.tagName === 'BUTTON' && e.innerText.trim()))
    .map(e => e.outerHTML.slice(0, 120))"""


def test_every_page_fits_a_phone_with_a_readable_menu_and_labelled_controls(phone, live, shots):
    home, server = live
    phone.goto("/login")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    log_in(phone)
    too_wide = {}
    for path in _pages(home, server, phone):
        phone.goto(path)
        width = phone.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide[path] = (width, phone.evaluate(WIDEST))
        links = phone.locator("header.top nav a")
        assert links.count() == 6
        bar = phone.locator("header.top").bounding_box()
        for i in range(links.count()):  # every menu link on the dark bar, inside the screen
            box = links.nth(i).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] and box["y"] + box["height"] <= bar["y"] + bar["height"], path
        assert phone.locator("header.top").evaluate("h => getComputedStyle(h).backgroundColor") == "rgb(17, 24, 39)"
        assert phone.evaluate(UNLABELLED) == [], f"controls without a label on {path}"
        assert phone.evaluate(OFF_SCREEN_ACTIONS) == [], f"buttons off the screen on {path}"
    assert too_wide == {}, f"pages wider than {PHONE['width']} px (width, widest elements): {too_wide}"
    phone.goto("/elements")
    phone.screenshot(path=str(shots / "web-elements-mobile.png"), full_page=True)


def test_the_keyboard_reaches_the_menu_and_the_upload_with_a_visible_focus(page):
    log_in(page)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    seen = []
    for _ in range(12):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", f"no visible focus on {seen[-1]}"
    assert "Elements" in seen and "drop-zone" in seen


def test_rename_and_brand_an_element_from_its_page(page, live, tmp_path):
    log_in(page)
    upload(page, png(tmp_path / "IMG_0042.png", (30, 140, 160)), kind="background")
    code = page.locator("#upload-results li").last.get_attribute("data-code")
    page.goto(f"/elements/{code}")
    page.fill("#edit-name", "Teal wall")
    page.fill("#edit-brand", "Contoso")
    page.click("#save-element")
    expect(page.locator("#flash")).to_have_text(f"saved: {code} is “Teal wall”, brand Contoso")
    assert page.locator("#element-name").inner_text() == "Teal wall" and page.locator("#element-brand").inner_text() == "Contoso"
    page.fill("#edit-name", "../../etc")
    page.click("#save-element")
    expect(page.locator("#flash")).to_contain_text("contains '..', a slash or a control character; type a plain label")
    assert Workspace.of(live[0]).elements.get(code).name == "Teal wall"
    page.goto("/elements?q=teal")
    assert page.locator(f"#tile-{code} .brand").inner_text() == "Contoso"
