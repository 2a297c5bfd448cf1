"""The Telegram world around the bot: people, chats, messages and the update queue.

Tests act as people in the Telegram app through the public methods here (send a text,
a photo or a voice note, edit a sent text, press a button, add the bot to a group). Each
action stores the message and enqueues the update Telegram would deliver. The bot polls
from another thread, so every public method holds the lock.
"""

import contextlib
import copy
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from telegram import Message as PtbMessage

from .entities import command_entity, utf16_len
from .markup import button_rows
from .params import Upload

Message = dict[str, Any]
MessageRef = int | Mapping[str, Any] | PtbMessage
"""A message as a test holds it: its id, its JSON dict, or the PTB Message the bot got."""

_JPEG = b"\xff\xd8\xff\xe0"
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
SUPERGROUP_ID_BASE = -(10**12)
"""Supergroup ids are -100xxxxxxxxxx, i.e. below -10**12; basic groups lie above it."""


@dataclass
class StoredMessage:
    data: Message
    by_bot: bool
    deleted: bool = False


@dataclass
class Chat:
    id: int
    type: str
    title: str | None = None
    bot_member: bool = False
    """Groups: the bot is in the group. Private chats: the user has started the bot."""
    blocked: bool = False
    migrated_to: int | None = None
    added_by: int | None = None
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1


