"""The case workspace: a Telegram Mini App face on the same services the chat uses."""
