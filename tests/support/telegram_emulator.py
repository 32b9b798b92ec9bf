"""Drive end-to-end tests of a Telegram bot against a local Bot API emulator.

The emulator is ``tests/emulator/server.js`` (the npm package ``telegram-test-api``
with the fixes python-telegram-bot 22 needs). :class:`TelegramEmulator` runs it
on 127.0.0.1; the bot under test points python-telegram-bot at it::

    with TelegramEmulator() as emu:
        app = (Application.builder().token(TOKEN)
               .base_url(emu.bot_base_url).base_file_url(emu.base_file_url).build())
        ...  # start the bot (polling)
        user = emu.user(TOKEN, user_id=1001, first_name="Awa", language_code="fr")
        [menu] = user.ask_command("start")
        [answer] = user.press_and_wait(menu, menu.button_data("Services"))

Nothing here sleeps: every wait is a long poll on the emulator that returns as
soon as the bot has answered (or the timeout expires, which fails the test with
what did arrive). Before running, install the emulator once with
``npm ci --prefix tests/emulator``.
"""

from __future__ import annotations

import base64
import collections
import os
import queue
import shutil
import socket
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

__all__ = [
    "DEFAULT_NODE_DIR",
    "BotMessage",
    "Button",
    "EmulatedUser",
    "EmulatorError",
    "EmulatorTimeout",
    "TelegramEmulator",
    "UserMessage",
]

#: Where ``package.json`` and ``server.js`` of the emulator live.
DEFAULT_NODE_DIR = Path(__file__).resolve().parent.parent / "emulator"

_HOST = "127.0.0.1"


class EmulatorError(RuntimeError):
    """The emulator refused a request (bad arguments, unknown message, ...)."""


class EmulatorTimeout(AssertionError):
    """The bot did not produce the expected output in time.

    ``received`` holds what did arrive before the deadline.
    """

    def __init__(self, message: str, received: Sequence[BotMessage] = ()) -> None:
        super().__init__(message)
        self.received = list(received)


# ------------------------------------------------------------------ models ---


@dataclass(frozen=True)
class Button:
    """One inline keyboard button."""

    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass
