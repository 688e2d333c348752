"""Helpers for the web tests (no tests here): a real uvicorn server on 127.0.0.1 and a seeded home."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from PIL import Image, ImageDraw

from creative.db import open_database
from creative.home import Home, resolve_home
from creative.web import WebSettings, create_app
from creative.web.auth import create_api_key, create_user
from support.processes import free_port, wait_until

ADMIN, PASSWORD = "admin", "correct-horse-battery"


class LiveServer:
    """uvicorn in a thread; stop() runs the app's lifespan shutdown like SIGTERM does."""

    def __init__(self, app) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "LiveServer":
        self.thread.start()
        wait_until(lambda: self.server.started or not self.thread.is_alive(), what="uvicorn to start", every=0.02)
        if not self.server.started:
            raise RuntimeError("uvicorn did not start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)


@dataclass
class WebWorld:
    home: Home
    server: LiveServer
    api_key: str
    experiment_id: str

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def engine(self):
        return open_database(self.home.db_url)


def banner_files(home: Home, n: int, size: str = "300x250") -> list[Path]:
    """Plain coloured banners standing in for rendered creatives."""
    w, h = (int(x) for x in size.split("x"))
    out = home.output_dir / "web-test"
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        img = Image.new("RGB", (w, h), (40 + 60 * i % 255, 120, 200 - 30 * i % 200))
        ImageDraw.Draw(img).text((10, 10), f"banner {i}", fill="white")
        path = out / f"banner-{size}-{i}.png"
        img.save(path)
        paths.append(path)
    return paths


def make_experiment(home: Home, n: int = 3, *, name: str = "web test", config: dict | None = None, policy: str = "thompson",
                    sizes: tuple[str, ...] = ("300x250",)) -> str:
    """An experiment (through the services) over n registered banners per size, each advertising a sample catalog offer."""
    from creative.catalog import list_products
    from creative.creatives import Creative
    from creative.services import Workspace, create_experiment

    ws = Workspace.of(home)
    products = [p for p in list_products(ws.engine) if p.images]
    creatives = []
    for size in sizes:
        for i, path in enumerate(banner_files(home, n, size)):
            p = products[i % len(products)]
            creatives.append(Creative(creative_id=f"c{i}-{size}", template="hero", size=size, elements={"product": p.images[0]},
                                      offer_id=p.product_id, file=str(path),
                                      attributes={"template": "hero", "colour": ["red", "blue", "green"][i % 3]}))
    return create_experiment(ws, name, creatives, policy, config=config).experiment_id


def rendered_experiment(home: Home, *, n: int = 12, sizes: tuple[str, ...] = ("300x250", "728x90"), name: str = "spring sale",
                        policy: str = "thompson", config: dict | None = None) -> str:
    """An experiment over a real batch rendered from the sample elements (every template, `sizes`)."""
    from creative.compose import BatchSelection
    from creative.services import ExperimentPlan, Workspace, launch_batch

    ws = Workspace.of(home)
    codes: dict[str, list[str]] = {}
    for e in ws.elements.list():
        codes.setdefault(e.kind, []).append(e.code)
    selection = BatchSelection(products=tuple(codes["product"][:4]), logos=tuple(codes["logo"][:1]), models=tuple(codes["model"][:1]),
                               backgrounds=tuple(codes["background"][:2]), sizes=sizes)
    launched = launch_batch(ws, selection, home.output_dir / f"rendered-{name.replace(' ', '-')}", max_n=n, workers=1,
                            experiment=ExperimentPlan(name, policy, config=config or {}))
    return launched.experiment.experiment_id


def serve_rounds(home: Home, experiment_id: str, ctr, *, rounds: int = 3, per_round: int = 3000, users: int = 300, seed: int = 0) -> None:
    """Traffic as serving sends it: each round's impressions split by the allocation in force, a click with
    probability `ctr(creative_id)`, then the round closed through close_round (as the schedule does)."""
    import random

    from creative.services import Workspace, close_round
    from experiments.events import CLICK, IMPRESSION, Event

    ws = Workspace.of(home)
    rng = random.Random(seed)
    sizes = {a.id: a.size for a in ws.experiments.arms(experiment_id)}
    for r in range(rounds):
        status = ws.experiments.status(experiment_id)
        if status.status != "running":
            return
        ids, shares = zip(*status.allocation.items())
        now = int(time.time() * 1000)
        events = []
        for k, creative in enumerate(rng.choices(ids, weights=shares, k=per_round)):
            imp = f"sim-{experiment_id}-{r}-{k}"
            user = f"u{rng.randrange(users)}"
            events.append(Event(imp, IMPRESSION, now, experiment_id, creative, user, sizes[creative]))
            if rng.random() < ctr(creative):
                events.append(Event(f"c{imp}", CLICK, now + 1, experiment_id, creative, user, sizes[creative], imp))
        ws.experiments.ingest(experiment_id, events, source="simulated serving")
        close_round(ws, experiment_id)


def seeded_home(root: Path) -> Home:
    from assets.samples import load_sample_library

    home = resolve_home(root)
    load_sample_library(home)
    engine = open_database(home.db_url)
    create_user(engine, ADMIN, PASSWORD)
    return home


def quick_settings(**changes) -> WebSettings:
    """The tests' app settings: no scheduler, events flushed every 50 ms, plus `changes`."""
    return WebSettings(flush_interval_seconds=0.05, run_scheduler=False, **changes)


def start_world(root: Path, settings: WebSettings | None = None, config: dict | None = None) -> WebWorld:
    home = seeded_home(root)
    experiment_id = make_experiment(home, config=config)
    key = create_api_key(open_database(home.db_url), ADMIN, "tests")
    server = LiveServer(create_app(home, settings or quick_settings())).start()
    return WebWorld(home, server, key, experiment_id)


@contextmanager
def running_world(root: Path, **changes) -> Iterator[WebWorld]:
    """start_world with quick_settings(**changes); the server is stopped afterwards."""
    world = start_world(root, quick_settings(**changes))
    try:
        yield world
    finally:
        world.server.stop()


def login(client: httpx.Client, username: str = ADMIN, password: str = PASSWORD) -> str:
    """Log in through the form like a browser; returns the session's CSRF token."""
    page = client.get("/login")
    token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    r = client.post("/login", data={"csrf": token, "username": username, "password": password, "next": "/elements"})
    assert r.status_code == 303, r.text
    elements = client.get("/elements")
    return elements.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
