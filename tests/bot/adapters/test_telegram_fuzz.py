"""Property-based fuzzing of the Telegram handlers, through python-telegram-bot itself.

The engine fuzz (tests/bot/dialogue/test_engine_fuzz.py) proves the pure engine answers any
event in any state. This one proves the same of what a person on Telegram actually
reaches: Hypothesis makes up raw Bot API update JSON, and each update goes through
`Update.de_json` and `Application.process_update` of the real Application built by
`build_application` — the real handlers and filters, ChatOrder, the real Assistant with
the real Rasa model, a real redis-server, and the Bot's HTTP calls (sendMessage,
answerCallbackQuery, deleteMessage, getFile…) going to the Bot API emulator on loopback
with a token of its own. What the bot sent is read back from the emulator.

Every case starts from a conversation state reached by real steps — the commands and the
buttons the bot itself offered — in a fresh private chat: nothing said yet, the main menu,
the language picker, looking for services, a quiz in progress, each step of the report
flow, and each step of the follow-up flow (with a receipt from a report really sent). Then
1–3 stray updates arrive: random text (empty, whitespace, control characters and NUL,
RTL, emoji only, mixed scripts, lone surrogates as JSON "\\ud800" escapes allow, up to
Telegram's 4096 characters and beyond), commands with random arguments, forged, stale,
expired and oversized callback data, buttons the bot really offered, stickers, polls,
contacts, dice, venues, locations with absurd coordinates, photos, documents, voice notes
and videos with odd sizes and MIME types, edited messages, group and channel posts,
my_chat_member updates and inline queries.

What must hold after every update:

- no exception reaches PTB's error handlers (a recording handler is registered);
- every private-chat message or button press gets at least one reply; updates the bot
  deliberately ignores get none, and nothing is sent anywhere else: group, supergroup and
  channel messages (only private chats are served: others could read what a person asks),
  buttons under group messages, my_chat_member, reactions and inline queries, button
  presses with no message to answer in (an inline-mode message: the bot has no inline
  mode), and the edits Telegram sends every few seconds while a live location moves;
- replies are non-empty, at most 4096 characters, and never show a traceback;
- the chat's stored state still decrypts and loads (DialogueStore.load);
- a report in progress keeps everything typed or attached, unless the user navigated
  away, cancelled or sent it — and then a reply says so explicitly.

The flood limit is set high: flooding has its own end-to-end test (tests/e2e/test_load.py).
The number of cases and updates is printed at the end of the module's run.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis
from telegram import Update
from telegram.ext import Application, ContextTypes

from bot.adapters.telegram import build_application
from bot.assistant import Assistant
from bot.content import LOCALES, Catalog
from bot.dialogue.engine import COMMANDS, Engine
from bot.dialogue.state import ChatState, Flow
from bot.dialogue.store import DialogueStore, chat_key
from bot.nlu import Understanding
from bot.nlu.rasa_local import RasaLocalNLU
from sini.redis import PREFIX, connect_redis
from sini.redis_server import LocalRedis
from sini.settings import Settings
from tests.conftest import DESK_PASSWORD, SECRET, crisis_net
from tests.support.callbacks import KNOWN_ACTIONS
from tests.support.telegram_emulator import BotMessage, TelegramEmulator
from tips.crypto import MINIMUM_FOR_TESTS, draft_box
from tips.intake import Intake
from tips.keys import init_desk_keys
from tips.model import Draft

FUZZ_TOKEN = "515151:FUZZ-token-for-the-handler-fuzz-only-0"
BOT_ID = 515151
CASES_PER_STATE = 50
MAX_TELEGRAM_TEXT = 4096
FIRST_CHAT = 880_000_000
NOT_A_REPLY = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+")
EXPLICIT_END = ("report.left", "cancel.done", "report.quota", "report.not_ready")
A_TIP = "Un homme vend du tramadol aux élèves devant le lycée, chaque matin"


# ----------------------------------------------------------------- stray updates


@dataclass(frozen=True)
class Stray:
    """One update as Hypothesis made it up, before the harness gives it its ids.

    kind: message | edited_message | callback | press | stale_press | group | group_press |
          channel_post | edited_channel_post | my_chat_member | message_reaction |
          inline_query
    content: the Message fields (or callback details) to put in it
    """

    kind: str
    content: dict[str, Any]
    language_code: str | None = None

    @property
    def must_answer(self) -> bool:
        """Private messages and button presses under a message get a reply, except a live
        location moving (Telegram edits it every few seconds: answering would spam)."""
        if self.kind == "edited_message":
            return "location" not in self.content
        if self.kind in ("message", "press", "stale_press"):
            return True
        return self.kind == "callback" and self.content.get("with_message", False)


def lone_surrogates() -> st.SearchStrategy[str]:
    return st.text(
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3
    )


SPECIAL_TEXTS = [
    "",
    " ",
    "\n\t ",
    "\x00",
    "\x00" * 40,
    "a\x00b\x07c\x1b[31m",
    "\u202e ﻣﺮﺣﺒﺎ كيف الحال \u200f",
    "שלום עליכם",
    "😂" * 60,
    "🆘",
    "👨‍👩‍👧‍👦🏳️‍🌈",
    "ߒ ߓߊ߯ߙߊ ߞߍ߫ ߞߏ",  # N'Ko
    "Tramadol بيع ߒߞߏ ɛɔɲ 中文 кириллица",
    "c koi le yamba stp",
    "n b'a fɛ ka tramadol dabila",
    "mon frère a pris trop de tramadol il respire presque plus",
    "🆘 Urgence",
    "🆘 Farati",
    "📋 Menu",
    "K7QM-2XPD",
    "/",
    "//",
    "/start@SomeOtherBot",
    "\ufeff/start",
    "Kayes",
    "Bamako, Commune II",
]
huge_texts = st.builds(
    lambda unit, n: unit * n,
    st.sampled_from(["x", "é", "😂", "ߊ", "ب", "ab ", "\x00", "\u200b"]),
    st.integers(1000, 5000),
)
texts = st.one_of(
    st.sampled_from(SPECIAL_TEXTS),
    st.text(max_size=120),
    st.text(st.characters(codec="utf-8"), max_size=60),
    st.builds(
        lambda a, s, b: a + s + b, st.text(max_size=20), lone_surrogates(), st.text(max_size=20)
    ),
    huge_texts,
    st.text(min_size=4090, max_size=4100, alphabet="aé 😂\n"),
)
commands = st.builds(
    lambda name, at, arg: f"/{name}{at}" + (f" {arg}" if arg else ""),
    st.one_of(st.sampled_from(sorted(COMMANDS)), st.text(min_size=1, max_size=30)),
    st.sampled_from(["", "@sini_bot", "@OtherBot", "@"]),
    st.one_of(st.just(""), st.text(max_size=80), huge_texts),
)
callback_data = st.one_of(
    st.sampled_from(KNOWN_ACTIONS),
    st.text(max_size=64),
    st.text(min_size=65, max_size=400),  # beyond Telegram's 64 bytes: forged
    st.builds(lambda a, s: a + s, st.sampled_from(KNOWN_ACTIONS), lone_surrogates()),
    st.none(),  # a game button has no data
)
language_codes = st.sampled_from([None, "fr", "en", "bm", "ar", "", "fr-ML", "zz-ZZ", "EN"])
odd_sizes = st.one_of(
    st.none(),
    st.integers(-(2**31), -1),
    st.just(0),
    st.integers(1, 20 * 2**20),
    st.integers(2**31, 2**53),
)
odd_mimes = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "image/jpeg",
            "image/png",
            "application/pdf",
            "text/plain",
            "application/x-msdownload",
            "video/mp4",
            "audio/ogg",
            "image/svg+xml",
            "",
            "*/*",
            "image/jpeg; charset=utf-8",
        ]
    ),
    st.text(max_size=40),
)
file_ids = st.one_of(st.text(min_size=1, max_size=60), st.sampled_from(["AgACAgQAAx0", "x"]))
absurd_floats = st.one_of(
    st.floats(-90, 90),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 90.0, -90.0, 180.0, -180.0, 1e308, -1e308, 5e-324, 91.0, 181.0]),
)


def file_object(file_id: str, size: int | None, **extra: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"file_id": file_id, "file_unique_id": f"u{abs(hash(file_id)) % 10**9}"}
    if size is not None:
        found["file_size"] = size
    found.update({k: v for k, v in extra.items() if v is not None})
    return found


def location(lat: float, lon: float) -> dict[str, Any]:
    return {"latitude": lat, "longitude": lon}


def text_fields(text: str) -> dict[str, Any]:
    """A text message as Telegram shapes it: a leading /command carries an entity."""
    fields: dict[str, Any] = {"text": text}
    first = text.split(maxsplit=1)[0] if text.strip() else ""
    if first.startswith("/"):
        length = len(first.encode("utf-16-le", "surrogatepass")) // 2
        fields["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return fields


photo_sizes = st.lists(
    st.builds(
        lambda fid, size, w, h: file_object(fid, size, width=w, height=h),
        file_ids,
        odd_sizes,
        st.integers(0, 100_000),
        st.integers(0, 100_000),
    ),
    max_size=4,
)
message_content = st.one_of(
    texts.map(text_fields),
    commands.map(text_fields),
    st.builds(
        lambda t: {"text": t, "entities": [{"type": "bot_command", "offset": 3, "length": 99}]},
        texts,
    ),
    st.builds(lambda la, lo: {"location": location(la, lo)}, absurd_floats, absurd_floats),
    st.builds(
        lambda la, lo, period: {
            "location": {**location(la, lo), "live_period": period, "heading": 359}
        },
        st.floats(-90, 90),
        st.floats(-180, 180),
        st.integers(60, 86400),
    ),
    st.builds(
        lambda la, lo, title: {
            "location": location(la, lo),
            "venue": {"location": location(la, lo), "title": title, "address": title[::-1]},
        },
        absurd_floats,
        absurd_floats,
        texts,
    ),
    st.builds(
        lambda sizes, caption: {"photo": sizes, **({"caption": caption} if caption else {})},
        photo_sizes,
        st.one_of(st.none(), texts),
    ),
    st.builds(
        lambda fid, size, mime, name: {
            "document": file_object(fid, size, mime_type=mime, file_name=name)
        },
        file_ids,
        odd_sizes,
        odd_mimes,
        st.one_of(
            st.none(), st.text(max_size=300), st.just("../../etc/passwd"), st.just("photo.jpg.exe")
        ),
    ),
    st.builds(
        lambda fid, size, mime, d: {"voice": file_object(fid, size, mime_type=mime, duration=d)},
        file_ids,
        odd_sizes,
        odd_mimes,
        st.integers(0, 10**6),
    ),
    st.builds(
        lambda fid, size, mime: {
            "video": file_object(fid, size, mime_type=mime, width=1, height=1, duration=1)
        },
        file_ids,
        odd_sizes,
        odd_mimes,
    ),
    st.builds(
        lambda fid, size: {
            "animation": file_object(fid, size, width=1, height=1, duration=1),
            "document": file_object(fid, size, mime_type="video/mp4"),
        },
        file_ids,
        odd_sizes,
    ),
    st.builds(lambda fid: {"audio": file_object(fid, 10, duration=3)}, file_ids),
    st.builds(lambda fid: {"video_note": file_object(fid, 10, length=240, duration=3)}, file_ids),
    st.builds(
        lambda fid, emoji: {
            "sticker": file_object(
                fid,
                100,
                type="regular",
                width=512,
                height=512,
                is_animated=False,
                is_video=False,
                emoji=emoji,
            )
        },
        file_ids,
        st.one_of(st.none(), texts),
    ),
    st.builds(
        lambda question, options: {
            "poll": {
                "id": "4242",
                "question": question or "?",
                "options": [
                    {"text": o or "-", "voter_count": 0, "persistent_id": str(i)}
                    for i, o in enumerate(options)
                ],
                "total_voter_count": 0,
                "is_closed": False,
                "is_anonymous": True,
                "type": "regular",
                "allows_multiple_answers": False,
                "allows_revoting": False,
                "members_only": False,
            }
        },
        texts,
        st.lists(st.text(max_size=100), min_size=2, max_size=10),
    ),
    st.builds(
        lambda phone, name: {"contact": {"phone_number": phone, "first_name": name or "x"}},
        st.text(max_size=30),
        st.text(max_size=64),
    ),
    st.builds(
        lambda emoji, value: {"dice": {"emoji": emoji, "value": value}},
        st.sampled_from(["🎲", "🎯", "🏀", "⚽", "🎰", "🎳"]),
        st.integers(-5, 100),
    ),
    st.just({"new_chat_title": "x"}),
    st.just({"delete_chat_photo": True}),
)
private_strays = st.one_of(
    st.builds(Stray, st.just("message"), message_content, language_codes),
    st.builds(Stray, st.just("edited_message"), message_content, language_codes),
    st.builds(
        Stray,
        st.just("callback"),
        st.fixed_dictionaries(
            {
                "data": callback_data,
                "with_message": st.booleans(),
                "accessible": st.booleans(),
                "message_id": st.integers(1, 2**31 - 1),
            }
        ),
        language_codes,
    ),
    st.builds(
        Stray,
        st.just("press"),
        st.fixed_dictionaries({"pick": st.integers(0, 1000)}),
        language_codes,
    ),
    st.builds(
        Stray,
        st.just("stale_press"),
        st.fixed_dictionaries({"pick": st.integers(0, 1000)}),
        language_codes,
    ),
)
ignored_strays = st.one_of(
    st.builds(
        Stray,
        st.just("group"),
        st.fixed_dictionaries(
            {"message": message_content, "type": st.sampled_from(["group", "supergroup"])}
        ),
        language_codes,
    ),
    st.builds(
        Stray,
        st.just("group_press"),
        st.fixed_dictionaries({"data": callback_data}),
        language_codes,
    ),
    st.builds(Stray, st.just("channel_post"), st.fixed_dictionaries({"message": message_content})),
    st.builds(
        Stray,
        st.just("edited_channel_post"),
        st.fixed_dictionaries({"message": texts.map(text_fields)}),
    ),
    st.builds(
        Stray,
        st.just("my_chat_member"),
        st.fixed_dictionaries(
            {
                "old": st.sampled_from(["member", "kicked", "left"]),
                "new": st.sampled_from(["member", "kicked", "left"]),
            }
        ),
        language_codes,
    ),
    st.builds(
        Stray,
        st.just("message_reaction"),
        st.fixed_dictionaries({"emoji": st.sampled_from(["👍", "❤", "🔥"])}),
    ),
    st.builds(
        Stray, st.just("inline_query"), st.fixed_dictionaries({"query": texts}), language_codes
    ),
)
strays = st.lists(
    st.one_of(private_strays, private_strays, private_strays, ignored_strays),
    min_size=1,
    max_size=3,
)


# ----------------------------------------------------------------- the harness


class SharedNLU:
    """The session's Rasa model, which the assistant must not close when the app stops."""

    def __init__(self, nlu: RasaLocalNLU) -> None:
        self.nlu = nlu

    async def parse(self, text: str) -> Understanding:
        return await self.nlu.parse(text)

    async def ready(self) -> bool:
        return await self.nlu.ready()

    async def close(self) -> None:
        return None


