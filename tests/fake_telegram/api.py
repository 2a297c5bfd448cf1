"""The Bot API methods the fake implements, with Telegram's checks and error texts."""

import copy
import json
import time
from collections.abc import Callable
from typing import Any

from .entities import HtmlError, parse_html, strip_text, utf16_len
from .errors import ApiError, bad_request, forbidden, not_implemented
from .markup import parse_reply_markup
from .params import Params, Upload
from .ratelimit import RateLimit, RateLimitHit, SendWindows
from .world import Chat, Message, StoredMessage, World

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_DELETE_AGE = 48 * 3600
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")
_COMMAND_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")

ApiHandler = Callable[["BotApi", Params], Any]
API_METHODS: dict[str, tuple[str, ApiHandler]] = {}
"""Lower-case method name -> (Telegram's spelling, implementation)."""


def api_method(name: str) -> Callable[[ApiHandler], ApiHandler]:
    def register(handler: ApiHandler) -> ApiHandler:
        API_METHODS[name.lower()] = (name, handler)
        return handler

    return register


class BotApi(World):
    """What the bot can do, checked the way Telegram checks it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.enforce_rate_limits = True
        self.global_rate_limit = RateLimit(30, 1.0)
        self.group_rate_limit = RateLimit(20, 60.0)
        self.private_rate_limit = RateLimit(8, 1.0)
        self.rate_limit_hits: list[RateLimitHit] = []
        self._send_windows = SendWindows()
        self._command_sets: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._poll_generation = 0
        self._poll_interrupts = 0

    @property
    def commands(self) -> list[dict[str, str]]:
        """The bot's commands for the default scope without a language_code."""
        return self.commands_for()

    def commands_for(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        with self._cond:
            return copy.deepcopy(self._command_sets.get(_commands_key(scope, language_code), []))

    def interrupt_polling(self) -> None:
        """End waiting getUpdates calls now (with no updates): their client has gone."""
        with self._cond:
            self._poll_interrupts += 1
            self._cond.notify_all()

    # --- bot and updates -----------------------------------------------------------------

    @api_method("getMe")
    def _get_me(self, p: Params) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    @api_method("getUpdates")
    def _get_updates(self, p: Params) -> list[dict[str, Any]]:
        """Long polling: updates stay until a later call confirms them with a higher offset."""
        offset = p.integer("offset")
        limit = min(max(p.integer("limit") or 100, 1), 100)
        timeout = max(p.integer("timeout") or 0, 0)
        allowed = p.json("allowed_updates")
        if allowed is not None:
            self._allowed_updates = frozenset(allowed)
        if offset is not None and offset < 0:
            del self._updates[:offset]
        elif offset is not None:
            self._updates[:] = [u for u in self._updates if u["update_id"] >= offset]
        self._poll_generation += 1
        self._cond.notify_all()
        generation, interrupts = self._poll_generation, self._poll_interrupts
        deadline = time.monotonic() + timeout
        while not self._updates and (remaining := deadline - time.monotonic()) > 0:
            self._waiting_polls += 1
            self._cond.notify_all()
            try:
                self._cond.wait(remaining)
            finally:
                self._waiting_polls -= 1
                self._cond.notify_all()
            if self._poll_interrupts != interrupts:
                return []
            if self._poll_generation != generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one"
                    " bot instance is running",
                )
        return copy.deepcopy(self._updates[:limit])

    @api_method("deleteWebhook")
    def _delete_webhook(self, p: Params) -> bool:
        if p.boolean("drop_pending_updates"):
            self._updates.clear()
        return True

    @api_method("setMyCommands")
    def _set_my_commands(self, p: Params) -> bool:
        commands = p.json("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request('parameter "commands" must be an Array of up to 100 BotCommands')
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if not 1 <= len(name) <= 32 or not set(name) <= _COMMAND_CHARS:
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = _commands_key(p.json("scope"), p.string("language_code") or "")
        if commands:
            self._command_sets[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        else:
            self._command_sets.pop(key, None)
        return True

    @api_method("deleteMyCommands")
    def _delete_my_commands(self, p: Params) -> bool:
        self._command_sets.pop(_commands_key(p.json("scope"), p.string("language_code") or ""),
                               None)
        return True

    @api_method("getMyCommands")
    def _get_my_commands(self, p: Params) -> list[dict[str, str]]:
        key = _commands_key(p.json("scope"), p.string("language_code") or "")
        return copy.deepcopy(self._command_sets.get(key, []))

    # --- sending ----------------------------------------------------------------------

    @api_method("sendMessage")
    def _send_message(self, p: Params) -> Message:
        chat = self._target_chat(p)
        text, entities = self._formatted(p, "text", "entities", MAX_TEXT)
        return self._send("sendMessage", p, chat, _with_entities({"text": text}, entities))

    @api_method("sendPhoto")
    def _send_photo(self, p: Params) -> Message:
        chat = self._target_chat(p)
        file_id, upload = self._input_file(p, "photo")
        if not upload.content.startswith(_IMAGE_MAGIC):
            raise bad_request("IMAGE_PROCESS_FAILED")
        size = self._file_fields(file_id, upload) | {"width": 1280, "height": 720}
        return self._send("sendPhoto", p, chat, self._with_caption(p, {"photo": [size]}))

    @api_method("sendDocument")
    def _send_document(self, p: Params) -> Message:
        chat = self._target_chat(p)
        file_id, upload = self._input_file(p, "document")
        document = self._file_fields(file_id, upload) | {
            "file_name": upload.filename,
            "mime_type": upload.mime_type,
        }
        return self._send("sendDocument", p, chat, self._with_caption(p, {"document": document}))

    @api_method("sendChatAction")
    def _send_chat_action(self, p: Params) -> bool:
        self._target_chat(p)
        if p.string("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    # --- changing messages --------------------------------------------------------------

    @api_method("editMessageText")
    def _edit_message_text(self, p: Params) -> Message:
        stored = self._editable(p)
        if "text" not in stored.data:
            raise bad_request("there is no text in the message to edit")
        text, entities = self._formatted(p, "text", "entities", MAX_TEXT)
        markup = parse_reply_markup(p.raw.get("reply_markup"), inline_only=True)
        changes = {"text": text, "entities": entities or None, "reply_markup": markup}
        return self._edit(stored, changes)

    @api_method("editMessageReplyMarkup")
    def _edit_message_reply_markup(self, p: Params) -> Message:
        stored = self._editable(p)
        markup = parse_reply_markup(p.raw.get("reply_markup"), inline_only=True)
        return self._edit(stored, {"reply_markup": markup})

    @api_method("deleteMessage")
    def _delete_message(self, p: Params) -> bool:
        chat = self._target_chat(p)
        stored = chat.messages.get(p.required_integer("message_id"))
        if stored is None or stored.deleted:
            raise bad_request("message to delete not found")
        if not stored.by_bot and chat.type != "private":
            raise bad_request("message can't be deleted")
        if self._now() - stored.data["date"] >= MAX_DELETE_AGE:
            raise bad_request("message can't be deleted")
        stored.deleted = True
        return True

    @api_method("answerCallbackQuery")
    def _answer_callback_query(self, p: Params) -> bool:
        query = self._callback_queries.get(p.required_string("callback_query_id"))
        if query is None or query.answer is not None:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        query.answer = {k: v for k, v in p.raw.items() if k != "callback_query_id"}
        return True

    # --- chats ----------------------------------------------------------------------------

    @api_method("getChat")
    def _get_chat(self, p: Params) -> dict[str, Any]:
        chat = self._known_chat(p)
        gifts = ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription")
        return {
            **self._chat_dict(chat),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": dict.fromkeys((*gifts, "gifts_from_channels"), False),
        }

    @api_method("leaveChat")
    def _leave_chat(self, p: Params) -> bool:
        chat = self._known_chat(p)
        if chat.type == "private":
            raise bad_request("chat member status can't be changed in private chats")
        if not chat.bot_member:
            raise forbidden(f"bot is not a member of the {chat.type} chat")
        chat.bot_member = False
        self.left_chats.append(chat.id)
        return True

    # --- checks shared by the methods -----------------------------------------------------

    def _known_chat(self, p: Params) -> Chat:
        chat = self._chats.get(p.chat_id())
        if chat is None:
            raise bad_request("chat not found")
        if chat.migrated_to is not None:
            raise bad_request(
                "group chat was upgraded to a supergroup chat", migrate_to_chat_id=chat.migrated_to
            )
        return chat

    def _target_chat(self, p: Params) -> Chat:
        """A chat the bot may write in: started and not blocked, or a group it is in."""
        chat = self._known_chat(p)
        if chat.type == "private" and not chat.bot_member:
            raise bad_request("chat not found")
        if chat.blocked:
            raise forbidden("bot was blocked by the user")
        if chat.type != "private" and not chat.bot_member:
            raise forbidden(f"bot is not a member of the {chat.type} chat")
        return chat

    def _formatted(
        self, p: Params, name: str, entities_name: str, limit: int
    ) -> tuple[str, list[dict[str, Any]]]:
        """Text or caption after entity parsing and trimming; checks emptiness and length."""
        text = p.string(name) or ""
        mode = p.string("parse_mode")
        if mode and mode.lower() == "html":
            try:
                text, entities = parse_html(text)
            except HtmlError as exc:
                raise bad_request(f"can't parse entities: {exc}") from None
        elif mode and mode.lower() in ("markdown", "markdownv2"):
            raise not_implemented(f"parse_mode {mode}")
        elif mode:
            raise bad_request("unsupported parse_mode")
        else:
            entities = p.json(entities_name) or []
        text, entities = strip_text(text, entities)
        if name == "text" and not text:
            raise bad_request("message text is empty")
        if utf16_len(text) > limit:
            raise bad_request(
                "message is too long" if name == "text" else "message caption is too long"
            )
        return text, entities

    def _with_caption(self, p: Params, content: dict[str, Any]) -> dict[str, Any]:
        caption, entities = self._formatted(p, "caption", "caption_entities", MAX_CAPTION)
        if caption:
            content["caption"] = caption
        if entities:
            content["caption_entities"] = entities
        return content

    def _send(self, method: str, p: Params, chat: Chat, content: dict[str, Any]) -> Message:
        markup = parse_reply_markup(p.raw.get("reply_markup"))
        replied = self._replied(p, chat)
        self._take_send_quota(method, chat)
        if replied is not None:
            content["reply_to_message"] = replied
        if markup is not None:
            content["reply_markup"] = markup
        return copy.deepcopy(self._store(chat, self.bot_user, content, by_bot=True))

    def _replied(self, p: Params, chat: Chat) -> Message | None:
        reply = p.json("reply_parameters") or {}
        message_id = reply.get("message_id") or p.integer("reply_to_message_id")
        if message_id is None:
            return None
        replied = self._reply_target(chat, message_id)
        if replied is None and not reply.get("allow_sending_without_reply"):
            raise bad_request("message to be replied not found")
        return replied

    def _take_send_quota(self, method: str, chat: Chat) -> None:
        """429 if this send would break a flood limit; otherwise count it."""
        now = self.clock()
        if self.enforce_rate_limits:
            per_chat = ("group", self.group_rate_limit)
            if chat.type == "private":
                per_chat = ("private", self.private_rate_limit)
            for name, rule, key in (("global", self.global_rate_limit, None), (*per_chat, chat.id)):
                wait = self._send_windows.retry_after(rule, now, key)
                if wait is not None:
                    self.rate_limit_hits.append(RateLimitHit(method, chat.id, name, wait, now))
                    raise ApiError(
                        429, f"Too Many Requests: retry after {wait}", {"retry_after": wait}
                    )
        self._send_windows.record(chat.id, now)

    def _input_file(self, p: Params, name: str) -> tuple[str | None, Upload]:
        """An upload (multipart, also via attach://), or a stored file and its file_id."""
        value = p.raw.get(name)
        part = value.removeprefix("attach://") if isinstance(value, str) else name
        if part in p.files:
            return None, p.files[part]
        if isinstance(value, str) and value in self.files:
            return value, self.files[value]
        if value is None or part != value:
            raise bad_request(f"there is no {name} in the request")
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            raise not_implemented("sending files by URL")
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _file_fields(self, file_id: str | None, upload: Upload) -> dict[str, Any]:
        """The file's fields in a Message; a new upload gets a new file_id."""
        if file_id is None:
            file_id = f"FAKE-file-{len(self.files) + 1}"
            self.files[file_id] = upload
        return {
            "file_id": file_id,
            "file_unique_id": file_id.replace("file", "unique"),
            "file_size": len(upload.content),
        }

    def _editable(self, p: Params) -> StoredMessage:
        if p.has("inline_message_id"):
            raise not_implemented("editing inline messages")
        chat = self._target_chat(p)
        stored = chat.messages.get(p.required_integer("message_id"))
        if stored is None or stored.deleted:
            raise bad_request("message to edit not found")
        if not stored.by_bot:
            raise bad_request("message can't be edited")
        return stored

    def _edit(self, stored: StoredMessage, changes: dict[str, Any]) -> Message:
        """Apply changes (None removes the field); refuse an edit that changes nothing."""
        if all(stored.data.get(key) == value for key, value in changes.items()):
            raise bad_request(NOT_MODIFIED)
        for key, value in changes.items():
            if value is None:
                stored.data.pop(key, None)
            else:
                stored.data[key] = value
        stored.data["edit_date"] = self._now()
        return copy.deepcopy(stored.data)


def _commands_key(scope: dict[str, Any] | None, language_code: str) -> tuple[str, str]:
    return json.dumps(scope or {"type": "default"}, sort_keys=True), language_code


def _with_entities(content: dict[str, Any], entities: list[dict[str, Any]]) -> dict[str, Any]:
    return content | {"entities": entities} if entities else content
