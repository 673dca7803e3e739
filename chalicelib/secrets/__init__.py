"""The secret server (architecture §8): token exchange for registered resource servers, and its admin API."""