@dataclass
class Chat:
    """A private chat of the fuzz, and everything the bot sent in it."""

    chat_id: int
    cursor: int
    seen: list[BotMessage] = field(default_factory=list)
    last: list[BotMessage] = field(default_factory=list)

    @property
    def offered(self) -> list[str]:
        """Callback data of the buttons under the bot's latest answer."""
        return [data for message in self.last for data in message.callback_datas]

    @property
    def earlier(self) -> list[str]:
        """Callback data of every button the bot ever showed in this chat."""
        return [data for message in self.seen for data in message.callback_datas]


@dataclass
class Harness:
    loop: asyncio.AbstractEventLoop
    application: Application  # type: ignore[type-arg]
    emulator: TelegramEmulator
    store: DialogueStore
    catalog: Catalog
    errors: list[str] = field(default_factory=list)
    receipt: tuple[str, str] | None = None
    cases: int = 0
    updates: int = 0
    per_state: dict[str, int] = field(default_factory=dict)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    chats: Iterator[int] = field(default_factory=lambda: itertools.count(FIRST_CHAT, 7))

    def run(self, awaitable: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(awaitable)

    def new_chat(self) -> Chat:
        return Chat(next(self.chats), self.emulator.cursor())

    # -- building update JSON --

    def _user(self, chat_id: int, language_code: str | None) -> dict[str, Any]:
        user: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": "Awa"}
        if language_code is not None:
            user["language_code"] = language_code
        return user

    def _message(
        self, chat: dict[str, Any], sender: dict[str, Any] | None, content: dict[str, Any]
    ) -> dict[str, Any]:
        message = {"message_id": next(self.ids), "date": int(time.time()), "chat": chat, **content}
        if sender is not None:
            message["from"] = sender
        return message

    def _bot_message(
        self, chat: dict[str, Any], message_id: int, accessible: bool = True
    ) -> dict[str, Any]:
        """The message a button was under, as Telegram attaches it (date 0: inaccessible)."""
        if not accessible:
            return {"message_id": message_id, "date": 0, "chat": chat}
        sender = {"id": BOT_ID, "is_bot": True, "first_name": "Sini"}
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": sender,
            "text": "…",
        }

    def update_json(self, stray: Stray, chat: Chat) -> dict[str, Any]:
        """The raw Bot API update for `stray` in `chat` (or in a group or channel)."""
        update_id = next(self.ids)
        user = self._user(chat.chat_id, stray.language_code)
        private = {"id": chat.chat_id, "type": "private", "first_name": "Awa"}
        kind, content = stray.kind, stray.content
        if kind in ("message", "edited_message"):
            message = self._message(private, user, content)
            if kind == "edited_message":
                message["edit_date"] = message["date"] + 1
            return {"update_id": update_id, kind: message}
        if kind in ("callback", "press", "stale_press", "group_press"):
            query: dict[str, Any] = {"id": str(next(self.ids)), "from": user, "chat_instance": "42"}
            if kind == "callback":
                if content["data"] is not None:
                    query["data"] = content["data"]
                if content["with_message"]:
                    query["message"] = self._bot_message(
                        private, content["message_id"], content["accessible"]
                    )
                else:
                    query["inline_message_id"] = "AAAAAAAAAA"
            elif kind == "group_press":
                group = {"id": -(chat.chat_id), "type": "group", "title": "Grin"}
                query["message"] = self._bot_message(group, 1)
                if content["data"] is not None:
                    query["data"] = content["data"]
            else:
                offered = chat.offered if kind == "press" else chat.earlier
                if offered:
                    query["data"] = offered[content["pick"] % len(offered)]
                    under = (
                        (chat.last or chat.seen)[-1].message_id
                        if kind == "press"
                        else chat.seen[content["pick"] % len(chat.seen)].message_id
                    )
                else:
                    query["data"], under = "do:menu", 1
                query["message"] = self._bot_message(private, under)
            return {"update_id": update_id, "callback_query": query}
        if kind == "group":
            group = {"id": -(chat.chat_id), "type": content["type"], "title": "Grin"}
            return {
                "update_id": update_id,
                "message": self._message(group, user, content["message"]),
            }
        if kind in ("channel_post", "edited_channel_post"):
            channel = {
                "id": -1_000_000_000_000 - chat.chat_id,
                "type": "channel",
                "title": "Kibaru",
            }
            return {"update_id": update_id, kind: self._message(channel, None, content["message"])}
        if kind == "my_chat_member":
            bot_user = {"id": BOT_ID, "is_bot": True, "first_name": "Sini"}
            return {
                "update_id": update_id,
                "my_chat_member": {
                    "chat": private,
                    "from": user,
                    "date": int(time.time()),
                    "old_chat_member": {
                        "user": bot_user,
                        "status": content["old"],
                        "until_date": 0,
                    },
                    "new_chat_member": {
                        "user": bot_user,
                        "status": content["new"],
                        "until_date": 0,
                    },
                },
            }
        if kind == "message_reaction":
            return {
                "update_id": update_id,
                "message_reaction": {
                    "chat": private,
                    "message_id": 1,
                    "user": user,
                    "date": int(time.time()),
                    "old_reaction": [],
                    "new_reaction": [{"type": "emoji", "emoji": content["emoji"]}],
                },
            }
        assert kind == "inline_query"
        return {
            "update_id": update_id,
            "inline_query": {
                "id": str(next(self.ids)),
                "from": user,
                "query": content["query"],
                "offset": "",
            },
        }

    # -- sending --

    async def feed(self, data: dict[str, Any], chat: Chat) -> tuple[list[BotMessage], int]:
        """One update through PTB; what the bot sent in this chat, and in all (outputs)."""
        before = self.emulator.cursor()
        await self.application.process_update(Update.de_json(data, self.application.bot))
        self.updates += 1
        sent, chat.cursor, _ = self.emulator.wait_bot_messages(
            FUZZ_TOKEN, chat.chat_id, chat.cursor, 0, 0.0
        )
        after = self.emulator.cursor()
        outputs = after - before
        if sent:
            chat.last = sent
            chat.seen.extend(sent)
        return sent, outputs

    async def step(self, chat: Chat, stray: Stray) -> list[BotMessage]:
        """A setup step: it must be answered without error."""
        sent, _ = await self.feed(self.update_json(stray, chat), chat)
        assert sent, f"setup step {stray} got no answer"
        assert not self.errors, self.errors
        return sent

    async def say(self, chat: Chat, text: str) -> list[BotMessage]:
        return await self.step(chat, Stray("message", text_fields(text), "fr"))

    async def press(self, chat: Chat, data: str) -> list[BotMessage]:
        assert data in chat.offered, f"{data!r} is not offered: {chat.offered}"
        return await self.step(chat, Stray("press", {"pick": chat.offered.index(data)}, "fr"))

    async def press_first(self, chat: Chat, prefix: str) -> list[BotMessage]:
        data = next(d for d in chat.offered if d.startswith(prefix))
        return await self.press(chat, data)

    async def state(self, chat: Chat) -> ChatState | None:
        """The stored state; None when nothing is stored. Fails if it does not decrypt."""
        key = chat_key(SECRET, chat.chat_id)
        raw = await self.store.redis.get(f"{PREFIX}:chat:{key}")
        if raw is None:
            return None
        ChatState.from_json(draft_box(SECRET, key).decrypt(raw))  # raises if damaged
        return await self.store.load(key)

    def rendered(self, message_id: str) -> set[str]:
        return {self.catalog.render(message_id, locale).text for locale in LOCALES}


