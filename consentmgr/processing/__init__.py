"""Records of processing activities (GDPR Art. 30(1)), generated, never typed by hand."""