@dataclass
class User:
    id: int
    first_name: str
    username: str | None
    language_code: str | None

    def as_dict(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user


@dataclass
class CallbackQuery:
    data: dict[str, Any]
    answer: dict[str, Any] | None = None


def _check_position(latitude: float, longitude: float) -> None:
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValueError("latitude/longitude out of range")


def check_group_id(chat_id: int, chat_type: str) -> None:
    """Refuse ids Telegram would never give such a chat, so tests use realistic ones."""
    if chat_type == "group" and SUPERGROUP_ID_BASE < chat_id < 0:
        return
    if chat_type == "supergroup" and chat_id < SUPERGROUP_ID_BASE:
        return
    raise ValueError(
        f"{chat_id} is no {chat_type} id: groups are negative (e.g. -4012345678), "
        "supergroups are -100xxxxxxxxxx (e.g. -1001234567890)"
    )


class World:
    """State shared by the Bot API side and the user side of the fake."""

    def __init__(
        self,
        bot_id: int,
        bot_username: str,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
    ) -> None:
        self._cond = threading.Condition(threading.RLock())
        self.clock = clock
        self._wall_clock = wall_clock
        self.bot_user: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Lägesbild (test)",
            "username": bot_username,
        }
        self.privacy_mode = True
        """In groups the bot sees only commands, replies to it and service messages."""
        self.files: dict[str, Upload] = {}
        self.left_chats: list[int] = []
        self._users: dict[int, User] = {}
        self._chats: dict[int, Chat] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._allowed_updates: frozenset[str] = frozenset()
        self._callback_queries: dict[str, CallbackQuery] = {}
        self._waiting_polls = 0

    # --- people acting in the Telegram app -------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str = "Anna",
        username: str | None = None,
        *,
        language_code: str | None = "sv",
    ) -> dict[str, Any]:
        """Register a person; they can reach the bot, but it can't write to them before /start."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        with self._cond:
            user = self._users[user_id] = User(user_id, first_name, username, language_code)
            return user.as_dict()

    def send_text(
        self, user_id: int, text: str, chat_id: int | None = None, *, reply_to: int | None = None
    ) -> Message:
        """A text from the user (private chat unless chat_id); /commands get their entity."""
        if not 1 <= utf16_len(text) <= 4096:
            raise ValueError("Telegram clients send 1..4096 characters")
        content: dict[str, Any] = {"text": text}
        command = command_entity(text)
        if command:
            content["entities"] = [command[0]]
        return self._user_message(user_id, chat_id, content, reply_to)

    def share_location(
        self,
        user_id: int,
        latitude: float,
        longitude: float,
        chat_id: int | None = None,
        *,
        reply_to: int | None = None,
        live_period: int | None = None,
    ) -> Message:
        """A shared position; with ``live_period`` (seconds) a live location that moves."""
        _check_position(latitude, longitude)
        location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        if live_period is not None:
            if not 60 <= live_period <= 86400 and live_period != 0x7FFFFFFF:
                raise ValueError("live_period is 60..86400 seconds, or 0x7FFFFFFF (forever)")
            location["live_period"] = live_period
        return self._user_message(user_id, chat_id, {"location": location}, reply_to)

    def move_live_location(
        self,
        user_id: int,
        message: MessageRef,
        latitude: float,
        longitude: float,
        chat_id: int | None = None,
    ) -> Message:
        """The phone moves while sharing a live location: an ``edited_message`` update."""
        _check_position(latitude, longitude)
        with self._cond:
            stored = self._user_own_message(user_id, message, chat_id)
            location = stored.data.get("location")
            if location is None or "live_period" not in location:
                raise AssertionError("only a live location moves")
            location |= {"latitude": latitude, "longitude": longitude}
            stored.data["edit_date"] = max(self._now(), stored.data["date"])
            chat = self._chats[stored.data["chat"]["id"]]
            if self._visible_to_bot(chat, stored.data):
                self._enqueue("edited_message", stored.data)
            return copy.deepcopy(stored.data)

    def edit_text(
        self, user_id: int, message: MessageRef, text: str, chat_id: int | None = None
    ) -> Message:
        """The user edits a text they sent earlier: an ``edited_message`` update.

        Telegram delivers the same message_id with the new text and an edit_date; the
        original date stays. Only the sender can edit, and only a message still there.
        """
        if not 1 <= utf16_len(text) <= 4096:
            raise ValueError("Telegram clients send 1..4096 characters")
        with self._cond:
            self._known_user(user_id)
            stored = self._user_own_message(user_id, message, chat_id)
            if "text" not in stored.data:
                raise AssertionError("edit_text edits texts; this message has no text")
            if stored.data["text"] == text:
                raise AssertionError("an unchanged text is no edit: Telegram sends nothing")
            stored.data["text"] = text
            stored.data.pop("entities", None)
            command = command_entity(text)
            if command:
                stored.data["entities"] = [command[0]]
            stored.data["edit_date"] = max(self._now(), stored.data["date"])
            chat = self._chats[stored.data["chat"]["id"]]
            if self._visible_to_bot(chat, stored.data):
                self._enqueue("edited_message", stored.data)
            return copy.deepcopy(stored.data)

    def send_photo(
        self,
        user_id: int,
        chat_id: int | None = None,
        *,
        caption: str | None = None,
        reply_to: int | None = None,
    ) -> Message:
        """A photo as Telegram delivers it: PhotoSize objects, smallest first."""
        with self._cond:
            sizes = [
                self._user_file(Upload("photo.jpg", _JPEG + bytes(side // 10), "image/jpeg"))
                | {"width": side, "height": side * 3 // 4}
                for side in (90, 320, 1280)
            ]
            return self._user_media(user_id, chat_id, {"photo": sizes}, caption, reply_to)

    def send_voice(
        self, user_id: int, duration: int = 4, chat_id: int | None = None,
        *, reply_to: int | None = None,
    ) -> Message:
        """A voice note recorded in the app (OGG/Opus)."""
        with self._cond:
            voice = self._user_file(Upload("voice.ogg", b"OggS" + bytes(duration), "audio/ogg"))
            voice |= {"duration": duration, "mime_type": "audio/ogg"}
            return self._user_media(user_id, chat_id, {"voice": voice}, None, reply_to)

    def send_sticker(
        self, user_id: int, emoji: str = "👍", chat_id: int | None = None,
        *, reply_to: int | None = None,
    ) -> Message:
        """A regular static sticker from a sticker set."""
        with self._cond:
            sticker = self._user_file(Upload("sticker.webp", b"RIFF\0\0\0\0WEBP", "image/webp"))
            sticker |= {"type": "regular", "width": 512, "height": 512, "is_animated": False,
                        "is_video": False, "emoji": emoji, "set_name": "FakeStickers"}
            return self._user_media(user_id, chat_id, {"sticker": sticker}, None, reply_to)

    def send_document(
        self,
        user_id: int,
        file_name: str = "bild.pdf",
        content: bytes = b"%PDF-1.4 fake",
        mime_type: str = "application/pdf",
        chat_id: int | None = None,
        *,
        caption: str | None = None,
        reply_to: int | None = None,
    ) -> Message:
        """A file sent as a document (any type, as sent with the paperclip)."""
        with self._cond:
            document = self._user_file(Upload(file_name, content, mime_type))
            document |= {"file_name": file_name, "mime_type": mime_type}
            return self._user_media(user_id, chat_id, {"document": document}, caption, reply_to)

    def send_content(
        self,
        user_id: int,
        content: Mapping[str, Any],
        chat_id: int | None = None,
        *,
        reply_to: int | None = None,
    ) -> Message:
        """Any other kind of message, given as its Bot API fields (video, contact, dice...)."""
        reserved = {"message_id", "from", "chat", "date", "reply_to_message", "edit_date"}
        if not content or reserved & set(content):
            raise ValueError(f"content needs its own fields, none of {sorted(reserved)}")
        return self._user_message(user_id, chat_id, copy.deepcopy(dict(content)), reply_to)

    def click(
        self, user_id: int, message: MessageRef, button_text: str, chat_id: int | None = None
    ) -> dict[str, Any]:
        """Press the inline button with exactly this text on the message's current keyboard."""
        with self._cond:
            user = self._known_user(user_id)
            stored = self._bot_message(message, chat_id, default_chat=user_id)
            buttons = [b for row in button_rows(stored.data.get("reply_markup")) for b in row]
            button = next((b for b in buttons if b["text"] == button_text), None)
            if button is None:
                raise AssertionError(
                    f"no button {button_text!r} on message {stored.data['message_id']} in chat "
                    f"{stored.data['chat']['id']}; its buttons: {[b['text'] for b in buttons]}"
                )
            if "callback_data" not in button:
                raise AssertionError(f"button {button_text!r} sends no callback query: {button}")
            return self._callback_query(user, stored, button["callback_data"])

    def click_data(
        self, user_id: int, message: MessageRef, data: str, chat_id: int | None = None
    ) -> dict[str, Any]:
        """A callback query with arbitrary data, as a modified client can send."""
        with self._cond:
            user = self._known_user(user_id)
            stored = self._bot_message(message, chat_id, default_chat=user_id)
            return self._callback_query(user, stored, data)

    def create_group(self, chat_id: int, title: str, type: str = "group") -> dict[str, Any]:
        """A group or supergroup; the bot is not in it until add_bot_to_group."""
        check_group_id(chat_id, type)
        with self._cond:
            if chat_id in self._chats:
                raise ValueError(f"chat {chat_id} exists")
            chat = self._chats[chat_id] = Chat(chat_id, type, title)
            return self._chat_dict(chat)

    def add_bot_to_group(self, chat_id: int, by_user_id: int) -> Message:
        """Enqueues my_chat_member (left -> member) and the new_chat_members message."""
        with self._cond:
            user = self._known_user(by_user_id)
            chat = self._group(chat_id)
            if chat.bot_member:
                raise AssertionError(f"the bot is already in {chat_id}")
            chat.bot_member = True
            chat.added_by = user.id
            self._enqueue("my_chat_member", self._member_update(chat, user, "left", "member"))
            content = {"new_chat_members": [self.bot_user]}
            message = self._store(chat, user.as_dict(), content, by_bot=False)
            self._enqueue("message", message)
            return copy.deepcopy(message)

    def migrate_group(self, old_id: int, new_id: int) -> Message:
        """Upgrade a group to a supergroup; returns the migrate_from_chat_id message."""
        with self._cond:
            return copy.deepcopy(self._migrate(old_id, new_id))

    def block_bot(self, user_id: int) -> None:
        """The user blocks the bot: sends answer 403 until the user writes to it again."""
        with self._cond:
            chat = self._chats.get(user_id)
            if chat is None or not chat.bot_member:
                raise AssertionError(f"user {user_id} never started the bot")
            chat.blocked = True
            user = self._users[user_id]
            self._enqueue("my_chat_member", self._member_update(chat, user, "member", "kicked"))

    # --- inspection -------------------------------------------------------------------

    def messages(self, chat_id: int, *, include_deleted: bool = False) -> list[Message]:
        """Messages of both sides in order; deleted ones only on request (marked deleted)."""
        with self._cond:
            return [self._view(m) for m in self._stored(chat_id, include_deleted)]

    def bot_messages(self, chat_id: int, *, include_deleted: bool = False) -> list[Message]:
        with self._cond:
            return [self._view(m) for m in self._stored(chat_id, include_deleted) if m.by_bot]

    def last_bot_message(self, chat_id: int) -> Message:
        sent = self.bot_messages(chat_id)
        if not sent:
            raise AssertionError(f"the bot has no message in chat {chat_id}")
        return sent[-1]

    def buttons(self, message: MessageRef, chat_id: int | None = None) -> list[str]:
        """Texts of the message's current inline buttons, row by row."""
        with self._cond:
            stored = self._bot_message(message, chat_id, default_chat=None)
            return [b["text"] for row in button_rows(stored.data.get("reply_markup")) for b in row]

    def sent_count(self, chat_id: int | None = None) -> int:
        """Messages the bot has sent (deleted ones included), to one chat or in all."""
        with self._cond:
            if chat_id is None:
                chats = list(self._chats.values())
            else:
                chats = [self._chats[chat_id]] if chat_id in self._chats else []
            return sum(m.by_bot for chat in chats for m in chat.messages.values())

    def pending_update_count(self) -> int:
        with self._cond:
            return len(self._updates)

    @property
    def next_update_id(self) -> int:
        """The id the next update gets; sequential unless a test sets it."""
        with self._cond:
            return self._next_update_id

    @next_update_id.setter
    def next_update_id(self, update_id: int) -> None:
        """Telegram after a quiet week: the next id is chosen at random, maybe lower."""
        with self._cond:
            self._next_update_id = update_id

    def unanswered_callback_queries(self) -> list[dict[str, Any]]:
        with self._cond:
            return [copy.deepcopy(q.data) for q in self._callback_queries.values() if not q.answer]

    def callback_answer(self, query_id: str) -> dict[str, Any] | None:
        """The parameters answerCallbackQuery got for this query (text, show_alert...)."""
        with self._cond:
            return copy.deepcopy(self._callback_queries[query_id].answer)

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` is true; False if ``timeout`` seconds pass first.

        The predicate runs under the fake's lock, again after every Bot API call and every
        queued update, so it may use the inspection methods.
        """
        with self._cond:
            return self._cond.wait_for(predicate, max(timeout, 0.0))

    @contextlib.contextmanager
    def atomically(self) -> Iterator[None]:
        """Hold the fake still: the bot's calls wait until the block ends.

        User actions inside the block happen at the same moment for the bot, e.g. two
        presses of one button before the bot could answer the first.
        """
        with self._cond:
            yield

    def wait_for_long_polls(self, count: int, timeout: float = 5.0) -> None:
        """Block until exactly ``count`` getUpdates calls are waiting for updates."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._waiting_polls == count, timeout):
                raise AssertionError(f"{self._waiting_polls} long polls waiting, not {count}")

    # --- internals shared with the Bot API side ----------------------------------------

    def _now(self) -> int:
        return int(self._wall_clock())

    def _known_user(self, user_id: int) -> User:
        user = self._users.get(user_id)
        if user is None:
            raise AssertionError(f"unknown user {user_id}: call fake.user({user_id}) first")
        return user

    def _group(self, chat_id: int) -> Chat:
        chat = self._chats.get(chat_id)
        if chat is None or chat.type == "private":
            raise AssertionError(f"no group {chat_id}: call fake.create_group({chat_id}, ...)")
        if chat.migrated_to is not None:
            raise AssertionError(f"group {chat_id} was migrated to {chat.migrated_to}")
        return chat

    def _chat_dict(self, chat: Chat) -> dict[str, Any]:
        if chat.type != "private":
            return {"id": chat.id, "type": chat.type, "title": chat.title}
        user = self._users[chat.id].as_dict()
        user.pop("is_bot")
        user.pop("language_code", None)
        return {**user, "type": "private"}

    def _store(
        self, chat: Chat, sender: dict[str, Any] | None, content: dict[str, Any], *, by_bot: bool
    ) -> Message:
        message: Message = {"message_id": chat.next_message_id}
        if sender is not None:
            message["from"] = sender
        message |= {"chat": self._chat_dict(chat), "date": self._now(), **content}
        chat.messages[chat.next_message_id] = StoredMessage(message, by_bot)
        chat.next_message_id += 1
        return message

    def _enqueue(self, kind: str, payload: dict[str, Any]) -> None:
        """Queue an update unless the bot's allowed_updates exclude its kind."""
        if self._allowed_updates:
            if kind not in self._allowed_updates:
                return
        elif kind in OPT_IN_UPDATES:
            return
        self._updates.append({"update_id": self._next_update_id, kind: copy.deepcopy(payload)})
        self._next_update_id += 1
        self._cond.notify_all()

    def _reply_target(self, chat: Chat, message_id: int) -> Message | None:
        stored = chat.messages.get(message_id)
        if stored is None or stored.deleted:
            return None
        replied = copy.deepcopy(stored.data)
        replied.pop("reply_to_message", None)
        return replied

    def _migrate(self, old_id: int, new_id: int) -> Message:
        old = self._group(old_id)
        if old.type != "group":
            raise ValueError(f"only basic groups migrate; {old_id} is a {old.type}")
        check_group_id(new_id, "supergroup")
        if new_id in self._chats:
            raise ValueError(f"chat {new_id} exists")
        new = Chat(new_id, "supergroup", old.title, old.bot_member, added_by=old.added_by)
        self._chats[new_id] = new
        old.migrated_to = new_id
        by = self._users[old.added_by].as_dict() if old.added_by else None
        to_message = self._store(old, by, {"migrate_to_chat_id": new_id}, by_bot=False)
        from_message = self._store(new, by, {"migrate_from_chat_id": old_id}, by_bot=False)
        if new.bot_member:
            self._enqueue("message", to_message)
            self._enqueue("message", from_message)
        return from_message

    # --- helpers of the user side ------------------------------------------------------

    def _user_message(
        self, user_id: int, chat_id: int | None, content: dict[str, Any], reply_to: int | None
    ) -> Message:
        with self._cond:
            user = self._known_user(user_id)
            chat = self._chat_of(user, chat_id)
            if reply_to is not None:
                replied = self._reply_target(chat, reply_to)
                if replied is None:
                    raise AssertionError(f"no message {reply_to} in chat {chat.id} to reply to")
                content["reply_to_message"] = replied
            message = self._store(chat, user.as_dict(), content, by_bot=False)
            if self._visible_to_bot(chat, message):
                self._enqueue("message", message)
            return copy.deepcopy(message)

    def _user_file(self, upload: Upload) -> dict[str, Any]:
        """A file a user sent: stored under a new file_id, as the bot may fetch or resend it."""
        file_id = f"FAKE-file-{len(self.files) + 1}"
        self.files[file_id] = upload
        return {
            "file_id": file_id,
            "file_unique_id": file_id.replace("file", "unique"),
            "file_size": len(upload.content),
        }

    def _user_media(
        self,
        user_id: int,
        chat_id: int | None,
        content: dict[str, Any],
        caption: str | None,
        reply_to: int | None,
    ) -> Message:
        if caption is not None:
            if not 1 <= utf16_len(caption) <= 1024:
                raise ValueError("Telegram clients send captions of 1..1024 characters")
            content["caption"] = caption
        return self._user_message(user_id, chat_id, content, reply_to)

    def _user_own_message(
        self, user_id: int, message: MessageRef, chat_id: int | None
    ) -> StoredMessage:
        if isinstance(message, PtbMessage):
            message_id, chat_id = message.message_id, message.chat.id
        elif isinstance(message, Mapping):
            message_id, chat_id = message["message_id"], message["chat"]["id"]
        else:
            message_id, chat_id = message, user_id if chat_id is None else chat_id
        chat = self._chats.get(chat_id)
        if chat is not None and chat.type != "private":
            chat = self._group(chat_id)
        stored = chat.messages.get(message_id) if chat else None
        if stored is None or stored.deleted or stored.by_bot:
            raise AssertionError(f"user {user_id} has no message {message_id} in chat {chat_id}")
        if stored.data.get("from", {}).get("id") != user_id:
            raise AssertionError(f"message {message_id} in chat {chat_id} is not by {user_id}")
        return stored

    def _chat_of(self, user: User, chat_id: int | None) -> Chat:
        """The chat the user writes in; writing in private starts (or unblocks) the bot."""
        if chat_id is not None and chat_id != user.id:
            return self._group(chat_id)
        chat = self._chats.setdefault(user.id, Chat(user.id, "private"))
        chat.bot_member = True
        if chat.blocked:
            chat.blocked = False
            self._enqueue("my_chat_member", self._member_update(chat, user, "kicked", "member"))
        return chat

    def _visible_to_bot(self, chat: Chat, message: Message) -> bool:
        if chat.type == "private":
            return True
        if not chat.bot_member:
            return False
        if not self.privacy_mode:
            return True
        command = command_entity(message.get("text", ""))
        if command:
            addressee = command[1]
            return addressee is None or addressee.lower() == self.bot_user["username"].lower()
        replied = message.get("reply_to_message")
        return replied is not None and replied.get("from", {}).get("id") == self.bot_user["id"]

    def _member_update(self, chat: Chat, user: User, old: str, new: str) -> dict[str, Any]:
        def member(status: str) -> dict[str, Any]:
            extra = {"until_date": 0} if status == "kicked" else {}
            return {"user": self.bot_user, "status": status, **extra}

        return {
            "chat": self._chat_dict(chat),
            "from": user.as_dict(),
            "date": self._now(),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }

    def _callback_query(self, user: User, stored: StoredMessage, data: str) -> dict[str, Any]:
        chat_id = stored.data["chat"]["id"]
        query_id = str(4_000_000_000_000_000_000 + len(self._callback_queries) + 1)
        query = {
            "id": query_id,
            "from": user.as_dict(),
            "message": copy.deepcopy(stored.data),
            "chat_instance": str(chat_id * 2654435761 % 2**63),
            "data": data,
        }
        self._callback_queries[query_id] = CallbackQuery(query)
        self._enqueue("callback_query", query)
        return copy.deepcopy(query)

    def _stored(self, chat_id: int, include_deleted: bool) -> list[StoredMessage]:
        chat = self._chats.get(chat_id)
        messages = chat.messages.values() if chat else []
        return [m for m in messages if include_deleted or not m.deleted]

    def _bot_message(
        self, message: MessageRef, chat_id: int | None, *, default_chat: int | None
    ) -> StoredMessage:
        if isinstance(message, PtbMessage):
            message_id, chat_id = message.message_id, message.chat.id
        elif isinstance(message, Mapping):
            message_id, chat_id = message["message_id"], message["chat"]["id"]
        else:
            message_id, chat_id = message, default_chat if chat_id is None else chat_id
        if chat_id is None:
            raise ValueError("pass chat_id together with a message id")
        chat = self._chats.get(chat_id)
        stored = chat.messages.get(message_id) if chat else None
        if stored is None or stored.deleted or not stored.by_bot:
            raise AssertionError(f"the bot has no message {message_id} in chat {chat_id}")
        return stored

    @staticmethod
    def _view(stored: StoredMessage) -> Message:
        view = copy.deepcopy(stored.data)
        if stored.deleted:
            view["deleted"] = True
        return view