# ----------------------------------------------------------------- starting states


async def report_steps(h: Harness, chat: Chat, until: str) -> None:
    """Walk the report flow with the buttons the bot shows, up to step `until`."""
    order = ["intro", "category", "where", "when", "what", "noted", "review"]
    await h.say(chat, "/signaler")
    moves: list[Callable[[], Awaitable[list[BotMessage]]]] = [
        lambda: h.press(chat, "rep:start"),
        lambda: h.press_first(chat, "rep:cat:"),
        lambda: h.press(chat, "rep:reg:Kayes"),
        lambda: h.press_first(chat, "rep:when:"),
        lambda: h.say(chat, A_TIP),
        lambda: h.press(chat, "rep:review"),
    ]
    for move in moves[: order.index(until)]:
        await move()


async def followup_steps(h: Harness, chat: Chat, until: str) -> None:
    await h.say(chat, "/suivi")
    if until == "code":
        return
    if until == "passphrase":
        await h.say(chat, "K7QM-2XPD")
        return
    assert h.receipt is not None
    code, passphrase = h.receipt
    await h.say(chat, code)
    (view,) = await h.say(chat, passphrase)
    assert "fol:add" in view.callback_datas, view.text
    if until == "add":
        await h.press(chat, "fol:add")


async def quiz_steps(h: Harness, chat: Chat) -> None:
    await h.say(chat, "/quiz")
    await h.press_first(chat, "quiz:")
    await h.press_first(chat, "quiz:")  # answer the first question: the quiz is under way