class BotMessage:
    """A message the bot sent, as the user sees it at one moment.

    From :meth:`EmulatedUser.replies` it is the state right after the event
    (``event`` is ``"sent"`` or ``"edited"``), with the *current* ``deleted``
    flag; from :meth:`EmulatedUser.history` it is the current state.
    """

    message_id: int
    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    keyboard: list[list[str]] = field(default_factory=list)
    request_location: bool = False
    protect_content: bool = False
    deleted: bool = False
    edited: bool = False
    event: str = "sent"
    kind: str = "text"
    chat_id: int = 0
    caption: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    parse_mode: str | None = None
    raw_text: str | None = None
    remove_keyboard: bool = False
    request_contact: bool = False
    location: dict[str, float] | None = None
    media: dict[str, Any] | None = None
    reply_to_message_id: int | None = None
    disable_notification: bool = False
    versions: list[dict[str, Any]] = field(default_factory=list, repr=False)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BotMessage:
        """Build from an emulator snapshot (``/emu/bot/wait`` or ``/emu/bot/history``)."""
        markup = data.get("reply_markup") or {}
        buttons = [
            [
                Button(
                    text=str(b.get("text", "")),
                    callback_data=b.get("callback_data"),
                    url=b.get("url"),
                )
                for b in row
            ]
            for row in markup.get("inline_keyboard") or []
        ]
        keyboard: list[list[str]] = []
        request_location = False
        request_contact = False
        for row in markup.get("keyboard") or []:
            labels = []
            for b in row:
                if isinstance(b, str):
                    labels.append(b)
                    continue
                labels.append(str(b.get("text", "")))
                request_location = request_location or bool(b.get("request_location"))
                request_contact = request_contact or bool(b.get("request_contact"))
            keyboard.append(labels)
        text = data.get("text")
        return cls(
            message_id=int(data["message_id"]),
            text=text if text is not None else (data.get("caption") or ""),
            buttons=buttons,
            keyboard=keyboard,
            request_location=request_location,
            protect_content=bool(data.get("protect_content")),
            deleted=bool(data.get("deleted")),
            edited=bool(data.get("edited")),
            event=str(data.get("event", "sent")),
            kind=str(data.get("kind", "text")),
            chat_id=int(data.get("chat_id") or 0),
            caption=data.get("caption"),
            entities=list(data.get("entities") or []),
            parse_mode=data.get("parse_mode"),
            raw_text=data.get("raw_text"),
            remove_keyboard=bool(markup.get("remove_keyboard")),
            request_contact=request_contact,
            location=data.get("location"),
            media=data.get("media"),
            reply_to_message_id=data.get("reply_to_message_id"),
            disable_notification=bool(data.get("disable_notification")),
            versions=list(data.get("versions") or []),
            raw=data,
        )

    @property
    def all_buttons(self) -> list[Button]:
        """The inline buttons, row after row."""
        return [button for row in self.buttons for button in row]

    @property
    def button_labels(self) -> list[str]:
        """The inline buttons' labels, row after row."""
        return [button.text for button in self.all_buttons]

    @property
    def keyboard_labels(self) -> list[str]:
        """The reply keyboard's labels, row after row."""
        return [label for row in self.keyboard for label in row]

    def button(self, label_substring: str) -> Button:
        """The one inline button whose label contains ``label_substring`` (case-insensitive).

        Raises LookupError when none or several match.
        """
        needle = label_substring.casefold()
        found = [b for b in self.all_buttons if needle in b.text.casefold()]
        if len(found) != 1:
            what = "no" if not found else f"{len(found)}"
            raise LookupError(
                f"{what} inline button matches {label_substring!r} in message "
                f"{self.message_id}; buttons: {self.button_labels}"
            )
        return found[0]

    def button_data(self, label_substring: str) -> str:
        """The callback_data of the button whose label contains ``label_substring``."""
        button = self.button(label_substring)
        if button.callback_data is None:
            raise LookupError(f"button {button.text!r} has no callback_data (url={button.url!r})")
        return button.callback_data

    def has_button(self, label_substring: str) -> bool:
        """Whether an inline button's label contains ``label_substring`` (case-insensitive)."""
        needle = label_substring.casefold()
        return any(needle in b.text.casefold() for b in self.all_buttons)

    @property
    def callback_datas(self) -> list[str]:
        """Every callback_data of the inline keyboard, row after row."""
        return [b.callback_data for b in self.all_buttons if b.callback_data is not None]

    @property
    def previous_texts(self) -> list[str]:
        """Texts before each edit, oldest first (filled by :meth:`EmulatedUser.history`)."""
        return [str(v.get("text") or v.get("caption") or "") for v in self.versions]


@dataclass
class UserMessage:
    """A message the emulated user sent (from :meth:`EmulatedUser.sent_messages`)."""

    message_id: int
    kind: str
    text: str | None
    deleted: bool
    edited: bool
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


# ---------------------------------------------------------------- emulator ---


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        return int(sock.getsockname()[1])


