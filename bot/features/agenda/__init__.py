"""``/agenda``: what coordinators flag for points 5–7 of the Thursday meeting."""
