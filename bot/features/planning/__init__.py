"""Upcoming events, insatser, uppföljning and återkoppling (EST steps 3–5).

- events: ``/handelse`` lists the coming events and known risk days; ``/handelse ny``
  (or "➕ Ny händelse") registers one.
- insatser: ``/insats`` lists planned and running insatser and changes their status;
  ``/insats ny`` (or "➕ Ny insats") registers one.
- followup: once an insats is over, the coordinator who registered it is asked, once,
  how it went (a dialog the bot opens on its own, sent through the outbox).
- feedback: an insats at a known place thanks the people who reported from there;
  ``/aterkoppling av|pa`` turns that off and on.

Every conversation is a DialogSpec run by the dialog engine (bot.dialogs); the rules
(which press or text fits which step, dates, periods, status changes, who is due a
question or a thank-you) are in est.planning.
"""
