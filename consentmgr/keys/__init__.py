"""The key store: per-customer data keys wrapped by the master key."""
