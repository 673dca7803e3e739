"""The secret server (architecture §8): token exchange for registered resource servers, and its admin API."""

# Here, not in ``service``: the app and the route name it at import, and the service loads with the first release.
TOKEN_PATH = "/secret-server/token-exchange"