class TelegramEmulator:
    """A running ``tests/emulator/server.js`` on 127.0.0.1 and a client for it.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        node_dir: Path | None = None,
        *,
        startup_timeout: float = 30.0,
        bot_username: str | None = None,
        bot_name: str | None = None,
        lenient_markup: bool = False,
        verbose: bool = False,
    ) -> None:
        """Prepare (not start) an emulator.

        Args:
            node_dir: folder with ``server.js`` and ``node_modules`` (default: tests/emulator).
            startup_timeout: seconds to wait for the ``READY`` line.
            bot_username / bot_name: what ``getMe`` answers.
            lenient_markup: accept malformed HTML/Markdown instead of Telegram's 400.
            verbose: make the emulator log every bot call (see :meth:`output`).
        """
        self.node_dir = Path(node_dir) if node_dir is not None else DEFAULT_NODE_DIR
        self.startup_timeout = startup_timeout
        self.bot_username = bot_username
        self.bot_name = bot_name
        self.lenient_markup = lenient_markup
        self.verbose = verbose
        self._port: int | None = None
        self._process: subprocess.Popen[str] | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=5000)
        self._reader: threading.Thread | None = None
        self._client: httpx.Client | None = None

    # -- lifecycle --

    def start(self, node_dir: Path | None = None) -> TelegramEmulator:
        """Launch ``node server.js --port <free port>`` and wait for its READY line.

        Calling it again while running (e.g. inside ``with TelegramEmulator() as emu``)
        does nothing when ``node_dir`` is omitted or the same folder.
        """
        if self.running:
            if node_dir is not None and Path(node_dir).resolve() != self.node_dir.resolve():
                raise RuntimeError(f"the emulator is already running from {self.node_dir}")
            return self
        if self._process is not None:  # died: clean up before starting again
            self.stop()
        if node_dir is not None:
            self.node_dir = Path(node_dir)
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not installed: install Node.js 18+")
        server = self.node_dir / "server.js"
        if not server.is_file():
            raise RuntimeError(f"emulator launcher not found: {server}")
        if not (self.node_dir / "node_modules" / "telegram-test-api").is_dir():
            raise RuntimeError(
                f"telegram-test-api is not installed in {self.node_dir}: "
                f"run `npm ci --prefix {self.node_dir}`"
            )
        last_error = ""
        for _attempt in range(3):  # another process may take the port between probe and bind
            port = _free_port()
            ready = self._launch(node, server, port)
            if ready:
                self._port = port
                self._client = httpx.Client(
                    base_url=self.base_url, timeout=httpx.Timeout(30.0), trust_env=False
                )
                return self
            last_error = "\n".join(self._output)
            self._kill()
            if "EADDRINUSE" not in last_error and "cannot listen" not in last_error:
                break
        raise RuntimeError(f"the Telegram emulator did not start:\n{last_error}")

    def _launch(self, node: str, server: Path, port: int) -> bool:
        args = [node, str(server), "--port", str(port), "--host", _HOST]
        if self.bot_username:
            args += ["--bot-username", self.bot_username]
        if self.bot_name:
            args += ["--bot-name", self.bot_name]
        if self.lenient_markup:
            args.append("--lenient-markup")
        if self.verbose:
            args.append("--verbose")
        self._output.clear()
        self._process = subprocess.Popen(
            args,
            cwd=str(self.node_dir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            env={**os.environ, "NODE_ENV": "production"},
        )
        lines: queue.Queue[str | None] = queue.Queue()
        process = self._process

        def pump() -> None:
            # Drains the pipe for the process's whole life so that node never blocks on it.
            assert process.stdout is not None
            for line in process.stdout:
                line = line.rstrip("\n")
                self._output.append(line)
                lines.put(line)
            lines.put(None)

        self._reader = threading.Thread(target=pump, name="telegram-emulator-output", daemon=True)
        self._reader.start()
        expected = f"READY {port}"
        while True:
            try:
                line = lines.get(timeout=self.startup_timeout)
            except queue.Empty:
                self._output.append(f"(no READY line within {self.startup_timeout} s)")
                return False
            if line is None:
                return False
            if line.strip() == expected:
                return True

    def stop(self) -> None:
        """Stop the emulator (SIGTERM, then SIGKILL after 5 s)."""
        if self._client is not None:
            self._client.close()
            self._client = None
        self._kill()
        self._port = None

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None

    def __enter__(self) -> TelegramEmulator:
        if self._process is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the node process is alive."""
        return self._process is not None and self._process.poll() is None

    def output(self) -> str:
        """What the emulator printed (stdout and stderr, last 5000 lines)."""
        return "\n".join(self._output)

    # -- addresses --

    @property
    def port(self) -> int:
        """The TCP port on 127.0.0.1."""
        if self._port is None:
            raise RuntimeError("the emulator is not running")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{_HOST}:{self.port}"

    @property
    def bot_base_url(self) -> str:
        """For PTB's ``ApplicationBuilder.base_url`` (the token is appended)."""
        return f"{self.base_url}/bot"

    @property
    def base_file_url(self) -> str:
        """For PTB's ``ApplicationBuilder.base_file_url`` (the token is appended)."""
        return f"{self.base_url}/file/bot"

    # -- raw calls --

    def call(self, route: str, payload: dict[str, Any] | None = None, *, wait: float = 0.0) -> Any:
        """POST ``/emu/<route>`` and return its ``result``; raises EmulatorError on ok:false.

        ``wait`` is how long the route may block (a long poll): the HTTP timeout is
        that plus a margin.
        """
        if self._client is None:
            raise RuntimeError("the emulator is not running")
        response = self._client.post(
            f"/emu/{route}", json=payload or {}, timeout=httpx.Timeout(wait + 30.0)
        )
        try:
            body = response.json()
        except ValueError as error:
            raise EmulatorError(
                f"/emu/{route}: HTTP {response.status_code}: {response.text[:500]}"
            ) from error
        if not body.get("ok"):
            raise EmulatorError(f"/emu/{route}: {body.get('description', body)}")
        return body["result"]

    def bot_api(self, token: str, method: str, **params: Any) -> Any:
        """Call a Bot API method as the bot would (handy to check the emulator itself)."""
        if self._client is None:
            raise RuntimeError("the emulator is not running")
        response = self._client.post(f"/bot{token}/{method}", json=params)
        body = response.json()
        if not body.get("ok"):
            raise EmulatorError(f"{method}: {body.get('description', body)}")
        return body["result"]

    # -- helpers over the test routes --

    def user(
        self,
        token: str,
        user_id: int,
        first_name: str = "Test",
        username: str | None = None,
        language_code: str | None = "en",
    ) -> EmulatedUser:
        """An :class:`EmulatedUser` talking to the bot with ``token`` in a private chat."""
        return EmulatedUser(self, token, user_id, first_name, username, language_code)

    def cursor(self) -> int:
        """The current output cursor (bot output after it is "new")."""
        return int(self.call("cursor")["cursor"])

    def wait_bot_messages(
        self,
        token: str,
        chat_id: int,
        cursor: int,
        count: int,
        timeout: float,
        events: Sequence[str] = ("sent", "edited"),
    ) -> tuple[list[BotMessage], int, bool]:
        """Long-poll until ``count`` bot outputs in ``chat_id`` after ``cursor``.

        Returns (messages, new cursor, complete). ``count <= 0`` returns what is
        there without waiting.
        """
        result = self.call(
            "bot/wait",
            {
                "token": token,
                "chat_id": chat_id,
                "cursor": cursor,
                "count": count,
                "timeout": timeout,
                "events": list(events),
            },
            wait=timeout,
        )
        messages = [BotMessage.from_json(m) for m in result["messages"]]
        return messages, int(result["cursor"]), bool(result["complete"])

    def history(self, token: str, chat_id: int) -> dict[str, Any]:
        """Raw history of a chat: ``messages`` (bot), ``user_messages``, ``events``."""
        return dict(self.call("bot/history", {"token": token, "chat_id": chat_id}))

    def bot_state(self, token: str) -> dict[str, Any]:
        """Commands set with setMyCommands, chat actions, menu buttons, pending update count."""
        return dict(self.call("bot/state", {"token": token}))

    def wait_polling(self, token: str, timeout: float = 30.0) -> None:
        """Wait until the bot with ``token`` calls getUpdates (started and polling).

        Needed before the first message when the bot starts with
        ``drop_pending_updates=True``, which would drop earlier updates.
        """
        result = self.call("bot/polling", {"token": token, "timeout": timeout}, wait=timeout)
        if not result["polling"]:
            raise EmulatorTimeout(
                f"the bot {token.split(':')[0]} did not call getUpdates within {timeout} s"
            )

    def webhook(self, token: str, after_set_calls: int = 0, timeout: float = 0.0) -> dict[str, Any]:
        """The webhook the bot set (``webhook``: url, secret_token, ...; None when unset),
        ``set_webhook_calls`` and every delivery attempt (``deliveries``: update_id,
        attempt, status, ok, error). With ``timeout``, first waits until setWebhook has
        set a URL more than ``after_set_calls`` times."""
        return dict(
            self.call(
                "bot/webhook",
                {"token": token, "after_set_calls": after_set_calls, "timeout": timeout},
                wait=timeout,
            )
        )

    def wait_webhook(self, token: str, after_set_calls: int = 0, timeout: float = 30.0) -> None:
        """Wait until the bot with ``token`` sets its webhook (the webhook mode's
        :meth:`wait_polling`). Updates sent from then on are POSTed to it, retried until
        its server answers, so none is lost while it finishes starting."""
        if not self.webhook(token, after_set_calls, timeout)["set"]:
            raise EmulatorTimeout(
                f"the bot {token.split(':')[0]} did not call setWebhook within {timeout} s"
            )

    def handed_out(self, token: str) -> int:
        """How many updates getUpdates answers have handed out so far (confirmed or not)."""
        return int(self.call("bot/fetched", {"token": token, "timeout": 0})["handed_out"])

    def wait_fetched(self, token: str, after: int, timeout: float = 10.0) -> bool:
        """Wait until getUpdates answers have handed out more than `after` updates: the bot
        has them, and Telegram keeps them until a later getUpdates confirms them."""
        result = self.call(
            "bot/fetched", {"token": token, "after": after, "timeout": timeout}, wait=timeout
        )
        return bool(result["fetched"])

    def wait_drained(self, token: str, timeout: float = 10.0) -> bool:
        """Wait until the bot has fetched and confirmed every queued update."""
        return bool(
            self.call("bot/drained", {"token": token, "timeout": timeout}, wait=timeout)["drained"]
        )

    def limit_rate(self, token: str, max_rate: float, retry_after: int = 1) -> None:
        """Flood control as Telegram does it: above ``max_rate`` messages in any second,
        the bot's sends (send*, edit*, copy*, forward*, deleteMessage) are answered 429 with
        ``retry_after`` — and so is every send until that time has passed. 0 disarms it
        (and its counts start again when armed)."""
        self.call(
            "bot/rate_limit", {"token": token, "max_rate": max_rate, "retry_after": retry_after}
        )

    def rate_limit_stats(self, token: str) -> dict[str, int]:
        """Sends ``accepted`` and ``refused`` (429) since :meth:`limit_rate` armed it."""
        result = self.call("bot/rate_limit_stats", {"token": token})
        return {"accepted": int(result["accepted"]), "refused": int(result["refused"])}

    def reset(self, token: str | None = None) -> None:
        """Forget everything about ``token`` (or all tokens)."""
        self.call("reset", {"token": token} if token else {})


