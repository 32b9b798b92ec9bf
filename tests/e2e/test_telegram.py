"""Sini on Telegram, end to end: the real bot process talks HTTP to a Bot API emulator,
and these tests act as users. They check what a person would see."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable

from PIL import Image

from bot.content import Catalog
from sini.redis import connect_redis
from sini.redis_server import LocalRedis
from tests.conftest import DESK_PASSWORD, STAFF_CHAT_ID, TEST_TOKEN, BotProcess
from tests.support.redis_scan import everything_at
from tests.support.screens import first_screen, screens
from tests.support.telegram_emulator import EmulatedUser, TelegramEmulator
from tips.desk import Desk
from tips.keys import unwrap_desk_keyring

UserFactory = Callable[..., EmulatedUser]


def test_start_shows_the_welcome_the_emergency_key_and_the_menu(
    user_factory: UserFactory, catalog: Catalog
) -> None:
    user = user_factory("fr")
    welcome, menu = user.ask_command("start", n=2)
    assert welcome.text == first_screen(catalog, "welcome", "fr")
    assert "🆘 Urgence" in welcome.keyboard_labels
    assert menu.has_button("Les drogues")
    assert menu.has_button("Signaler")


def test_the_menu_buttons_lead_to_content(user_factory: UserFactory, catalog: Catalog) -> None:
    user = user_factory("fr")
    _, menu = user.ask_command("start", n=2)
    (drugs,) = user.press_and_wait(menu, menu.button_data("Les drogues"))
    assert drugs.text == first_screen(catalog, "drugs.menu", "fr")
    (tramadol,) = user.press_and_wait(drugs, drugs.button_data("Tramadol"))
    assert tramadol.text == first_screen(catalog, "drug.tramadol.about", "fr")


def test_a_french_question_is_answered_in_french(
    user_factory: UserFactory, catalog: Catalog
) -> None:
    user = user_factory("fr")
    (answer,) = user.ask("c'est quoi le tramadol ?")
    assert answer.text == first_screen(catalog, "drug.tramadol.about", "fr")


def test_a_bambara_question_is_answered_in_bambara(
    user_factory: UserFactory, catalog: Catalog
) -> None:
    user = user_factory("fr")  # Telegram has no Bambara interface: the text decides
    (answer,) = user.ask("yamba ye mun ye? n b'a fɛ ka kunnafoni sɔrɔ a kan")
    assert answer.text == first_screen(catalog, "drug.cannabis.about", "bm")


def test_a_crisis_gets_emergency_numbers_first(user_factory: UserFactory, catalog: Catalog) -> None:
    user = user_factory("fr")
    first_aid = len(screens(catalog, "crisis.overdose"))
    answer, *_, next_steps = user.ask(
        "mon frère a pris trop de tramadol il respire presque plus", n=first_aid + 1
    )
    first_line = answer.text.splitlines()
    numbers = [line.number for line in catalog.emergency]
    assert all(number in answer.text for number in numbers)
    assert any(numbers[0] in line for line in first_line[:3])
    assert "🆘 Urgence" in answer.keyboard_labels
    assert next_steps.has_button("Trouver de l'aide")


def test_out_of_scope_gets_a_clarifying_menu(user_factory: UserFactory) -> None:
    user = user_factory("fr")
    (answer,) = user.ask("qui va gagner la CAN cette année ?")
    assert answer.buttons, "a clarifying menu has buttons"
    assert answer.has_button("Menu")


def test_forged_buttons_stickers_and_edits_get_kind_answers(
    user_factory: UserFactory, catalog: Catalog
) -> None:
    user = user_factory("fr")
    _, menu = user.ask_command("start", n=2)
    user.press(menu, "show:../../../etc/passwd", force=True)
    (forged,) = user.replies()
    assert forged.text == first_screen(catalog, "error.expired_button", "fr")
    user.send_sticker()
    (sticker,) = user.replies()
    assert sticker.text == first_screen(catalog, "error.unsupported", "fr")
    sent = user.send_text("salut")
    user.replies()
    user.edit(sent, "salut toi")
    (edited,) = user.replies()
    assert edited.text == first_screen(catalog, "error.edited", "fr")


def test_the_bot_logs_no_identity_no_text_and_no_errors(
    user_factory: UserFactory, bot: BotProcess
) -> None:
    user = user_factory("fr", first_name="Mariam", username="mariam_secret_handle")
    user.ask("je veux des infos sur le kush svp")
    user.ask_command("urgence")
    log = bot.log()
    for secret in [
        str(user.user_id),
        "Mariam",
        "mariam_secret_handle",
        "kush svp",
        "TEST-token-for-the-emulator",
    ]:
        assert secret not in log, secret
    assert "Traceback" not in log
    assert [line for line in log.splitlines() if "handler_error" in line] == []
    assert "Error while parsing updates" not in log


def test_an_anonymous_report_end_to_end_leaves_no_trace(
    user_factory: UserFactory,
    catalog: Catalog,
    bot: BotProcess,
    bot_redis: LocalRedis,
    emulator: TelegramEmulator,
) -> None:
    user = user_factory("fr", first_name="Fatoumata", username="fatou_secret_42")
    secret = "Un réseau recrute des filles à Kayes pour un faux travail en Algérie"
    (intro,) = user.ask_command("signaler")
    assert intro.protect_content
    (category,) = user.press_and_wait(intro, "rep:start")
    where_keyboard, regions = user.press_and_wait(category, "rep:cat:human_trafficking", n=2)
    assert where_keyboard.request_location
    (when,) = user.press_and_wait(regions, "rep:reg:Kayes")
    user.press_and_wait(when, "rep:when:ongoing", n=2)
    (noted,) = user.ask(secret)
    (review,) = user.press_and_wait(noted, "rep:review")
    receipt, erase_offer = user.press_and_wait(review, "rep:send", n=2)
    assert "Code :" in receipt.text
    assert receipt.protect_content
    (erased,) = user.press_and_wait(erase_offer, "rep:erase")
    assert erased.text == first_screen(catalog, "report.erased", "fr")
    gone = [m for m in user.history() if m.deleted]
    assert {receipt.message_id, intro.message_id} <= {m.message_id for m in gone}
    leaks = [str(user.user_id), "Fatoumata", "fatou_secret_42", "faux travail"]
    staff_notices = emulator.history(TEST_TOKEN, STAFF_CHAT_ID)["messages"]
    assert "Traite" in staff_notices[-1]["text"]
    assert "kayes" in staff_notices[-1]["text"]
    assert not any(leak in staff_notices[-1]["text"] for leak in leaks)
    assert_redis_holds_none_of(bot_redis, leaks)
    log = bot.log()
    for leak in leaks:
        assert leak not in log, leak


def assert_redis_holds_none_of(server: LocalRedis, secrets: list[str]) -> None:
    dump = everything_at(server.url)
    for secret in secrets:
        assert secret.encode() not in dump, secret


def test_a_bambara_tramadol_question_gets_the_bambara_answer_with_more_buttons(
    user_factory: UserFactory, catalog: Catalog
) -> None:
    user = user_factory("fr")
    (answer,) = user.ask("tramadol ye mun ye? n b'a fɛ ka kunnafoni sɔrɔ a kan")
    assert answer.text == first_screen(catalog, "drug.tramadol.about", "bm")
    (last,) = user.press_and_wait(answer, answer.button_data("(2/"))
    assert last.has_button(catalog.gettext("Effets", "bm"))


def test_a_location_in_bamako_lists_the_nearest_treatment_with_distances(
    user_factory: UserFactory, catalog: Catalog
) -> None:
    user = user_factory("fr")
    (kinds,) = user.ask_command("services")
    where, _regions = user.press_and_wait(kinds, "svc:kind:treatment", n=2)
    assert where.request_location
    user.send_location(12.6392, -8.0029)  # Bamako
    (found,) = user.replies()
    assert "Point G" in found.text
    assert " km" in found.text


def test_naming_sikasso_lists_services_there(user_factory: UserFactory) -> None:
    user = user_factory("fr")
    (answer,) = user.ask("je cherche un centre d'accueil pour victimes à Sikasso")
    assert "Sikasso" in answer.text


def test_a_reporter_with_a_photo_follows_up_and_reads_the_staff_reply(
    user_factory: UserFactory, bot_redis: LocalRedis
) -> None:
    user = user_factory("fr", first_name="Moussa", username="moussa_k")
    (intro,) = user.ask_command("signaler")
    (category,) = user.press_and_wait(intro, "rep:start")
    _keyboard, regions = user.press_and_wait(category, "rep:cat:drug_trafficking", n=2)
    (when,) = user.press_and_wait(regions, "rep:reg:Bamako")
    user.press_and_wait(when, "rep:when:ongoing", n=2)
    user.ask("Le dealer vend près du pont, chaque soir")
    user.send_photo(photo_with_gps())
    (noted,) = user.replies()
    assert "1" in noted.text
    (review,) = user.press_and_wait(noted, "rep:review")
    receipt, erase_offer = user.press_and_wait(review, "rep:send", n=2)
    code = receipt.text.split("Code : ")[1].split()[0]
    passphrase = receipt.text.split("Phrase secrète : ")[1].splitlines()[0].strip()
    user.press_and_wait(erase_offer, "rep:erase")

    photo, lookup = asyncio.run(staff_reads_photo_and_replies(bot_redis))
    exif = Image.open(io.BytesIO(photo)).getexif()
    assert not exif.get_ifd(0x8825)  # no GPS left
    assert 0x010F not in exif  # no camera make

    user.ask_command("suivi")
    user.ask(code)
    user.send_text(passphrase)
    (view,) = user.replies(timeout=30)
    assert "Merci, nous avons transmis." in view.text
    user.press_and_wait(view, "fol:add")
    user.ask("Il a aussi une moto rouge")
    user.send_text(passphrase)
    (added,) = user.replies(timeout=30)
    assert "✅" in added.text
    thread = asyncio.run(staff_reads_thread(bot_redis, lookup))
    assert thread[-1] == "Il a aussi une moto rouge"


def test_a_bambara_user_who_cancels_midway_leaves_nothing(
    user_factory: UserFactory, bot_redis: LocalRedis
) -> None:
    user = user_factory("fr")
    (picker,) = user.ask_command("langue")
    user.press_and_wait(picker, "lang:bm")
    (intro,) = user.ask_command("signaler")
    (category,) = user.press_and_wait(intro, "rep:start")
    _keyboard, regions = user.press_and_wait(category, "rep:cat:child_exploitation", n=2)
    (when,) = user.press_and_wait(regions, "rep:reg:Mopti")
    user.press_and_wait(when, "rep:when:today", n=2)
    user.ask("denmisɛn dɔw bɛ baara la sanu dingɛ kɔnɔ")
    user.ask_command("annuler")
    assert_redis_holds_none_of(bot_redis, ["sanu dingɛ", str(user.user_id)])


def test_the_chosen_language_survives_a_bot_restart(
    user_factory: UserFactory, catalog: Catalog, bot: BotProcess
) -> None:
    user = user_factory("fr")
    (picker,) = user.ask_command("langue")
    user.press_and_wait(picker, "lang:en")
    bot.restart()
    (menu,) = user.ask_command("menu")
    assert menu.text == first_screen(catalog, "menu.main", "en")


def photo_with_gps() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (12.0, 38.0, 21.0), 3: "W", 4: (8.0, 0.0, 10.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


async def staff_reads_photo_and_replies(server: LocalRedis) -> tuple[bytes, str]:
    redis = connect_redis(server.url)
    try:
        store = Desk(redis)
        keyring = await unwrap_desk_keyring(redis, "admin", DESK_PASSWORD)
        # tips of the same hour share a timestamp: find ours by its photo, not by order
        newest = next(t for t in await store.records() if t.attachment_count == 1)
        photo = await store.open_attachment(newest.lookup, 0, keyring)
        await store.reply_to_tipster(
            newest.lookup, "Merci, nous avons transmis.", keyring.public_key
        )
        return photo, newest.lookup
    finally:
        await redis.close()


async def staff_reads_thread(server: LocalRedis, lookup: str) -> list[str]:
    redis = connect_redis(server.url)
    try:
        store = Desk(redis)
        keyring = await unwrap_desk_keyring(redis, "admin", DESK_PASSWORD)
        return [message.text for message in await store.thread(lookup, keyring)]
    finally:
        await redis.close()


def test_telegram_flood_control_delays_answers_but_never_drops_them(
    user_factory: UserFactory, catalog: Catalog, emulator: TelegramEmulator
) -> None:
    """Telegram answers 429 retry_after: PTB's rate limiter waits and sends again."""
    user = user_factory("fr")
    emulator.call(
        "bot/flood", {"token": TEST_TOKEN, "method": "sendMessage", "count": 2, "retry_after": 1}
    )
    (answer,) = user.ask_command("urgence", timeout=30)
    assert catalog.emergency[0].number in answer.text


def test_rapid_messages_are_answered_in_order_while_chats_run_concurrently(
    user_factory: UserFactory, catalog: Catalog
) -> None:
    """Updates run concurrently (the NLU batches across chats); each chat keeps its order."""
    users = [user_factory("fr") for _ in range(3)]
    sent = ["c'est quoi le tramadol", "/urgence", "merci beaucoup", "/menu"]
    for user in users:
        for text in sent:
            if text.startswith("/"):
                user.send_command(text)
            else:
                user.send_text(text)
    expected = [
        first_screen(catalog, "drug.tramadol.about", "fr"),
        first_screen(catalog, "emergency", "fr"),
        first_screen(catalog, "intent.thanks", "fr"),
        first_screen(catalog, "menu.main", "fr"),
    ]
    for user in users:
        assert [reply.text for reply in user.replies(4, timeout=30)] == expected
