"""The secret server (DESIGN §8): token exchange for registered resource servers, and its admin API."""
