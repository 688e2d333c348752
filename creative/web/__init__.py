"""The web front: UI pages and the ad-serving API (`create_app(home)`), served by `creative serve`."""

from creative.web.app import create_app
from creative.web.settings import WebSettings

__all__ = ["WebSettings", "create_app"]
