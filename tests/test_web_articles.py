"""The article view over HTTP against a real uvicorn server: a marketer writes an article (grammar at once, the model
as a job), accepts, writes again and edits single sections, and downloads the accepted ones; who may, with what token."""

from __future__ import annotations

import html
import re
from contextlib import contextmanager

import httpx
import pytest
from support.processes import wait_until
from support.web import PASSWORD, LiveServer, login, quick_settings

from creative.copy.article.variety import sentences
from creative.copy.guardrails import normalise
from creative.db import open_database
from creative.services import Workspace
from creative.services.copy import article_review
from creative.web import copy_review, create_app
from creative.web.auth import create_user

PRODUCT = "SKU-1001"


@pytest.fixture
def server(sample_home):
    engine = open_database(sample_home.db_url)
    create_user(engine, "mia", PASSWORD, role="marketer")
    create_user(engine, "dan", PASSWORD, role="designer")
    live = LiveServer(create_app(sample_home, quick_settings())).start()
    yield live
    live.stop()


@contextmanager
def session(server, username: str):
    """A logged-in browser-like client whose posts carry the session's CSRF token and ask for JSON answers."""
    with httpx.Client(base_url=server.url, timeout=60, headers={"accept": "application/json"}) as client:
        client.headers["x-csrf-token"] = login(client, username, PASSWORD)
        yield client


@pytest.fixture
def mia(server):
    with session(server, "mia") as client:
        yield client


def write(client, engine: str = "grammar", keywords: str = "commute, gift") -> httpx.Response:
    return client.post("/copy/articles/write", data={"product": PRODUCT, "engine": engine, "keywords": keywords})


def written_code(client) -> str:
    answer = write(client)
    assert answer.status_code == 200, answer.text
    return answer.json()["location"].rsplit("/", 1)[1]


def test_a_marketer_writes_an_article_and_sees_each_section_with_who_wrote_it(sample_home, mia):
    assert 'href="/copy/articles"' in mia.get("/copy", headers={"accept": "text/html"}).text
    answer = write(mia)
    assert answer.status_code == 200 and re.fullmatch(r"/copy/articles/A-[0-9a-f]+", answer.json()["location"])
    assert re.search(r"written: \d+ sections, all \d+ sentences by the templates", answer.json()["message"])
    code = answer.json()["location"].rsplit("/", 1)[1]
    page = mia.get(f"/copy/articles/{code}", headers={"accept": "text/html"}).text
    review = article_review(Workspace.of(sample_home), code)
    assert page.count('class="card art-section') == len(review.sections) >= 6
    for s in review.sections:
        for sentence in s.sentences:
            assert f'<span class="sentence by-grammar">{html.escape(sentence["text"], quote=False)}</span>' in page.replace("&#39;", "'")
    assert page.count(">templates</small>") == sum(len(s.sentences) for s in review.sections)
    assert "Scene: Commute" in page and "Scene: Gift" in page
    listing = mia.get("/copy/articles", headers={"accept": "text/html"}).text
    assert f'href="/copy/articles/{code}"' in listing and f"0 of {len(review.sections)} sections accepted" in listing


def test_writing_a_section_again_answers_with_the_new_sections_and_repeats_nothing(sample_home, mia):
    code = written_code(mia)
    ws = Workspace.of(sample_home)
    before = article_review(ws, code)
    point = next(s for s in before.sections if s.kind == "point")
    answer = mia.post(f"/copy/articles/{code}/{point.position}/regenerate", data={"engine": "grammar"})
    assert answer.status_code == 200 and answer.json()["message"].startswith(f"section {point.position + 1} (point) written again")
    after = article_review(ws, code)
    new = after.section(point.position)
    assert html.escape(new.sentences[0]["text"], quote=False) in answer.json()["html"].replace("&#39;", "'")
    said = {normalise(x) for s in before.sections for x in sentences(s.text, "en")}
    assert not {normalise(x) for x in sentences(new.text, "en")} & said
    assert [s.text for s in after.sections if s.position != point.position] == [s.text for s in before.sections if s.position != point.position]


