"""Data-subject requests (GDPR Arts. 12, 15-21): the register, deadlines, decisions and legal holds."""
