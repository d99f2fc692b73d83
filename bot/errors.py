"""Refusals a service raises for the person to read; handlers show the message as it is."""

from __future__ import annotations


class ServiceError(Exception):
    """Something the person can put right (a bad name, a stale button); nothing was changed."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class NotFound(ServiceError):
    """The thing does not exist, or is not visible to this person: the two look the same."""