def test_a_refused_edit_answers_with_the_reasons_and_keeps_the_old_text(sample_home, mia):
    code = written_code(mia)
    ws = Workspace.of(sample_home)
    cta = next(s for s in article_review(ws, code).sections if s.kind == "cta")
    answer = mia.post(f"/copy/articles/{code}/{cta.position}/edit", data={"text": "Now only $9, the best price guaranteed."})
    assert answer.status_code == 422
    message = answer.json()["message"]
    assert "price '$9' is not in the catalog" in message and "banned claim" in message and message.endswith("the old text is kept")
    assert article_review(ws, code).section(cta.position).text == cta.text
    assert html.escape(cta.text, quote=False) in answer.json()["html"]  # the page shows the old text again


def test_an_edit_repeating_a_sentence_of_another_of_the_products_articles_is_refused(sample_home, mia):
    first, second = written_code(mia), written_code(mia)
    ws = Workspace.of(sample_home)
    said = sentences(next(s for s in article_review(ws, first).sections if s.kind == "point").text, "en")[0]
    point = next(s for s in article_review(ws, second).sections if s.kind == "point")
    answer = mia.post(f"/copy/articles/{second}/{point.position}/edit", data={"text": f"{point.text} {said}"})
    assert answer.status_code == 422 and f"(in another article of {PRODUCT})" in answer.json()["message"]
    assert article_review(ws, second).section(point.position).text == point.text


def test_downloads_hold_only_the_accepted_sections(sample_home, mia):
    code = written_code(mia)
    refused = mia.get(f"/copy/articles/{code}/article.md")
    assert refused.status_code == 409 and "accept the sections" in refused.json()["error"]
    review = article_review(Workspace.of(sample_home), code)
    headline, point = review.sections[0], next(s for s in review.sections if s.kind == "point")
    for s in (headline, point):
        assert mia.post(f"/copy/articles/{code}/{s.position}/accept", data={"decision": "accept"}).status_code == 200
    md = mia.get(f"/copy/articles/{code}/article.md")
    assert md.headers["content-disposition"] == f'attachment; filename="{code}.md"' and md.headers["content-type"].startswith("text/markdown")
    assert md.text == f"# {headline.text}\n\n## {point.heading}\n\n{point.text}\n"
    page = mia.get(f"/copy/articles/{code}/article.html?inline=1")
    assert "content-disposition" not in page.headers
    assert page.text == f'<article lang="en">\n<h1>{html.escape(headline.text)}</h1>\n<h2>{html.escape(point.heading)}</h2>\n<p>{html.escape(point.text)}</p>\n</article>\n'
    back = mia.post(f"/copy/articles/{code}/{point.position}/accept", data={"decision": "draft"})
    assert back.status_code == 200 and "back to draft" in back.json()["message"]
    assert mia.get(f"/copy/articles/{code}/article.md").text == f"# {headline.text}\n"


def test_only_a_marketer_with_the_pages_token_changes_an_article(sample_home, server, mia):
    code = written_code(mia)
    ws = Workspace.of(sample_home)
    before = article_review(ws, code)
    posts = [(f"/copy/articles/{code}/0/accept", {"decision": "accept"}), (f"/copy/articles/{code}/2/regenerate", {"engine": "grammar"}),
             (f"/copy/articles/{code}/1/edit", {"text": "A new lead for the Stride Runner, written by someone else entirely."}),
             ("/copy/articles/write", {"product": PRODUCT, "engine": "grammar"})]
    with session(server, "dan") as designer:
        for url, data in posts:
            refused = designer.post(url, data=data)
            assert refused.status_code == 403 and "copy:write" in refused.json()["error"], (url, refused.text)
    for url, data in posts:
        assert mia.post(url, data=data, headers={"x-csrf-token": "stale"}).status_code == 403
    assert article_review(ws, code) == before
    assert [e.code for e in ws.elements.list("article")] == [code]


@pytest.mark.parametrize(("url", "data", "reason"), [
    ("/copy/articles/write", {"product": PRODUCT, "engine": "gpt"}, "engine must be one of grammar, lm"),
    ("/copy/articles/write", {"product": "SKU-404", "engine": "grammar"}, "SKU-404"),
    ("/copy/articles/write", {"product": PRODUCT, "engine": "grammar", "keywords": ",".join("abcdefghi")}, "at most 8 keywords"),
    ("/copy/articles/{code}/99/accept", {"decision": "accept"}, "has no section 99"),
    ("/copy/articles/{code}/0/accept", {"decision": "publish"}, "decision must be accept or draft"),
    ("/copy/articles/{code}/0/edit", {"text": "   "}, "the new text is empty"),
])
def test_bad_input_gets_one_line_saying_what_to_do(mia, url, data, reason):
    code = written_code(mia)
    answer = mia.post(url.format(code=code), data=data)
    assert answer.status_code == 422 and reason in answer.json()["message"] and "\n" not in answer.json()["message"]


