"""The copy review's logic: what is shown per style, and reviewer decisions (bulk, un-approve, edit) on a real run."""

from __future__ import annotations

import pytest
from support.processes import wait_until

from creative.errors import CreativeError, ElementNotFound
from creative.services import Workspace
from creative.web.copy_review import copy_decide, copy_edit, copy_work, group_by_style
from creative.web.jobs import JobRunner


def cand(i: int, style: str, status: str = "accepted", review: str | None = None, **extra) -> dict:
    return {"id": str(i), "text": f"t{i}", "style": style, "status": status, "review": review, **extra}


def test_the_requested_number_of_accepted_titles_is_shown_per_style_the_rest_folded():
    candidates = [cand(0, "poetic"), cand(1, "poetic"), cand(2, "poetic"), cand(3, "poetic", review="approved"),
                  cand(4, "poetic", "rejected"), cand(5, "descriptive"), cand(6, "descriptive", "rejected"),
                  cand(7, "descriptive"), cand(8, "descriptive", edited_from="old")]
    groups = group_by_style(candidates, n=1)
    assert [g.style for g in groups] == ["descriptive", "poetic"]  # the styles' own order
    descriptive, poetic = groups
    assert [c["id"] for c in poetic.shown] == ["0", "3"]  # one asked for, plus the approved one
    assert [c["id"] for c in poetic.more] == ["1", "2"]
    assert [c["id"] for c in poetic.rejected] == ["4"]
    assert [c["id"] for c in descriptive.shown] == ["5", "8"]  # an edited one stays in view
    assert [c["id"] for c in descriptive.more] == ["7"]


@pytest.fixture
def run(sample_home):
    ws = Workspace.of(sample_home)
    jobs = JobRunner(sample_home, ws.engine)
    job_id = jobs.submit("copy", {"product": "SKU-1001", "engine": "grammar", "n": 2}, "mia", copy_work(ws, "SKU-1001", "grammar", 2))
    wait_until(lambda: jobs.get(job_id).status in ("done", "failed"), "the copy run", every=0.05)
    assert jobs.get(job_id).status == "done"
    yield ws, jobs, job_id
    jobs.stop()


def _candidates(jobs, job_id) -> dict[str, dict]:
    return {c["id"]: c for c in jobs.get(job_id).result["candidates"]}


def test_bulk_approve_then_unapprove_and_reject_keep_the_library_in_step(run):
    ws, jobs, job_id = run
    accepted = [c["id"] for c in _candidates(jobs, job_id).values() if c["status"] == "accepted"][:3]
    assert copy_decide(ws, jobs, job_id, accepted, "approve", "mia") == "3 titles approved"
    codes = [_candidates(jobs, job_id)[i]["code"] for i in accepted]
    assert {ws.elements.get(code).text for code in codes} == {_candidates(jobs, job_id)[i]["text"] for i in accepted}

    assert "back to review" in copy_decide(ws, jobs, job_id, accepted[:1], "unapprove", "mia")
    assert _candidates(jobs, job_id)[accepted[0]]["review"] is None
    with pytest.raises(ElementNotFound):
        ws.elements.get(codes[0])
    copy_decide(ws, jobs, job_id, accepted[1:2], "reject", "mia")
    assert _candidates(jobs, job_id)[accepted[1]]["review"] == "rejected"
    with pytest.raises(ElementNotFound):
        ws.elements.get(codes[1])
    assert ws.elements.get(codes[2]).attributes["reviewer"] == "mia"

    rejected = next(c["id"] for c in _candidates(jobs, job_id).values() if c["status"] == "rejected")
    with pytest.raises(CreativeError, match="failed the guardrails"):
        copy_decide(ws, jobs, job_id, [accepted[2], rejected], "approve", "mia")
    with pytest.raises(CreativeError, match="no candidate 'x'"):
        copy_decide(ws, jobs, job_id, ["x"], "approve", "mia")


def test_an_edit_is_judged_again_and_an_approved_title_leaves_the_library(run):
    ws, jobs, job_id = run
    first = next(c for c in _candidates(jobs, job_id).values() if c["status"] == "accepted")
    copy_decide(ws, jobs, job_id, [first["id"]], "approve", "mia")
    code = _candidates(jobs, job_id)[first["id"]]["code"]

    message = copy_edit(ws, jobs, job_id, first["id"], "The best runner, 90% off")
    assert "fails the guardrails" in message
    edited = _candidates(jobs, job_id)[first["id"]]
    assert edited["status"] == "rejected" and edited["edited_from"] == first["text"] and edited["engine"] == "edited"
    assert any(r.startswith("banned claim") for r in edited["reasons"])
    with pytest.raises(ElementNotFound):
        ws.elements.get(code)

    assert "passed the guardrails" in copy_edit(ws, jobs, job_id, first["id"], "Stride Runner for daily miles")
    assert _candidates(jobs, job_id)[first["id"]]["status"] == "accepted"
    with pytest.raises(CreativeError, match="empty"):
        copy_edit(ws, jobs, job_id, first["id"], "   ")


def test_a_language_model_run_reports_its_phases_and_tops_up_with_templates(sample_home, monkeypatch):
    """The tiny random model (creative.copy.testing) writes noise: the guardrails reject it, grammar titles fill in."""
    from creative.copy.pipeline import CopyPipeline
    from creative.copy.testing import tiny_model
    from creative.services.copy import guardrail_brands
    from creative.web import copy_review

    ws = Workspace.of(sample_home)
    lm = tiny_model()
    monkeypatch.setattr(copy_review, "copy_pipeline", lambda ws: CopyPipeline(model=lm, brands=guardrail_brands(ws), per_style=4))
    messages = []
    result = copy_work(ws, "SKU-1001", "lm", 2)(lambda done, total, message, phase=None: messages.append((done, total, message)))
    assert messages[0] == (0, 4, "writing titles")  # the model was loaded already: no loading phase
    assert [m[0] for m in messages[1:5]] == [1, 2, 3, 4]
    engines = {c["engine"] for c in result["candidates"]}
    assert engines == {"lm", "grammar"}
    assert any(c["status"] == "rejected" and c["reasons"] for c in result["candidates"] if c["engine"] == "lm")
    assert sum(c["status"] == "accepted" for c in result["candidates"]) >= 2 * 4
