"""The Telegram adapter: the Application and its plumbing, beside ``handlers/``.

Building the python-telegram-bot Application (``application``), the context handlers get
(``context``), sending the outbox (``dispatcher``), housekeeping on the JobQueue
(``jobs``), per-person update ordering (``update_order``), webhook mode (``webhook``), the
active/standby lease (``leader``), metrics and start-up tuning. Services never import it.
"""
