"""An experiment's life: pause, resume, stop, archive; created once; rounds that close on data, not on the clock."""

from __future__ import annotations

import threading
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from creative.creatives import Creative
from creative.services import (
    Workspace,
    archive_experiment,
    close_round,
    create_experiment,
    list_experiments,
    pause_experiment,
    resume_experiment,
    stop_experiment,
)
from experiments import tables as t
from experiments.errors import ExperimentArchived, ExperimentConcluded, ExperimentError, ExperimentPaused, LifecycleRefused
from experiments.events import IMPRESSION, Event
from experiments.rounds import run_round
from experiments.store import utcnow


def _creatives(n: int = 3, sizes: tuple[str, ...] = ("300x250",)) -> list[Creative]:
    return [Creative(creative_id=f"c{i}-{size}", template="hero", size=size, elements={}, offer_id=None, file=f"/nowhere/c{i}-{size}.png",
                     attributes={"colour": ["red", "blue", "green"][i % 3]}) for size in sizes for i in range(n)]


def _experiment(home, name: str = "spring", config: dict | None = None, sizes: tuple[str, ...] = ("300x250",)) -> tuple[Workspace, str]:
    ws = Workspace.of(home)
    return ws, create_experiment(ws, name, _creatives(sizes=sizes), "fixed", config=config).experiment_id


def _serve(ws: Workspace, experiment_id: str, n: int, *, size: str = "300x250", tag: str = "a") -> None:
    """`n` impressions spread over the experiment's arms of `size`, as serving records them."""
    ids = [a.id for a in ws.experiments.arms(experiment_id) if a.size == size]
    now = int(utcnow().timestamp() * 1000)
    ws.experiments.ingest(experiment_id, [Event(f"{tag}{k}", IMPRESSION, now, experiment_id, ids[k % len(ids)], f"u{k}", size) for k in range(n)])


def _age_allocation(ws: Workspace, experiment_id: str, minutes: float) -> None:
    """As if the allocation in force had been set `minutes` ago (the round clock; see experiments.readiness)."""
    with ws.engine.begin() as conn:
        conn.execute(update(t.experiments).where(t.experiments.c.experiment_id == experiment_id)
                     .values(updated_at=utcnow() - timedelta(minutes=minutes)))


# ---- lifecycle ------------------------------------------------------------------------------------------
def test_pause_resume_stop_archive_move_the_experiment_through_its_states(home):
    ws, exp = _experiment(home)
    assert pause_experiment(ws, exp).after == "paused"
    assert ws.experiments.status(exp).status == "paused"
    assert resume_experiment(ws, exp).after == "running"
    change = stop_experiment(ws, exp)
    assert (change.before, change.after) == ("running", "stopped")
    assert "no more rounds" in change.summary()
    archived = archive_experiment(ws, exp).to_dict()
    assert (archived["experiment_id"], archived["previous"], archived["status"]) == (exp, "stopped", "archived")
    assert "hidden from listings" in archived["message"]


def test_a_paused_experiment_can_be_stopped_and_closes_no_round(home):
    ws, exp = _experiment(home, config={"min_round_impressions": 1})
    _serve(ws, exp, 30)
    pause_experiment(ws, exp)
    with pytest.raises(ExperimentPaused, match=f"resume it with `creative experiment resume {exp}`"):
        close_round(ws, exp, force=True)
    assert ws.experiments.status(exp).rounds_closed == 0
    assert stop_experiment(ws, exp).before == "paused"