def test_an_article_the_guardrails_refuse_answers_an_error_and_opens_nothing(sample_home, mia):
    """Once the product's stored articles hold every headline the banks can write, the next one is refused: nothing is
    stored, and the answer says so as an error (it answered 200 'ok', so the page showed the refusal as a success)."""
    stored = 0
    for _ in range(12):  # a handful of headlines per product: they run out well before this
        answer = write(mia)
        if answer.status_code != 200:
            break
        stored += 1
    assert stored >= 2 and answer.status_code == 422 and answer.json()["kind"] == "error" and "location" not in answer.json()
    assert answer.json()["message"].startswith("the article failed the guardrails and was not stored: used up: every headline")
    assert len(Workspace.of(sample_home).elements.list("article")) == stored


def test_a_missing_article_is_not_found(mia):
    assert mia.get("/copy/articles/A-000000", headers={"accept": "text/html"}).status_code == 404
    answer = mia.post("/copy/articles/A-000000/0/accept", data={"decision": "accept"})
    assert answer.status_code == 404 and answer.json()["error"] == "no article A-000000; write one on the articles page"


@pytest.mark.slow
def test_the_model_writes_an_article_and_a_section_as_jobs_with_progress(sample_home, mia, real_model, monkeypatch):
    """The one web test with the real model (loaded once per run): both model runs are jobs the page polls."""
    real_pipeline = copy_review.copy_pipeline  # the jobs' pipeline (copy_review.loaded_pipeline)
    monkeypatch.setattr(copy_review, "copy_pipeline", lambda ws, **kw: real_pipeline(ws, language_model=real_model, **kw))

    def finished(message: str) -> dict:
        job = re.search(r"\(job ([0-9a-f]+)\)", message).group(1)
        seen = []
        wait_until(lambda: seen.append(mia.get(f"/copy/articles/jobs/{job}/status.json").json()) or seen[-1]["status"] in ("done", "failed"),
                   "the article job", every=0.2)
        assert seen[-1]["status"] == "done", seen[-1]
        return seen

    started = write(mia, engine="lm")
    assert started.status_code == 200 and "location" not in started.json()
    assert 'class="article-job"' in started.json()["html"]  # the list shows the run, to poll
    seen = finished(started.json()["message"])
    assert any("model sentences drafted" in s["summary"] and 0 < s["done"] <= s["total"] for s in seen)  # progress, sentence by sentence
    code = re.search(r"article (A-[0-9a-f]+) written", seen[-1]["message"]).group(1)
    ws = Workspace.of(sample_home)
    review = article_review(ws, code)
    assert review.model and any(x["engine"] == "lm" for s in review.sections for x in s.sentences)

    scene = next(s for s in review.sections if s.kind == "scene")
    again = mia.post(f"/copy/articles/{code}/{scene.position}/regenerate", data={"engine": "lm"})
    assert again.status_code == 200 and 'class="card article-job"' in again.json()["html"]
    finished(again.json()["message"])
    new = article_review(ws, code).section(scene.position)
    assert new.text != scene.text and new.replaced == [scene.text]
    assert not {normalise(x) for x in sentences(new.text, "en")} & {normalise(x) for x in sentences(scene.text, "en")}


def test_a_keyword_that_fits_no_fact_is_reported_in_the_answer_and_on_the_article(mia):
    answer = write(mia, keywords="commute, karaoke")
    assert answer.status_code == 200 and "note: keyword 'karaoke' fits no fact of SKU-1001" in answer.json()["message"]
    page = mia.get(answer.json()["location"], headers={"accept": "text/html"}).text
    assert "keyword &#39;karaoke&#39; fits no fact of SKU-1001" in page and "Scene: Commute" in page and "Scene: Karaoke" not in page
