"""Use cases, one module per capability. They know nothing of Telegram."""