@pytest.mark.parametrize("steps, refused, error, says", [
    (["pause"], "pause", LifecycleRefused, "already paused"),
    ([], "resume", LifecycleRefused, "is already running; nothing to do"),
    ([], "archive", LifecycleRefused, "stop it first (`creative experiment stop"),
    (["pause"], "archive", LifecycleRefused, "stop it first"),
    (["stop"], "stop", LifecycleRefused, "already stopped"),
    (["stop"], "pause", ExperimentConcluded, "has already ended (stopped); it can only be read or archived"),
    (["stop"], "resume", ExperimentConcluded, "has already ended (stopped)"),
    (["stop", "archive"], "stop", ExperimentArchived, "is archived: it can be read"),
    (["stop", "archive"], "archive", ExperimentArchived, "is archived"),
])
def test_refused_steps_say_why_in_one_line_and_change_nothing(home, steps, refused, error, says):
    steps_by_name = {"pause": pause_experiment, "resume": resume_experiment, "stop": stop_experiment, "archive": archive_experiment}
    ws, exp = _experiment(home)
    for step in steps:
        steps_by_name[step](ws, exp)
    before = ws.experiments.status(exp).status
    with pytest.raises(error) as caught:
        steps_by_name[refused](ws, exp)
    assert says in str(caught.value) and "\n" not in str(caught.value)
    assert ws.experiments.status(exp).status == before


def test_an_archived_experiment_is_hidden_from_listings_and_refuses_rounds_but_can_be_read(home):
    ws, kept = _experiment(home, name="kept")
    _, gone = _experiment(home, name="gone")
    stop_experiment(ws, gone)
    archive_experiment(ws, gone)
    assert [s.experiment_id for s in list_experiments(ws)] == [kept]
    assert {s.experiment_id for s in list_experiments(ws, archived=True)} == {kept, gone}
    with pytest.raises(ExperimentArchived):
        run_round(ws.engine, gone)
    assert ws.experiments.status(gone).status == "archived"  # reading still works


def test_serving_a_paused_experiment_keeps_its_allocation_and_a_stopped_one_shows_its_leader(home):
    from creative.web.serving import ServingCache

    ws, exp = _experiment(home, config={"min_round_impressions": 1})
    serving = ServingCache(ws)
    try:
        running = dict(serving.view(exp).allocation)
        pause_experiment(ws, exp)
        serving.invalidate(exp)
        assert serving.view(exp).allocation == running and len(running) == 3
        resume_experiment(ws, exp)
        _serve(ws, exp, 30)
        assert close_round(ws, exp).closed
        stop_experiment(ws, exp)
        serving.invalidate(exp)
        assert sorted(serving.view(exp).allocation.values(), reverse=True)[:2] == [1.0, 0.0]  # the leader only
    finally:
        serving.close()


# ---- created once ---------------------------------------------------------------------------------------
def test_the_same_batch_and_name_twice_is_one_experiment(home):
    ws = Workspace.of(home)
    first = create_experiment(ws, "spring", _creatives())
    again = create_experiment(ws, "spring", list(reversed(_creatives())))
    assert again.experiment_id == first.experiment_id and again.existing and not first.existing
    assert create_experiment(ws, "summer", _creatives()).experiment_id != first.experiment_id
    assert create_experiment(ws, "spring", _creatives(n=2)).experiment_id != first.experiment_id
    assert len(list_experiments(ws)) == 3


def test_a_double_click_creates_one_experiment(home):
    ws = Workspace.of(home)
    ids, errors = [], []

    def click():
        try:
            ids.append(create_experiment(Workspace.of(home), "double", _creatives()).experiment_id)
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=click) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    assert len(set(ids)) == 1 and [s.experiment_id for s in list_experiments(ws)] == ids[:1]


def test_after_archiving_the_same_batch_and_name_start_a_new_experiment(home):
    ws = Workspace.of(home)
    first = create_experiment(ws, "spring", _creatives()).experiment_id
    stop_experiment(ws, first)
    archive_experiment(ws, first)
    second = create_experiment(ws, "spring", _creatives())
    assert second.experiment_id != first and not second.existing
    assert create_experiment(ws, "spring", _creatives()).experiment_id == second.experiment_id


