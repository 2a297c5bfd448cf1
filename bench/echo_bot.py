"""The baseline for bench/dialogs.py: a bare python-telegram-bot bot with the same dialog shape.

    python bench/echo_bot.py --token TOKEN --base-url http://127.0.0.1:PORT/bot

PTB's defaults (Updater long polling, one update at a time, no rate limiter, no
database). ``/rapport`` sends a message with one button; every press is answered
(answerCallbackQuery) and the message edited to the next button of the same labels as
the real report dialog, the last one to a receipt. So each update costs the same Bot
API calls as in lägesbild's /rapport, and nothing else.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a clone
    sys.path.insert(0, str(ROOT))

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update  # noqa: E402
from telegram.ext import (  # noqa: E402
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from bench.dialog_steps import FULL_DIALOG  # noqa: E402


def _step(index: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(FULL_DIALOG[index],
                                                       callback_data=str(index))]])


async def rapport(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_chat.send_message("Område?", reply_markup=_step(0))


async def press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer()
    following = int(query.data) + 1
    if following < len(FULL_DIALOG):
        await query.edit_message_text(f"Steg {following}", reply_markup=_step(following))
    else:
        await query.edit_message_text(f"Mottagen – R-2026-{query.from_user.id % 10**6:06d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--token", required=True)
    parser.add_argument("--base-url", required=True)
    args = parser.parse_args()
    application = Application.builder().token(args.token).base_url(args.base_url).build()
    application.add_handler(CommandHandler("rapport", rapport))
    application.add_handler(CallbackQueryHandler(press))
    application.run_polling(allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main()
