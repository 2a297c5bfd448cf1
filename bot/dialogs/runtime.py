"""The dialog runtime: every conversation of the bot runs through here.

A turn is always the same: parse the press strictly, load the dialog row,
check owner, role, chat and message, recognise a replay by its update id,
apply the step function, save and commit, and only then (with no database
transaction open) answer the button and show the next step. Typed text and
shared locations go to the member's newest open dialog in that chat; in a
group only a reply to the dialog's ForceReply prompt counts. Feature modules
declare ``DialogSpec``s (bot.dialogs.spec) and never repeat any of this.
"""

from __future__ import annotations

import copy
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from telegram import (
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest
from telegram.ext import BaseHandler, CallbackQueryHandler, MessageHandler, filters

from bot.core.context import Actor, BotContext
from bot.core.telegram_io import answer, delete_quietly, drop_keyboard, send
from bot.dialogs import callbacks
from bot.dialogs.callbacks import Press
from bot.dialogs.spec import Button, DialogSpec, Finish, Invalid, Next, Screen, Turn
from messages import labels
from storage import dialogs as store
from storage.models import Dialog, Member

log = logging.getLogger(__name__)

PREFIX = "d"
BACK, CANCEL, PAGE = "b", "x", "pg"
MAX_PAGE = 999
# Another kind of button (a post's "Höj"/"Behåll"): prefix → handler(update, context, press).
PressAction = Callable[[Update, BotContext, Press], Awaitable[None]]


class DialogEngine:
    """The registry of dialog kinds and the one set of handlers that runs them."""

    def __init__(self, specs: Iterable[DialogSpec],
                 actions: dict[str, PressAction] | None = None) -> None:
        self.specs = {spec.kind: spec for spec in specs}
        self.actions = dict(actions or {})
        if PREFIX in self.actions:
            raise ValueError(f"prefix {PREFIX!r} belongs to the dialogs")

    # ------------------------------------------------------------ wiring

    def handlers(self) -> list[BaseHandler]:
        # Only new messages: an edited message is never new input (the gatekeeper answers it).
        new = filters.UpdateType.MESSAGE
        return [
            CallbackQueryHandler(self.on_press),
            MessageHandler(new & filters.TEXT & ~filters.COMMAND, self.on_text),
            MessageHandler(new & filters.LOCATION, self.on_location),
        ]

    # ------------------------------------------------------------ starting

    async def start(self, update: Update, context: BotContext, kind: str, *,
                    data: dict[str, Any] | None = None, step: str | None = None) -> None:
        """Open a dialog for the sender in this chat and show its first step.

        A replayed command (same update id) shows the dialog it started instead
        of starting another.
        """
        spec, services, actor = self.specs[kind], context.services, context.member
        chat = update.effective_chat
        if not actor.at_least(spec.min_role):
            await send(update, services.render("dialogs", "no_access"))
            return
        if spec.private_only and chat.type != ChatType.PRIVATE:
            await send(update, services.render("dialogs", "private_only"))
            return
        async with services.db.session() as session:
            row = await store.started_by(session, actor.member_id, chat.id, update.update_id)
            if row is None:
                row = await store.open_dialog(
                    session, kind=kind, replaces=self._replaced(spec),
                    member_id=actor.member_id, chat_id=chat.id,
                    step=step or spec.first_step, data=data or {}, now=services.now(),
                    update_id=update.update_id)
                await session.commit()
            turn = self._turn(context, session, row, update)
            screen = await self._view(spec, turn)
        await self._send_new(context, row, screen, turn, reply_to=update.effective_message)

    async def open_for(self, services, member: Member, kind: str, *, data: dict[str, Any],
                       step: str | None = None, session) -> Dialog:
        """A dialog the bot opens on its own (e.g. an uppföljning question), not yet sent.

        The caller commits, then sends ``markup``'s screen (the outbox) and binds
        the message with ``bind``.
        """
        spec = self.specs[kind]
        return await store.open_dialog(
            session, kind=kind, replaces=self._replaced(spec), member_id=member.id,
            chat_id=member.telegram_user_id, step=step or spec.first_step, data=data,
            now=services.now(), update_id=None)

    async def screen_of(self, services, row: Dialog, actor: Actor, session) -> tuple[
            str, InlineKeyboardMarkup | None]:
        """Text and keyboard of a dialog's current step (for the outbox)."""
        turn = Turn(services=services, bot=None, actor=actor, row=row, session=session,
                    update_id=None)
        screen = await self._view(self.specs[row.kind], turn)
        return screen.text, self._markup(self.specs[row.kind], row, screen, turn)

    @staticmethod
    def _replaced(spec: DialogSpec) -> tuple[str, ...]:
        return spec.replaces if spec.replaces is not None else (spec.kind,)

    @staticmethod
    async def bind(services, dialog_id: int, message_id: int) -> None:
        async with services.db.session() as session:
            await store.bind_message(session, dialog_id, message_id)
            await session.commit()

    # ------------------------------------------------------------ presses

    async def on_press(self, update: Update, context: BotContext) -> None:
        """Every button press of the bot lands here, valid or not, in any chat."""
        services = context.services
        press = callbacks.parse(update.callback_query.data)
        if press is not None and press.prefix in self.actions:
            await self.actions[press.prefix](update, context, press)
            return
        if press is None or press.prefix != PREFIX:
            await self._show_again(update, context)
            return
        actor, message = context.actor, update.callback_query.message
        async with services.db.session() as session:
            row = await store.lock_dialog(session, press.id)
            problem = self._refusal(row, actor, message)
            if problem is not None:
                await session.rollback()
                await answer(update, services.render(*problem))
                return
            spec = self.specs[row.kind]
            turn = self._turn(context, session, row, update)
            if row.status == store.DONE:
                screen = await spec.when_done(turn) if spec.when_done else None
                # Rendered before the rollback, which expires the loaded row.
                content = self._render(spec, row, screen, turn) if screen else None
                toast = turn.toast or services.render(*spec.ended)
                await session.rollback()
                await answer(update, toast)
                if content is not None:
                    await self._edit(update, content)
                return
            if row.status != store.OPEN:
                await answer(update, services.render(*spec.ended))
                return
            replayed = store.handled(row, update.update_id)
            if not replayed:
                try:
                    outcome = await self._apply_press(spec, turn, press)
                except Invalid as problem_text:
                    await session.rollback()
                    await answer(update, str(problem_text))
                    return
                self._save(turn, outcome)
                await session.commit()
            screen = await self._after(spec, turn, outcome if not replayed else row.step)
            follow = await self._follow_screen(turn)
        # The transaction is closed: now talk to Telegram.
        await answer(update, turn.toast)
        if screen.wants_text and turn.in_group and row.status == store.OPEN:
            await drop_keyboard(context.bot, row.chat_id, row.message_id)
            await self._send_new(context, row, screen, turn)
        else:
            await self._edit(update, self._render(spec, row, screen, turn))
        if follow is not None:
            await self._send_new(context, *follow)
        self._run_after(turn)

    async def _show_again(self, update: Update, context: BotContext) -> None:
        """A press the grammar does not know (a button from before an upgrade): if it is on
        the message of the presser's own open dialog, show that step again with today's
        buttons; the press changes nothing. Anywhere else it is only answered."""
        services, actor = context.services, context.actor
        message = update.callback_query.message
        content = None
        if actor is not None and message is not None:
            async with services.db.session() as session:
                row = await store.open_by_message(session, message.chat.id, message.message_id)
                if row is not None and self._refusal(row, actor, message) is None:
                    spec = self.specs[row.kind]
                    turn = self._turn(context, session, row, update)
                    screen = await self._view(spec, turn)
                    if not (screen.wants_text and turn.in_group):
                        content = self._render(spec, row, screen, turn)
                await session.rollback()
        if content is None:
            await answer(update, services.render("dialogs", "ended"))
            return
        await answer(update, services.render("dialogs", "shown_again"))
        await self._edit(update, content)

    async def _follow_screen(self, turn: Turn) -> tuple[Dialog, Screen, Turn] | None:
        row = turn.follow_with
        if row is None:
            return None
        follow = Turn(services=turn.services, bot=turn.bot, actor=turn.actor, row=row,
                      session=turn.session, update_id=None, in_group=turn.in_group)
        return row, await self._view(self.specs[row.kind], follow), follow

    def _refusal(self, row: Dialog | None, actor: Actor | None,
                 message: Message | None) -> tuple[str, str] | None:
        """Why this press may not touch this dialog, as a (template, macro); None if it may."""
        if row is None or row.kind not in self.specs:
            return "dialogs", "ended"
        if actor is None or row.member_id != actor.member_id:
            return "dialogs", "not_yours"
        if message is None or message.chat.id != row.chat_id:
            return "dialogs", "ended"
        if message.message_id != row.message_id:
            return self.specs[row.kind].ended if row.status != store.OPEN \
                else ("dialogs", "old_message")
        if not actor.at_least(self.specs[row.kind].min_role):
            return "dialogs", "no_access"
        return None

    async def _apply_press(self, spec: DialogSpec, turn: Turn, press: Press) -> Next:
        step = spec.steps.get(turn.step)
        if step is None:
            raise Invalid(turn.render(*spec.ended))
        if press.action == CANCEL:
            return Finish(spec.cancelled(turn), cancelled=True)
        if press.action == BACK:
            target = step.back(turn) if callable(step.back) else step.back
            if target is None:
                raise Invalid(turn.render(*spec.ended))
            return target
        if press.action == PAGE:
            if not (press.arg.isascii() and press.arg.isdigit()) or int(press.arg) > MAX_PAGE:
                raise Invalid(turn.render(*spec.ended))
            turn.data["_page"] = int(press.arg)
            return turn.step
        if step.press is None:
            raise Invalid(turn.render(*spec.ended))
        return await step.press(turn, press.action, press.arg)

    # ------------------------------------------------------------ typed text, locations

    async def on_text(self, update: Update, context: BotContext) -> None:
        await self._on_message(update, context, "text", update.effective_message.text)

    async def on_location(self, update: Update, context: BotContext) -> None:
        location = update.effective_message.location
        await self._on_message(update, context, "location",
                               (location.latitude, location.longitude))

    async def _on_message(self, update: Update, context: BotContext, kind: str,
                          value: Any) -> None:
        services, actor, message = context.services, context.actor, update.effective_message
        chat = update.effective_chat
        in_group = chat.type != ChatType.PRIVATE
        if actor is None:
            return
        async with services.db.session() as session:
            if in_group:
                replied = message.reply_to_message
                if replied is None or replied.from_user is None \
                        or replied.from_user.id != context.bot.id:
                    return  # coordinators talking among themselves
                row = await store.open_by_message(session, chat.id, replied.message_id)
                if row is None or row.kind not in self.specs:
                    return  # a reply to an announcement, not to an open prompt
                if row.member_id != actor.member_id:
                    await session.rollback()
                    await send(update, services.render("dialogs", "not_yours"))
                    return
            else:
                candidates = [r for r in await store.open_in_chat(session, actor.member_id,
                                                                  chat.id)
                              if r.kind in self.specs]
                if not candidates:
                    await session.rollback()
                    await send(update, services.render("dialogs", "nothing_open"))
                    return
                # The newest dialog whose step takes this kind of answer; else the newest.
                row = next((r for r in candidates if self._takes(r, kind)), candidates[0])
            spec = self.specs[row.kind]
            if not actor.at_least(spec.min_role):  # demoted while the dialog was open
                await session.rollback()
                await send(update, services.render("dialogs", "no_access"))
                return
            step = spec.steps.get(row.step)
            turn = self._turn(context, session, row, update)
            replayed = store.handled(row, update.update_id)
            handler = None if step is None else (step.text if kind == "text" else step.location)
            if not replayed:
                if handler is None:
                    await session.rollback()
                    await send(update, services.render("dialogs", "use_buttons"))
                    return
                try:
                    outcome = await (handler(turn, value) if kind == "text"
                                     else handler(turn, *value))
                except Invalid as problem:
                    await session.rollback()
                    # Deleted first, so the answer can say when the text stayed in the chat.
                    kept = turn.delete_incoming and not await delete_quietly(message)
                    await send(update, problem.if_kept if kept and problem.if_kept
                               else str(problem))
                    return
                old_message_id = row.message_id
                self._save(turn, outcome)
                await session.commit()
            else:
                old_message_id = None  # already retired when it was first applied
            screen = await self._after(spec, turn, outcome if not replayed else row.step)
        if turn.delete_incoming:
            await delete_quietly(message)
        await drop_keyboard(context.bot, row.chat_id, old_message_id)
        await self._send_new(context, row, screen, turn,
                             reply_to=message if in_group else None)
        self._run_after(turn)

    def _takes(self, row: Dialog, kind: str) -> bool:
        step = self.specs[row.kind].steps.get(row.step)
        return step is not None and (step.text if kind == "text" else step.location) is not None

    # ------------------------------------------------------------ shared steps of a turn

    @staticmethod
    def _turn(context: BotContext, session, row: Dialog, update: Update) -> Turn:
        # A private copy: step functions change it in place, and SQLAlchemy only sees
        # a JSON change as a new value compared with the loaded one.
        row.data = copy.deepcopy(row.data or {})
        return Turn(services=context.services, bot=context.bot, actor=context.member, row=row,
                    session=session,
                    update_id=update.update_id,
                    in_group=update.effective_chat.type != ChatType.PRIVATE,
                    incoming_message_id=update.message.message_id if update.message else None)

    def _save(self, turn: Turn, outcome: Next) -> None:
        row = turn.row
        data = dict(turn.data)
        if isinstance(outcome, Finish):
            status = store.CANCELLED if outcome.cancelled else store.DONE
            store.record(row, step=row.step, data=data, update_id=turn.update_id,
                         now=turn.now, status=status)
            return
        if outcome != row.step:
            data.pop("_page", None)
        store.record(row, step=outcome, data=data, update_id=turn.update_id, now=turn.now)

    async def _after(self, spec: DialogSpec, turn: Turn, outcome: Next) -> Screen:
        """The screen to show after a turn (read while the session is still there)."""
        if isinstance(outcome, Finish):
            return Screen(outcome.text, outcome.rows, cancel=False)
        return await self._view(spec, turn)

    @staticmethod
    async def _view(spec: DialogSpec, turn: Turn) -> Screen:
        screen = spec.steps[turn.step].view(turn)
        if inspect.isawaitable(screen):
            screen = await screen
        if turn.notice:
            screen.text = f"<i>{turn.notice}</i>\n\n{screen.text}"
        return screen

    def _markup(self, spec: DialogSpec, row: Dialog, screen: Screen,
                turn: Turn) -> InlineKeyboardMarkup | None:
        def key(button: Button) -> InlineKeyboardButton:
            data = callbacks.build(PREFIX, row.id, button.action, button.arg)
            return InlineKeyboardButton(button.label, callback_data=data)

        rows = [list(r) for r in screen.rows]
        reserved = [b.action for r in rows for b in r if b.action in (BACK, CANCEL, PAGE)]
        if reserved:  # a step's own button would be taken for Tillbaka, Avbryt or a page
            raise ValueError(f"{spec.kind}: button actions {reserved} are the engine's")
        if screen.page is not None and screen.page[1] > 1:
            page, pages = screen.page
            nav = []
            if page > 0:
                nav.append(Button(labels.PREVIOUS_PAGE, PAGE, str(page - 1)))
            if page < pages - 1:
                nav.append(Button(labels.NEXT_PAGE, PAGE, str(page + 1)))
            rows.append(nav)
        if row.status == store.OPEN:
            last = []
            if screen.back:
                last.append(Button(labels.BACK, BACK))
            if screen.cancel:
                last.append(Button(labels.CANCEL, CANCEL))
            if last:
                rows.append(last)
        keyboard = [[key(b) for b in r] for r in rows if r]
        return InlineKeyboardMarkup(keyboard) if keyboard else None

    def _render(self, spec: DialogSpec, row: Dialog, screen: Screen,
                turn: Turn) -> tuple[str, InlineKeyboardMarkup | None]:
        return screen.text, self._markup(spec, row, screen, turn)

    async def _send_new(self, context: BotContext, row: Dialog, screen: Screen, turn: Turn,
                        reply_to: Message | None = None) -> None:
        """Send the step as a new message and bind the dialog to it."""
        spec = self.specs[row.kind]
        if screen.wants_text and turn.in_group and row.status == store.OPEN:
            actor = turn.actor
            text = context.services.render("dialogs", "reply_prompt",
                                           first_name=actor.first_name,
                                           user_id=actor.telegram_user_id, text=screen.text)
            message = await context.bot.send_message(
                row.chat_id, text, reply_markup=ForceReply(selective=True),
                disable_web_page_preview=True)
        else:
            text, markup = self._render(spec, row, screen, turn)
            message = await context.bot.send_message(
                row.chat_id, text, reply_markup=markup, disable_web_page_preview=True)
        if row.status == store.OPEN or row.message_id is None:
            await self.bind(context.services, row.id, message.message_id)
            row.message_id = message.message_id

    @staticmethod
    async def _edit(update: Update, content: tuple[str, InlineKeyboardMarkup | None]) -> None:
        text, markup = content
        try:
            await update.callback_query.edit_message_text(
                text, reply_markup=markup, disable_web_page_preview=True)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise

    @staticmethod
    def _run_after(turn: Turn) -> None:
        for index, effect in enumerate(turn.after):
            turn.services.spawn(effect(), f"dialog-{turn.row.id}-after-{index}")
