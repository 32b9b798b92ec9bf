"""`helpline nlu-server`: the NLU service of deploy/ (compose and Kubernetes).

The command becomes `rasa run`; these tests check what it would run — with Rasa's own
argument parser, so a flag Rasa does not know fails here and not in a container."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bot.cli import main, nlu_server_argv
from bot.nlu.training import model_path
from sini.settings import Settings


def rasa_run_arguments(argv: list[str]) -> argparse.Namespace:
    """`rasa run …` parsed as Rasa itself would (argv is `python -m rasa run …`)."""
    from rasa.__main__ import create_argument_parser

    assert argv[1:4] == ["-m", "rasa", "run"]
    return create_argument_parser().parse_args(argv[3:])


def test_it_serves_the_fingerprinted_model_with_the_api_on(
    settings: Settings, model_path: Path
) -> None:
    args = rasa_run_arguments(nlu_server_argv(settings, "0.0.0.0", 5005))
    assert Path(args.model) == model_path
    assert args.enable_api
    assert (args.interface, args.port) == ("0.0.0.0", 5005)


@pytest.mark.parametrize(("level", "flag"), [("DEBUG", "--verbose"), ("WARNING", "--quiet")])
def test_rasa_never_logs_below_info_whatever_log_level_says(
    settings: Settings, model_path: Path, monkeypatch: pytest.MonkeyPatch, level: str, flag: str
) -> None:
    """At DEBUG Rasa logs each message text; its own flag beats the LOG_LEVEL it also reads."""
    monkeypatch.setenv("LOG_LEVEL", level)
    argv = nlu_server_argv(Settings.from_env(), "127.0.0.1", 5005)
    assert argv[-1] == flag
    rasa_run_arguments(argv)


def test_a_missing_model_is_a_clear_error(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MODEL_DIR", str(tmp_path))
    assert not model_path(settings.nlu_project, tmp_path).exists()
    assert main(["nlu-server"]) == 2
    assert "helpline train" in capsys.readouterr().err
