"""The audit log in chat: ``/logg`` for admins."""