# -------------------------------------------------------------------- user ---


class EmulatedUser:
    """A Telegram user chatting privately with the bot under test.

    ``send_*`` methods queue an update for the bot and return the new message's
    id; :meth:`replies` waits for the bot's answers in this chat (new messages
    and edits, in order, each returned once). ``ask*``/``press_and_wait`` do
    both. Only output produced after the user object was created counts.
    """

    def __init__(
        self,
        emulator: TelegramEmulator,
        token: str,
        user_id: int,
        first_name: str = "Test",
        username: str | None = None,
        language_code: str | None = "en",
    ) -> None:
        self.emulator = emulator
        self.token = token
        self.user_id = int(user_id)
        self.first_name = first_name
        self.username = username
        self.language_code = language_code
        self.cursor = emulator.cursor()
        self.last_message_id: int | None = None

    @property
    def chat_id(self) -> int:
        """The private chat's id (the user's id, as in Telegram)."""
        return self.user_id

    def _user(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.user_id, "first_name": self.first_name, "is_bot": False}
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def _send(self, route: str, **fields: Any) -> int:
        payload = {"token": self.token, "user": self._user(), "chat_id": self.chat_id}
        payload.update({k: v for k, v in fields.items() if v is not None})
        result = self.emulator.call(route, payload)
        self.last_message_id = int(result["message_id"])
        return self.last_message_id

    # -- what the user does --

    def send_text(
        self,
        text: str,
        entities: list[dict[str, Any]] | None = None,
        reply_to_message_id: int | None = None,
    ) -> int:
        """Send a text message (a bot_command entity is added when it starts with '/')."""
        return self._send(
            "user/text", text=text, entities=entities, reply_to_message_id=reply_to_message_id
        )

    def send_command(self, cmd: str, arg: str = "") -> int:
        """Send ``/cmd arg`` (``cmd`` with or without the slash), e.g. a /start deep link."""
        command = cmd if cmd.startswith("/") else f"/{cmd}"
        return self.send_text(f"{command} {arg}" if arg else command)

    def press(self, message: BotMessage | int, callback_data: str, *, force: bool = False) -> str:
        """Press the inline button with ``callback_data`` under a bot message.

        The emulator refuses data that the message's current keyboard lacks, or a
        deleted message, unless ``force``. Returns the callback query id (see
        :meth:`callback_answer`).
        """
        message_id = message.message_id if isinstance(message, BotMessage) else int(message)
        result = self.emulator.call(
            "user/callback",
            {
                "token": self.token,
                "user": self._user(),
                "chat_id": self.chat_id,
                "message_id": message_id,
                "data": callback_data,
                "force": force,
            },
        )
        return str(result["callback_query_id"])

    def press_button(self, message: BotMessage, label_substring: str) -> str:
        """Press the button whose label contains ``label_substring``."""
        return self.press(message, message.button_data(label_substring))

    def send_location(self, lat: float, lon: float) -> int:
        """Share a location (as the request_location keyboard button or the attach menu does)."""
        return self._send("user/location", latitude=lat, longitude=lon)

    def send_sticker(self, file_id: str | None = None, emoji: str = "👍") -> int:
        """Send a sticker (a fake file id is made up when none is given)."""
        return self._send("user/sticker", file_id=file_id, emoji=emoji)

    def send_photo(
        self, content: bytes | None = None, caption: str | None = None, file_id: str | None = None
    ) -> int:
        """Send a photo; the bot can getFile and download ``content`` (a 1x1 PNG by default)."""
        return self._send(
            "user/photo",
            caption=caption,
            file_id=file_id,
            content_base64=base64.b64encode(content).decode() if content is not None else None,
        )

    def send_document(
        self,
        content: bytes = b"document\n",
        file_name: str = "document.txt",
        mime_type: str = "text/plain",
        caption: str | None = None,
    ) -> int:
        """Send a document the bot can download."""
        return self._send(
            "user/document",
            content_base64=base64.b64encode(content).decode(),
            file_name=file_name,
            mime_type=mime_type,
            caption=caption,
        )

    def send_voice(self, content: bytes = b"OggS fake voice", duration: int = 2) -> int:
        """Send a voice note the bot can download."""
        return self._send(
            "user/voice",
            content_base64=base64.b64encode(content).decode(),
            duration=duration,
        )

    def send_contact(
        self, phone_number: str, first_name: str | None = None, own: bool = True
    ) -> int:
        """Share a contact; ``own`` makes it the user's own (user_id set, as request_contact does)."""
        payload: dict[str, Any] = {
            "token": self.token,
            "user": self._user(),
            "chat_id": self.chat_id,
            "phone_number": phone_number,
        }
        if first_name:
            payload["first_name"] = first_name
        if not own:
            payload["user_id"] = None
        result = self.emulator.call("user/contact", payload)
        self.last_message_id = int(result["message_id"])
        return self.last_message_id

    def send_raw(self, message: dict[str, Any]) -> int:
        """Send a message with arbitrary Bot API Message fields (e.g. ``{"web_app_data": ...}``)."""
        return self._send("user/raw", message=message)

    def edit(self, message_id: int, new_text: str) -> int:
        """Edit a text message the user sent: the bot gets an ``edited_message`` update."""
        return self._send("user/edit", message_id=message_id, text=new_text)

    # -- what the bot does --

    def replies(
        self, n: int = 1, timeout: float = 15.0, events: Sequence[str] = ("sent", "edited")
    ) -> list[BotMessage]:
        """Wait until the bot sent (or edited) ``n`` more messages in this chat; return them.

        Each bot output is returned once, in order; an edit comes back as the
        edited message with ``event == "edited"``. Raises :class:`EmulatorTimeout`
        (an AssertionError) with what arrived if fewer than ``n`` came in time.
        """
        messages, self.cursor, complete = self.emulator.wait_bot_messages(
            self.token, self.chat_id, self.cursor, n, timeout, events
        )
        if not complete:
            got = [f"{m.event} #{m.message_id}: {m.text[:80]!r}" for m in messages]
            raise EmulatorTimeout(
                f"expected {n} bot message(s) in chat {self.chat_id} within {timeout} s, got {len(messages)}: {got}",
                messages,
            )
        return messages

    def reply(self, timeout: float = 15.0) -> BotMessage:
        """Wait for exactly one more bot message or edit and return it."""
        return self.replies(1, timeout)[0]

    def drain(self) -> list[BotMessage]:
        """Return (and consume) every bot output not returned yet, without waiting."""
        messages, self.cursor, _ = self.emulator.wait_bot_messages(
            self.token, self.chat_id, self.cursor, 0, 0.0
        )
        return messages

    def ask(self, text: str, n: int = 1, timeout: float = 15.0) -> list[BotMessage]:
        """``send_text(text)`` then ``replies(n)``."""
        self.send_text(text)
        return self.replies(n, timeout)

    def ask_command(
        self, cmd: str, arg: str = "", n: int = 1, timeout: float = 15.0
    ) -> list[BotMessage]:
        """``send_command(cmd, arg)`` then ``replies(n)``."""
        self.send_command(cmd, arg)
        return self.replies(n, timeout)

    def press_and_wait(
        self, message: BotMessage | int, callback_data: str, n: int = 1, timeout: float = 15.0
    ) -> list[BotMessage]:
        """``press(message, callback_data)`` then ``replies(n)`` (an edit counts as one)."""
        self.press(message, callback_data)
        return self.replies(n, timeout)

    def callback_answer(
        self, callback_query_id: str, timeout: float = 10.0
    ) -> dict[str, Any] | None:
        """Wait for the bot's answerCallbackQuery; its ``text``/``show_alert``, or None if none came."""
        result = self.emulator.call(
            "callback/answer",
            {"token": self.token, "callback_query_id": callback_query_id, "timeout": timeout},
            wait=timeout,
        )
        return result["answer"] if result["answered"] else None

    def history(self) -> list[BotMessage]:
        """Every bot message in this chat in its current state (edits in ``versions``, ``deleted``)."""
        data = self.emulator.history(self.token, self.chat_id)
        return [BotMessage.from_json(m) for m in data["messages"]]

    def visible_history(self) -> list[BotMessage]:
        """The bot messages of this chat that are not deleted."""
        return [m for m in self.history() if not m.deleted]

    def sent_messages(self) -> list[UserMessage]:
        """What this user sent, with ``deleted`` set for those the bot deleted."""
        data = self.emulator.history(self.token, self.chat_id)
        return [
            UserMessage(
                message_id=int(m["message_id"]),
                kind=str(m.get("kind", "text")),
                text=m.get("text"),
                deleted=bool(m.get("deleted")),
                edited=bool(m.get("edited")),
                raw=m,
            )
            for m in data["user_messages"]
        ]
