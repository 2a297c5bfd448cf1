"""The dialog engine: declare a conversation as data (spec), run it (runtime)."""

from bot.dialogs.spec import Button, DialogSpec, Finish, Invalid, Next, Screen, Step, Turn

__all__ = ["Button", "DialogSpec", "Finish", "Invalid", "Next", "Screen", "Step", "Turn"]
