"""Server-side sessions of the portal and the staff screens (the cookie holds only a random id)."""
