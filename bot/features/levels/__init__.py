"""Alert levels per area: ``/niva`` (a dialog) and the alert posts' buttons."""
