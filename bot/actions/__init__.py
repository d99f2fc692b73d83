"""MARAC actions after the meeting: who owns each one, where it stands, and the action plan.

Pure rules only. The services store every step as a row with who and when; the
functions here decide which steps are allowed and read the current state back
from that history, so the audit trail and the state can never disagree.
"""
