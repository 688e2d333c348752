"""The article view in a real browser (Playwright + Debian's headless Chromium against a live server), on a desktop
screen and on a 375 px phone: write an article, write a section again, accept one, edit one (a refused edit shows
the reasons and keeps the old text), download the accepted sections. Section actions never reload the page.
Screenshots: web-article.png and web-article-375.png in $WEB_SCREENSHOTS (default: a temporary directory)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from support.browser import BROWSER_MARKS, log_in, mark_window, open_page, same_document

from creative.services import Workspace
from creative.services.copy import article_review

pytestmark = BROWSER_MARKS
PHONE = {"width": 375, "height": 812}


@pytest.fixture
def page(browser, live):
    context, pg = open_page(browser, live[1].url, accept_downloads=True)
    yield pg
    context.close()


@pytest.fixture
def phone(browser, live):
    context, pg = open_page(browser, live[1].url, viewport=PHONE)
    yield pg
    context.close()


def write_article(page, product: str, keywords: str = "") -> str:
    """Through the articles page, linked from the copy page; returns the new article's code."""
    log_in(page, "/copy")
    page.click("#articles-link")
    assert unnamed_controls(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    page.select_option("#article-product", product)
    page.select_option("#article-engine", "grammar")
    page.fill("#article-keywords", keywords)
    page.click("#write-article")
    page.wait_for_url(re.compile(r"/copy/articles/A-[0-9a-f]+$"))
    return page.url.rsplit("/", 1)[1]


def unnamed_controls(page) -> list[str]:
    """Buttons, links, fields and selects a screen reader could not name."""
    return page.evaluate("""() => [...document.querySelectorAll('main button, main a, main select, main textarea, main input:not([type=hidden])')]
        .filter(el => !(el.getAttribute('aria-label') || el.labels?.length || el.textContent.trim()))
        .map(el => el.outerHTML.slice(0, 80))""")


def test_an_article_reviewed_section_by_section_without_reloading(page, live, shots):
    home, _ = live
    code = write_article(page, "SKU-1001", "commute, gift")
    sections = page.locator("li.art-section")
    assert sections.count() >= 6
    assert sections.first.locator("small.by").first.inner_text() == "templates"  # who wrote each sentence
    assert unnamed_controls(page) == []
    mark_window(page)

    # write one selling point again: only its text changes, with new sentences
    point = page.locator('li.art-section[data-kind="point"]').first
    at = int(point.get_attribute("data-position"))
    others = [t for i, t in enumerate(sections.locator(".section-text").all_inner_texts()) if i != at]
    old = point.locator(".section-text").get_attribute("data-text")
    point.locator("button.regenerate").click()
    expect(page.locator("#flash")).to_contain_text("written again")
    point = page.locator('li.art-section[data-kind="point"]').first
    expect(point.locator(".section-text")).not_to_have_attribute("data-text", old)
    new = point.locator(".section-text").get_attribute("data-text")
    assert not set(re.split(r"(?<=\.) ", new)) & set(re.split(r"(?<=\.) ", old))
    assert [t for i, t in enumerate(sections.locator(".section-text").all_inner_texts()) if i != at] == others
    assert page.evaluate("document.activeElement.classList.contains('regenerate')")  # focus stays where the reader was
    point.locator("details.replaced summary").click()
    expect(point.locator("details.replaced li")).to_have_text([old])

    # accept the headline: it becomes the article to download
    page.locator("li.art-section").first.locator("button.accept").click()
    expect(page.locator("#accepted-count")).to_contain_text("1 of")
    expect(page.locator("li.art-section").first.locator(".badge")).to_have_text("accepted")

    # an edit with a wrong price is refused with the reason; the old text stays
    lead = page.locator('li.art-section[data-kind="lead"]')
    before = lead.locator(".section-text").get_attribute("data-text")
    lead.locator("button.edit").click()
    field = lead.locator("textarea")
    expect(field).to_be_focused()
    field.fill("Only $5 today, a price nobody else can match.")
    lead.locator("button.save-edit").click()
    expect(lead.locator(".edit-error")).to_contain_text("price '$5' is not in the catalog")
    expect(lead.locator(".section-text")).to_have_attribute("data-text", before)
    assert article_review(Workspace.of(home), code).section(1).text == before

    # a passing edit replaces the text; the new sentence is marked as a reviewer's
    added = "It is the pair to reach for on an ordinary weekday."
    field.fill(f"{before} {added}")
    field.press("Control+Enter")
    expect(page.locator("#flash")).to_contain_text("passed the checks")
    lead = page.locator('li.art-section[data-kind="lead"]')
    expect(lead.locator(".sentence.by-edited")).to_have_text(added)
    assert article_review(Workspace.of(home), code).section(1).text == f"{before} {added}"
    assert same_document(page)

    with page.expect_download() as download:
        page.click("#download-md")
    markdown = open(download.value.path(), encoding="utf-8").read()
    assert markdown == f"# {page.locator('li.art-section').first.locator('.section-text').get_attribute('data-text')}\n"
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live[1].url)
    page.click("#copy-html")
    expect(page.locator("#flash")).to_have_text("the accepted sections are on the clipboard as HTML")
    assert page.evaluate("navigator.clipboard.readText()").startswith('<article lang="en">\n<h1>')
    page.screenshot(path=str(shots / "web-article.png"), full_page=True)
    assert [e for e in page.console_errors if "422" not in e] == [] and len(page.console_errors) == 1  # the refused edit's answer


def test_the_article_view_on_a_phone_writes_again_and_edits_by_keyboard(phone, live, shots):
    code = write_article(phone, "SKU-1002")  # another product: each has its own phrases left to write
    phone.goto("/copy/articles")
    phone.screenshot(path=str(shots / "web-articles-375.png"), full_page=True)
    phone.goto(f"/copy/articles/{code}")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    mark_window(phone)
    scene = phone.locator('li.art-section[data-kind="scene"]').first
    old = scene.locator(".section-text").get_attribute("data-text")
    scene.locator("button.regenerate").click()
    expect(phone.locator("#flash")).to_contain_text("written again")
    expect(phone.locator('li.art-section[data-kind="scene"]').first.locator(".section-text")).not_to_have_attribute("data-text", old)

    # keyboard only: focus the edit button, open the editor, type, save
    cta = phone.locator('li.art-section[data-kind="cta"]')
    cta.locator("button.edit").focus()
    phone.keyboard.press("Enter")
    field = cta.locator("textarea")
    expect(field).to_be_focused()
    text = field.input_value()
    phone.keyboard.press("End")
    phone.keyboard.type(" Sizes run as usual.")
    phone.keyboard.press("Control+Enter")
    expect(phone.locator('li.art-section[data-kind="cta"] .sentence.by-edited')).to_have_text("Sizes run as usual.")
    assert phone.evaluate("document.activeElement.classList.contains('edit')")
    assert phone.locator('li.art-section[data-kind="cta"] .section-text').get_attribute("data-text") == f"{text} Sizes run as usual."
    assert same_document(phone)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    buttons = phone.locator("li.art-section button:visible")
    assert all(box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] for box in (b.bounding_box() for b in buttons.all()))
    phone.screenshot(path=str(shots / "web-article-375.png"), full_page=True)
    assert phone.console_errors == [] and code
