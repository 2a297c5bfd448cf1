"""The /rapport dialog as a reporter taps through it (bench/dialogs.py, bench/echo_bot.py).

The labels are the whole-process tests' (tests/test_process.py), which follow the report
dialog: on every step the reporter presses the first of them the dialog message shows.
"""

from tests.test_process import FULL_DIALOG, RECEIPT

UPDATES_PER_REPORT = 1 + len(FULL_DIALOG)  # /rapport and one press per step

__all__ = ["FULL_DIALOG", "RECEIPT", "UPDATES_PER_REPORT"]
