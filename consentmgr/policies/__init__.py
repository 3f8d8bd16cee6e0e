"""The published privacy policy: versioned documents, their purposes, and how they change."""
