"""foundry-monitor: collector, store, emulator and CLI."""
