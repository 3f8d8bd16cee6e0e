"""The breach register (GDPR Art. 33/34): what happened, the 72-hour clock, who was told."""
