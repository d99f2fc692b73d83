"""Which risk form a referrer's numbers come from, and how each maps onto the 24 stored answers.

Agencies do not all complete the same checklist. Partner agencies use the SafeLives
(formerly CAADA) Dash risk identification checklist, 24 questions. Police officers in
England and Wales completed the ACPO DASH (2009), 27 questions, whose "children/dependants"
section inserts questions after the pregnancy question, so every number after 9 differs from
the SafeLives numbering; many forces now use the College of Policing's Domestic Abuse Risk
Assessment (DARA) instead, which ends in a graded risk level, not a count of yes answers.

The case keeps its answers as the 24 SafeLives questions (``bot.referrals.dash``), which is
what the MARAC threshold counts. A form is a table (``FormQuestion``): each of its questions,
as numbered on that form, with the SafeLives question it is the same as, or None for a
question the 24 do not have. Correcting a mapping is a change to the table, nothing else.

Sources (accessed 7 December 2026):

- SafeLives Dash risk checklist, 24 questions, numbering and topics: "SafeLives Dash risk
  checklist for the identification of high risk cases of domestic abuse, stalking and
  honour-based violence", https://docplayer.net/17835257-Safelives-dash-risk-checklist-for-
  the-identification-of-high-risk-cases-of-domestic-abuse-stalking-and-honour-based-
  violence.html, and "SafeLives Dash risk checklist Quick start guidance",
  https://www.readkong.com/page/safelives-dash-risk-checklist-quick-start-guidance-8141486;
  Northern Ireland version also 24:
  https://safelives.org.uk/resources-library/dash-risk-checklist-for-northern-ireland
  (as summarised in the project's shared/domain-reference.md, section 1.4).
- ACPO DASH (2009), 27 questions: "ACPO/CAADA Domestic Abuse, Stalking and Harassment and
  Honour Based Violence (DASH 2009) Risk Model" (the police form),
  https://paperzz.com/doc/7134875/dash-risk-form - questions 1 to 11 were read there:
  1-8 as SafeLives 1-8, the "CHILDREN/DEPENDENTS" section opening with 9 (pregnant or a
  baby in the past 18 months), 10 (children or step-children not the person causing harm's,
  or other dependants, in the household) and 11 (has hurt the children/dependants).
  "Domestic Abuse, Stalking and Harassment and Honour Based Violence (DASH, 2009) Risk
  Identification and Assessment and Management Model",
  https://studylib.net/doc/18565544 (the model and its authorship); "DASH (2009)
  Frequently Asked Questions", https://ja.scribd.com/document/206689387/DASH-2009-FAQs
  ("the police service will use the ACPO DASH and partner agencies the CAADA DASH").
  NOT VERIFIED from a public source: questions 12 to 27. The table takes 12 as the third
  children/dependants question (threats to hurt or kill the children/dependants) and 13-27
  as SafeLives 10-24 in the same order, which is the only ordering that gives 27 questions
  with the verified 1-11; check it against a force's form and correct the table if it
  differs.
- DARA: College of Policing, "Police better equipped to spot controlling behaviour"
  (26 November 2022), https://www.college.police.uk/article/police-better-equipped-spot-
  controlling-behaviour (DARA replaces DASH for frontline officers); NPCC, "Police use of
  domestic abuse risk assessment tools" (2025), as republished at
  https://securengin.fifthestate.nz/2025/08/22/police-use-of-domestic-abuse-risk-assessment-tools
  (DASH and DARA "always used alongside professional judgement"). A DARA result is recorded
  as its risk level (standard, medium or high); it is not mapped onto the 24 questions.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot import texts
from bot.referrals.dash import (
    DASH_QUESTIONS,
    QUESTION_COUNT,
    Answer,
    DashAnswers,
    parse_quick_entry,
)


class DashForm(StrEnum):
    """The form a risk assessment was completed on (stored as this code)."""

    SAFELIVES = "safelives"
    ACPO_2009 = "acpo_2009"
    DARA = "dara"


class DaraLevel(StrEnum):
    """A DARA assessment's result, as graded by the officer (stored as this code)."""

    STANDARD = "standard"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True)
class FormQuestion:
    """A question as numbered and worded on its form, and the SafeLives question it is."""

    number: int
    topic: str
    safelives: int | None


SAFELIVES_FORM: tuple[FormQuestion, ...] = tuple(
    FormQuestion(q.number, q.topic, q.number) for q in DASH_QUESTIONS
)


