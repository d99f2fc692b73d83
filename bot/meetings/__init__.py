"""Meeting rules: when MARACs happen, which days count as working days, agenda deadlines.

Everything here is a pure function of its arguments (no clock, database or Telegram), so
the services can call it inside a transaction and the tests can pin every date.
"""
