"""The `helpline` command: `health` (the container HEALTHCHECK) checks every Redis the bot
uses; a bad setting or a broken content file stops any command with one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bot.adapters.telegram import HEARTBEAT_FILE
from bot.cli import parser
from bot.content.catalog import DO_ACTIONS
from sini.redis_server import LocalRedis, free_port
from sini.settings import PROJECT_ROOT, Settings


def _health(settings: Settings) -> int:
    args = parser().parse_args(["health"])
    return int(args.func(settings, args))


@pytest.fixture
def beating(settings: Settings, tmp_path: Path) -> Settings:
    """Settings of a bot whose event loop has just beaten."""
    (tmp_path / HEARTBEAT_FILE).touch()
    return replace(settings, var_dir=tmp_path, redis_url=None, tips_redis_url=None)


def _nowhere() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


def test_healthy_when_the_beat_is_recent_and_redis_answers(
    beating: Settings, redis_server: LocalRedis
) -> None:
    assert _health(replace(beating, redis_url=redis_server.url)) == 0


def test_without_redis_url_the_project_local_redis_is_checked(
    beating: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _health(beating) == 1  # no local redis-server ever started
    assert "no Redis" in capsys.readouterr().err
    with LocalRedis(beating.var_dir / "redis"):
        assert _health(beating) == 0
    assert _health(beating) == 1  # stopped: its lock file names a port nobody answers on


def test_a_separate_tips_redis_that_does_not_answer_is_unhealthy(
    beating: Settings, redis_server: LocalRedis, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _health(replace(beating, redis_url=redis_server.url, tips_redis_url=_nowhere())) == 1
    assert "the tips Redis does not answer" in capsys.readouterr().err


def test_a_dialogue_redis_that_does_not_answer_is_unhealthy(beating: Settings) -> None:
    assert _health(replace(beating, redis_url=_nowhere())) == 1


def _helpline_process(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *argv],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_broken_content_file_stops_a_command_with_one_line_and_no_traceback(
    tmp_path: Path,
) -> None:
    shutil.copytree(PROJECT_ROOT / "responses" / "quizzes", tmp_path / "quizzes")
    (tmp_path / "messages").mkdir()
    (tmp_path / "messages" / "menu.yml").write_text(
        "messages:\n  menu.main:\n    text: Menu\n"
        "    buttons:\n      - [{label: Go, action: 'do:nowhere'}]\n"
    )
    done = _helpline_process(
        {"RESPONSES_DIR": str(tmp_path), "SINI_VAR_DIR": str(tmp_path / "var")},
        *("campaigns", "add", "--label", "Affiche", "--target", "tramadol"),
        "--bot-username=SiniBot",
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"{tmp_path / 'messages' / 'menu.yml'}:5: menu.main.buttons.action: "
        "'do:nowhere': no dialogue action 'nowhere' (one of " + ", ".join(sorted(DO_ACTIONS)) + ")"
    ]


@pytest.mark.parametrize("secret", ["abcd", "5e" * 31, "5e" * 33, "not hex at all"])
def test_a_sini_secret_of_the_wrong_length_stops_every_command_with_one_line(
    tmp_path: Path, secret: str
) -> None:
    done = _helpline_process({"SINI_SECRET": secret, "SINI_VAR_DIR": str(tmp_path)}, "health")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: SINI_SECRET must be 32 bytes written as 64 hex digits (e.g. `openssl rand -hex 32`)"
    ]


def test_a_dashboard_setting_out_of_bounds_stops_a_staff_command_with_one_line(
    tmp_path: Path,
) -> None:
    done = _helpline_process(
        {"STAFF_PORT": "70000", "SINI_SECRET": "5e" * 32, "SINI_VAR_DIR": str(tmp_path)},
        *("users", "list"),
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["error: STAFF_PORT: Expected `int` <= 65535"]


@pytest.mark.parametrize("command", ["chat", "bot"])
def test_the_assistant_refuses_content_that_leads_nowhere_before_loading_the_model(
    tmp_path: Path, command: str
) -> None:
    responses = tmp_path / "responses"
    shutil.copytree(PROJECT_ROOT / "responses", responses)
    quiz = responses / "quizzes" / "tramadol.yml"
    quiz.write_text(quiz.read_text().replace("more: drug.tramadol.about", "more: drug.nowhere"))
    done = _helpline_process(
        {
            "RESPONSES_DIR": str(responses),
            "SINI_VAR_DIR": str(tmp_path / "var"),
            "TELEGRAM_BOT_TOKEN": "123:abc",
        },
        command,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"{quiz}: more: no message 'drug.nowhere'"]
