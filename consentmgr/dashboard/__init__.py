"""The DPO dashboard: daily aggregates kept up to date from the audit trail, and the report read from them."""