async def services_steps(h: Harness, chat: Chat) -> None:
    await h.say(chat, "/services")
    await h.press(chat, "svc:kind:treatment")


async def nothing(h: Harness, chat: Chat) -> None:
    return None


STARTS: dict[str, Callable[[Harness, Chat], Awaitable[None]]] = {
    "fresh chat": nothing,
    "main menu": lambda h, c: h.say(c, "/start"),
    "language picker": lambda h, c: h.say(c, "/langue"),
    "services, asked where": services_steps,
    "quiz in progress": quiz_steps,
    **{
        f"report: {step}": partial(report_steps, until=step)
        for step in ("intro", "category", "where", "when", "what", "noted", "review")
    },
    **{
        f"follow-up: {step}": partial(followup_steps, until=step)
        for step in ("code", "passphrase", "view", "add")
    },
}


# ----------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def harness(
    emulator: TelegramEmulator,
    engine: Engine,
    catalog: Catalog,
    rasa_nlu: RasaLocalNLU,
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[Harness]:
    """The real Application and Assistant in one event loop for the whole module."""
    loop = asyncio.new_event_loop()
    errors: list[str] = []
    with LocalRedis(tmp_path_factory.mktemp("fuzz-redis")) as server:
        redis: Redis[bytes] = connect_redis(server.url)
        store = DialogueStore(
            redis, SECRET, state_ttl=3600, draft_ttl=1800, flood_limit=100_000, flood_window=60
        )
        fuzz_settings = replace(
            settings,
            telegram_token=FUZZ_TOKEN,
            telegram_api_url=emulator.base_url,
            telegram_max_rate=100_000.0,
            flood_limit=100_000,
            staff_chat_id=None,
            metrics_port=0,
            var_dir=Path(tmp_path_factory.mktemp("fuzz-var")),
        )

        def assistant() -> Assistant:
            tips = Intake(redis, SECRET, kdf_limits=MINIMUM_FOR_TESTS)
            return Assistant(engine, SharedNLU(rasa_nlu), store, tips, SECRET, crisis_net())

        application = build_application(fuzz_settings, assistant)

        async def record(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
            error = context.error
            assert error is not None
            errors.append(
                "".join(traceback.format_exception(type(error), error, error.__traceback__))
            )

        application.add_error_handler(record)
        h = Harness(loop, application, emulator, store, catalog, errors)

        async def start() -> None:
            await init_desk_keys(redis, "admin", DESK_PASSWORD, limits=MINIMUM_FOR_TESTS)
            await application.initialize()
            assert application.post_init is not None
            await application.post_init(application)
            chat = h.new_chat()  # one real report, so the follow-up states have a receipt
            await report_steps(h, chat, "review")
            receipt, _offer = await h.press(chat, "rep:send")
            code = re.search(r"Code : (\S+)", receipt.text)
            passphrase = re.search(r"Phrase secrète : ([a-z0-9 ]+)", receipt.text)
            assert code, receipt.text
            assert passphrase, receipt.text
            h.receipt = (code.group(1), passphrase.group(1).strip())

        async def stop() -> None:
            assert application.post_shutdown is not None
            await application.post_shutdown(application)
            await application.shutdown()

        started = time.monotonic()
        h.run(start())
        yield h
        h.run(stop())
        loop.close()
        elapsed = time.monotonic() - started
    summary = (
        f"Telegram handler fuzz: {h.cases} cases, {h.updates} updates through PTB "
        f"from {len(h.per_state)} starting states in {elapsed:.0f} s"
    )
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # visible without -s
            reporter.write_line(f"\n{summary}")


# ----------------------------------------------------------------- the property


async def one_case(h: Harness, start: str, made_up: list[Stray]) -> None:
    chat = h.new_chat()
    await STARTS[start](h, chat)
    receipt_prefix = {t.split("{", 1)[0] for t in _receipt_templates(h)}
    for stray in made_up:
        before = await h.state(chat)
        sent, outputs = await h.feed(h.update_json(stray, chat), chat)
        assert not h.errors, f"{start}: {stray} reached the error handler: {h.errors}"
        if stray.must_answer:
            assert sent, f"{start}: {stray} got no answer"
            assert outputs >= len(sent)
        else:
            assert outputs == 0, f"{start}: {stray} must be ignored, the bot sent {outputs}"
        for reply in sent:
            assert reply.text.strip(), f"{start}: {stray}: an empty reply"
            assert len(reply.text) <= MAX_TELEGRAM_TEXT
            assert not NOT_A_REPLY.search(reply.text), reply.text
        after = await h.state(chat)
        if before is not None and before.flow is Flow.REPORT:
            kept = _keeps_the_report(before, after)
            said = {r.text for r in sent}
            ended = any(said & h.rendered(m) for m in EXPLICIT_END) or any(
                t.startswith(p) for t in said for p in receipt_prefix
            )
            assert kept or ended, f"{start}: {stray} lost the report silently; replies: {said}"


def _receipt_templates(h: Harness) -> set[str]:
    return {
        h.catalog.render("report.receipt", locale, None, code="{", passphrase="{").text
        for locale in LOCALES
    }


def _keeps_the_report(before: ChatState, after: ChatState | None) -> bool:
    """Still reporting, with everything typed or attached so far."""
    if after is None or after.flow is not Flow.REPORT:
        return False
    old = Draft.from_json(before.draft) if before.draft else Draft()
    new = Draft.from_json(after.draft) if after.draft else Draft()
    return (
        new.parts[: len(old.parts)] == old.parts
        and new.attachments[: len(old.attachments)] == old.attachments
    )


@pytest.mark.parametrize("start", list(STARTS))
def test_any_update_in_any_state_is_answered_kindly_or_deliberately_ignored(
    harness: Harness, start: str
) -> None:
    @settings(
        max_examples=CASES_PER_STATE,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        derandomize=False,
    )
    @given(made_up=strays)
    def case(made_up: list[Stray]) -> None:
        harness.errors.clear()
        harness.cases += 1
        harness.per_state[start] = harness.per_state.get(start, 0) + 1
        harness.run(one_case(harness, start, made_up))

    case()
