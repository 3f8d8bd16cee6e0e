"""Customer records: personal details, preferences and interaction history."""
