"""``/checklista``: the warning-signal checklist of Bilaga 3 as a dialog."""
