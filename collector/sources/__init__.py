"""Sources: (client, window) -> typed rows. No database here."""
