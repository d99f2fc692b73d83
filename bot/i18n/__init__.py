"""English or Cymraeg: whose language a text is written in, and the catalogue it comes from.

Every text the bot writes lives in ``bot/texts.py`` in catalogue form, so Babel extracts it
into ``bot/locale/messages.pot`` and translators work in ``bot/locale/cy/LC_MESSAGES/messages.po``
(see "Translating" in the README). English is the source language: with English chosen every
text is exactly the text in ``bot/texts.py``, byte for byte.

The rule is the READER's language, never the actor's. How a text reaches its reader decides
how it is put into that language:

* ``_()`` translates at the moment a text is composed, into the language of the reader now
  being written to: a context variable, set by the guard for a person's own replies
  (``set_reader``) and switched explicitly with ``with speaking(language):`` wherever a text
  is composed for someone else.
* Module-level constants (``N_("...")``, and ``K_("... {x}", x=...)`` for the few built from
  other values) are evaluated once, at import, in English: Python cannot make a ``str`` that
  changes with its reader. They are translated at the Telegram boundary instead:
  ``bot.adapter.language.ReaderLanguageBot`` looks every outgoing text, caption and button
  label up by its exact English msgid for the chat's reader (whole text, then paragraph by
  paragraph, then line by line, so "constant + \\n\\n + constant" is found too). Inside
  ``bot/texts.py`` functions, constants are wrapped in ``_()`` so a composed text is whole.
* A notification is queued in the actor's request but read by someone else. Every text
  function in ``bot/texts.py`` is decorated with ``@localised``: its result is a ``str`` that
  remembers how it was made, and the outbox (``enqueue``) makes it again in the recipient's
  language (``in_language``); the dispatcher sends each row inside ``speaking(recipient's
  language)``, so texts and attachments built when sent (calendar invitations, names) and
  the boundary lookup are the recipient's too.

A text not yet translated (empty or fuzzy in the .po) is sent in English: the catalogue
falls back to the msgid. ``bot/i18n/codemod.py`` (a tool, never imported at run time) puts
``bot/texts.py`` into this form and can be re-run after new texts are added.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from importlib import resources
from typing import Final, ParamSpec, TypeVar, cast

ENGLISH: Final = "en"
WELSH: Final = "cy"
LANGUAGES: Final = (ENGLISH, WELSH)
# How each language names itself, for the /language buttons and the workspace.
LANGUAGE_NAMES: Final = {ENGLISH: "English", WELSH: "Cymraeg"}
DOMAIN: Final = "messages"

_reader: ContextVar[str] = ContextVar("reader_language", default=ENGLISH)
_catalogues: dict[str, dict[str, str]] = {}
# Module-level texts built from other values (K_): what each became, and how it was made.
_formatted: dict[str, tuple[str, dict[str, object]]] = {}

P = ParamSpec("P")
R = TypeVar("R")


def known(language: str | None) -> str:
    """A language we write in: anything else (or nothing chosen) is English."""
    return language if language in LANGUAGES else ENGLISH


def reader() -> str:
    """The language of the person being written to now."""
    return _reader.get()


def set_reader(language: str | None) -> None:
    """For the rest of this update (the guard calls it with the person's own choice)."""
    _reader.set(known(language))


@contextmanager
def speaking(language: str | None) -> Iterator[None]:
    """Compose in ``language`` inside the block: texts written for someone else."""
    token = _reader.set(known(language))
    try:
        yield
    finally:
        _reader.reset(token)


def translations(language: str) -> dict[str, str]:
    """msgid -> translation for ``language``, read once from the packaged .po file.

    Untranslated (empty) and fuzzy entries are left out, so their English is used.
    """
    if language == ENGLISH:
        return {}
    found = _catalogues.get(language)
    if found is None:
        from babel.messages.pofile import read_po

        path = resources.files("bot") / "locale" / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        found = {}
        if path.is_file():
            with path.open("rb") as handle:
                for message in read_po(handle, locale=language):
                    if (
                        message.id
                        and isinstance(message.id, str)
                        and isinstance(message.string, str)
                        and message.string
                        and not message.fuzzy
                    ):
                        found[message.id] = message.string
        _catalogues[language] = found
    return found


def translate(text: str, language: str) -> str:
    """``text`` (an English msgid, or a module-level text made by ``K_``) in ``language``."""
    if language == ENGLISH or not text:
        return text
    table = translations(language)
    found = table.get(text)
    if found is not None:
        return found
    made = _formatted.get(text)
    if made is not None:
        msgid, values = made
        template = table.get(msgid)
        if template is not None:
            return template.format(
                **{
                    name: translate(value, language) if isinstance(value, str) else value
                    for name, value in values.items()
                }
            )
    return text


def _(text: str) -> str:
    """Translate a text of ``bot/texts.py`` into the current reader's language."""
    return translate(text, _reader.get())


def N_(text: str) -> str:
    """Mark a module-level text for the catalogue; it is translated when it is sent."""
    return text


def K_(text: str, /, **values: object) -> str:
    """A module-level text built from other values: English now, remembered for translation."""
    made = text.format(**values)
    _formatted[made] = (text, dict(values))
    return made


def _stripped(text: str, language: str) -> str | None:
    core = text.strip()
    if not core:
        return None
    found = translate(core, language)
    if found is core:
        return None
    start = text.index(core)
    return text[:start] + found + text[start + len(core) :]


def for_reader(text: str, language: str | None = None) -> str:
    """What the Telegram boundary does: whole text, then paragraphs, then lines, by exact msgid.

    Text that is no msgid (already translated, or names and numbers) is left as it is.
    """
    language = known(language) if language is not None else _reader.get()
    if language == ENGLISH or not text:
        return text
    whole = _stripped(text, language)
    if whole is not None:
        return whole
    for separator in ("\n\n", "\n"):
        if separator in text:
            return separator.join(for_reader(part, language) for part in text.split(separator))
    return text


class Localised(str):
    """A text function's result that can be made again for another reader."""

    again: Callable[[], str]
    language: str  # the language it was made in

    def __reduce__(self) -> tuple[type[str], tuple[str]]:
        # Kept (pickled, copied) as the plain text it is.
        return (str, (str(self),))


def localised(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate a text function so its result remembers how to be made again."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        result = func(*args, **kwargs)
        if isinstance(result, str):
            made = Localised(result)
            made.again = cast(Callable[[], str], functools.partial(_again, func, args, kwargs))
            made.language = _reader.get()
            return made  # type: ignore[return-value]
        return result

    return wrapper


def _again(
    func: Callable[..., object], args: tuple[object, ...], kwargs: dict[str, object]
) -> object:
    """Call ``func`` again, with its texts (and lists of texts) made again in the reader's
    language too: a digest made of lines is Welsh line by line, not only its frame."""
    return func(*(_remade(a) for a in args), **{k: _remade(v) for k, v in kwargs.items()})


def _remade(value: object) -> object:
    if isinstance(value, Localised):
        return in_language(value, _reader.get())
    if isinstance(value, list):
        return [_remade(item) for item in value]
    if isinstance(value, tuple) and any(isinstance(item, Localised) for item in value):
        return tuple(_remade(item) for item in value)
    return value


def in_language(text: str, language: str | None) -> str:
    """``text`` for a reader of ``language``: made again if a text function made it."""
    if not isinstance(text, Localised) or text.language == known(language):
        return text
    again = text.again
    with speaking(language):
        made = Localised(again())
    made.again = again
    made.language = known(language)
    return made
