"""The audiences: public pages, the customer portal, staff screens, the API."""
