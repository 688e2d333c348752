"""Copy review decisions taken at the same time (two fetches in flight from one page) are all recorded."""

from __future__ import annotations

import threading
import time

import pytest
from support.processes import wait_until

from creative.errors import CreativeError
from creative.services import Workspace
from creative.web import copy_review
from creative.web.copy_review import copy_decide, copy_edit, copy_work
from creative.web.jobs import JobRunner


def test_two_approvals_at_once_both_stay_recorded_in_the_run(sample_home, monkeypatch):
    ws = Workspace.of(sample_home)
    jobs = JobRunner(sample_home, ws.engine)
    try:
        job_id = jobs.submit("copy", {"product": "SKU-1001", "engine": "grammar", "n": 2}, "mia", copy_work(ws, "SKU-1001", "grammar", 2))
        wait_until(lambda: jobs.get(job_id).status in ("done", "failed"), "the copy run", every=0.05)
        first, second = [c["id"] for c in jobs.get(job_id).result["candidates"] if c["status"] == "accepted"][:2]
        real_approve = copy_review.approve_title

        def slow_approve(*args, **kwargs):
            time.sleep(0.3)  # long enough for the other decision to read the run meanwhile, were it allowed to
            return real_approve(*args, **kwargs)

        monkeypatch.setattr(copy_review, "approve_title", slow_approve)
        threads = [threading.Thread(target=copy_decide, args=(ws, jobs, job_id, [i], "approve", "mia")) for i in (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        reviews = {c["id"]: c["review"] for c in jobs.get(job_id).result["candidates"]}
        assert reviews[first] == reviews[second] == "approved"
    finally:
        jobs.stop()


def test_an_edit_over_the_length_limit_is_refused_whole_and_changes_nothing(sample_home):
    ws = Workspace.of(sample_home)
    jobs = JobRunner(sample_home, ws.engine)
    try:
        job_id = jobs.submit("copy", {"product": "SKU-1001", "engine": "grammar", "n": 1}, "mia", copy_work(ws, "SKU-1001", "grammar", 1))
        wait_until(lambda: jobs.get(job_id).status in ("done", "failed"), "the copy run", every=0.05)
        before = jobs.get(job_id).result["candidates"][0]
        with pytest.raises(CreativeError, match="at most 500 characters and this one has 600; shorten it"):
            copy_edit(ws, jobs, job_id, before["id"], "x" * 600)
        assert jobs.get(job_id).result["candidates"][0] == before  # not cut to 500 and stored: untouched
    finally:
        jobs.stop()
