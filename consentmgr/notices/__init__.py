"""Notices before a material change of the privacy policy: who is told, once per version."""