# ---- rounds close on data -------------------------------------------------------------------------------
def test_a_round_waits_for_the_minimum_of_new_impressions_without_using_the_budget(home):
    ws, exp = _experiment(home, config={"min_round_impressions": 100, "max_rounds": 2})
    _serve(ws, exp, 40)
    look = close_round(ws, exp)
    assert not look.closed
    assert "not closed: waiting for data (40 of 100 impressions)" in look.summary()
    for _ in range(5):  # idle looks, as a schedule makes them
        assert not close_round(ws, exp).closed
    status = ws.experiments.status(exp)
    assert (status.rounds_closed, status.current_round, status.status) == (0, 1, "running")
    _serve(ws, exp, 60, tag="b")
    closed = close_round(ws, exp)
    assert closed.closed and closed.result.round_no == 1 and closed.result.impressions == 100


def test_a_round_closes_after_the_maximum_interval_with_what_came(home):
    ws, exp = _experiment(home, config={"min_round_impressions": 100, "max_round_minutes": 60})
    _age_allocation(ws, exp, 90)
    assert "(0 of 100 impressions)" in close_round(ws, exp).summary()  # time alone never closes an empty round
    _serve(ws, exp, 10)
    _age_allocation(ws, exp, 59)
    assert not close_round(ws, exp).closed
    _age_allocation(ws, exp, 61)
    look = close_round(ws, exp)
    assert look.closed and look.result.impressions == 10


def test_every_placement_served_needs_the_minimum(home):
    ws, exp = _experiment(home, config={"min_round_impressions": 50}, sizes=("300x250", "728x90"))
    _serve(ws, exp, 80, size="300x250")
    assert close_round(ws, exp).closed  # a placement nobody asked for does not hold the round
    _serve(ws, exp, 80, size="300x250", tag="b")
    _serve(ws, exp, 20, size="728x90", tag="c")
    look = close_round(ws, exp)
    assert not look.closed and "(20 of 50 impressions for 728x90)" in look.summary()


def test_empty_rounds_never_count_against_the_round_limit(home):
    ws, exp = _experiment(home, config={"min_round_impressions": 10, "max_rounds": 2})
    _serve(ws, exp, 30)
    assert close_round(ws, exp).result.decision.kind == "continue"
    forced = close_round(ws, exp, force=True)  # a person closing an empty round
    assert forced.closed and forced.result.impressions == 0 and forced.result.decision.kind == "continue"
    _serve(ws, exp, 30, tag="b")
    last = close_round(ws, exp)
    assert last.result.decision.kind == "stop" and "round limit 2 reached" in last.result.decision.reason
    assert last.concludes


def test_round_settings_are_checked_when_the_experiment_is_created(home):
    ws = Workspace.of(home)
    with pytest.raises(ExperimentError, match="min_round_impressions=0 is not usable"):
        create_experiment(ws, "bad", _creatives(), config={"min_round_impressions": 0})


# ---- the JSON API ---------------------------------------------------------------------------------------
def test_lifecycle_api_needs_a_key_and_answers_each_step_with_the_new_state(tmp_path):
    from support.web import start_world

    world = start_world(tmp_path / "home")
    try:
        url = f"{world.url}/v1/experiments/{world.experiment_id}"
        with httpx.Client(timeout=30) as anonymous:
            assert anonymous.post(f"{url}/pause").status_code == 401
        with httpx.Client(timeout=30, headers={"authorization": f"Bearer {world.api_key}"}) as api:
            paused = api.post(f"{url}/pause")
            assert paused.status_code == 200 and paused.json()["status"] == "paused"
            assert api.get(f"{world.url}/v1/serve", params={"experiment": world.experiment_id, "user": "u1"}).status_code == 200
            refused = api.post(f"{url}/pause")
            assert refused.status_code == 409 and "already paused" in refused.json()["error"]
            assert api.post(f"{url}/archive").status_code == 409
            assert api.post(f"{url}/resume").json()["status"] == "running"
            assert api.post(f"{url}/stop").json()["status"] == "stopped"
            assert api.post(f"{url}/archive").json()["previous"] == "stopped"
            assert api.post(f"{world.url}/v1/experiments/exp-nope/stop").status_code == 404
    finally:
        world.server.stop()
