"""Placeholder wiring; the schedules are being written."""

from telegram.ext import Application


def schedule_jobs(application: Application) -> None:
    """Register the scheduled posts on the application's JobQueue."""
    return None
