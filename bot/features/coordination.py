"""What /niva and /agenda share: who may change things, checked again on every turn.

The engine checks the role on every press (``DialogSpec.min_role``); this adds the
rest of ``bot.core.access.coordinator_here`` for the turns that write: still a
coordinator, and in a group, a registered coordinator group (a group can be
registered again as a briefing group while a dialog is open in it).
"""

from __future__ import annotations

from bot.dialogs import DialogSpec, Step, Turn
from storage.members import group_by_chat

COORDINATOR_GROUP = "coordinator"  # storage.models.Group.kind


async def coordinator_chat(turn: Turn) -> bool:
    if not turn.actor.is_coordinator:
        return False
    if not turn.in_group:
        return True
    group = await group_by_chat(turn.session, turn.row.chat_id)
    return group is not None and group.active and group.kind == COORDINATOR_GROUP


def coordination_dialog(kind: str, template: str, first_step: str,
                        steps: dict[str, Step]) -> DialogSpec:
    """A coordinators' dialog that also runs in their group (/niva, /agenda)."""
    return DialogSpec(kind=kind, first_step=first_step, min_role="coordinator",
                      private_only=False, cancelled=lambda turn: turn.render(template, "cancelled"),
                      ended=(template, "ended"), steps=steps)
