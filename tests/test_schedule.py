"""`creative schedule rounds`: interval parsing and early, clear refusals (no server needed)."""

from datetime import timedelta

import pytest
from click.testing import CliRunner

from creative.cli import cli
from creative.cli.schedule import ScheduleError, parse_every


@pytest.mark.parametrize("text,expected", [("15m", timedelta(minutes=15)), ("1h", timedelta(hours=1)), ("90s", timedelta(seconds=90)), ("2d", timedelta(days=2))])
def test_intervals_parse(text, expected):
    assert parse_every(text) == expected


@pytest.mark.parametrize("text", ["15", "m15", "1.5h", "", "5s"])
def test_bad_intervals_say_how_to_write_one(text):
    with pytest.raises(ScheduleError, match="e.g. 15m|too short"):
        parse_every(text)


def test_unknown_experiment_is_refused_before_any_server_starts(tmp_path):
    result = CliRunner().invoke(cli, ["--home", str(tmp_path / "home"), "schedule", "rounds", "exp-nope", "--every", "15m"])
    assert result.exit_code != 0 and "exp-nope" in result.output
    assert not (tmp_path / "home" / "prefect" / "prefect-server.log").exists()