def _same_as(safelives: int) -> tuple[str, int]:
    return DASH_QUESTIONS[safelives - 1].topic, safelives


# The ACPO DASH (2009) as the police number it. See the module docstring for what is verified.
ACPO_2009_FORM: tuple[FormQuestion, ...] = tuple(
    FormQuestion(number, topic, safelives)
    for number, (topic, safelives) in enumerate(
        [
            _same_as(1),
            _same_as(2),
            _same_as(3),
            _same_as(4),
            _same_as(5),
            _same_as(6),
            _same_as(7),
            _same_as(8),
            _same_as(9),
            (
                "Children or step-children not the person causing harm's, or other dependants, "
                "in the household",
                None,
            ),
            ("Person causing harm has hurt the children or dependants", None),
            ("Person causing harm has threatened to hurt or kill the children or dependants", None),
            *(_same_as(n) for n in range(10, QUESTION_COUNT + 1)),
        ],
        start=1,
    )
)

FORMS: dict[DashForm, tuple[FormQuestion, ...]] = {
    DashForm.SAFELIVES: SAFELIVES_FORM,
    DashForm.ACPO_2009: ACPO_2009_FORM,
}


def questions_of(form: DashForm) -> tuple[FormQuestion, ...]:
    """The form's questions; a DARA assessment has none to enter (it is a graded level)."""
    if form not in FORMS:
        raise ValueError(f"{form} is not entered as numbered answers")
    return FORMS[form]


def parse_form_entry(form: DashForm, text: str) -> dict[int, Answer]:
    """Quick entry ("yes 1 3 5-9, not known 20") numbered as on ``form``."""
    return parse_quick_entry(text, len(questions_of(form)))


def to_safelives(
    form: DashForm, answers: dict[int, Answer]
) -> tuple[DashAnswers, dict[int, Answer]]:
    """The answers as the 24 SafeLives questions, and the form's answers to questions the 24
    do not have (kept beside them, not counted in the score)."""
    mapped: DashAnswers = {}
    extra: dict[int, Answer] = {}
    for question in questions_of(form):
        answer = answers.get(question.number)
        if answer is None:
            continue
        if question.safelives is None:
            extra[question.number] = answer
        else:
            mapped[question.safelives] = answer
    return mapped, extra


def number_on_form(form: DashForm, safelives: int) -> int:
    """The number the SafeLives question has on ``form`` (the form the referrer holds)."""
    if form not in FORMS:
        return safelives
    for question in FORMS[form]:
        if question.safelives == safelives:
            return question.number
    return safelives


def encode(answers: dict[int, Answer], count: int) -> int:
    """A whole form's answers as one number (base 3), small enough for a button."""
    digits = {Answer.NO: 0, Answer.YES: 1, Answer.NOT_KNOWN: 2}
    value = 0
    for number in range(count, 0, -1):
        value = value * 3 + digits[answers.get(number, Answer.NO)]
    return value


def decode(value: int, count: int) -> dict[int, Answer]:
    """The answers ``encode`` made; a value out of range is refused."""
    if not 0 <= value < 3**count:
        raise ValueError("not a set of answers")
    answers = (Answer.NO, Answer.YES, Answer.NOT_KNOWN)
    decoded: dict[int, Answer] = {}
    for number in range(1, count + 1):
        value, digit = divmod(value, 3)
        decoded[number] = answers[digit]
    return decoded


_SHOWN = {Answer.YES: "yes", Answer.NO: "no", Answer.NOT_KNOWN: "not known"}


def read_back_form(form: DashForm, answers: dict[int, Answer]) -> str:
    """The answers as the referrer's own form numbers and names them, with the MARAC score.

    A number copied from the police form lands on another question of the SafeLives
    checklist, so the read-back is in the form's numbering: what the referrer sees is what
    they have in front of them.
    """
    questions = questions_of(form)
    counted = [q for q in questions if q.safelives is not None]
    yes = [(q.number, q.topic) for q in counted if answers.get(q.number) is Answer.YES]
    not_known = [(q.number, q.topic) for q in counted if answers.get(q.number) is Answer.NOT_KNOWN]
    extra = [
        (q.number, q.topic, _SHOWN[answers.get(q.number, Answer.NO)])
        for q in questions
        if q.safelives is None
    ]
    mapped, _ = to_safelives(form, answers)
    score = sum(1 for a in mapped.values() if a is Answer.YES)
    return texts.dash_form_read_back(form.value, yes, not_known, extra, score)
