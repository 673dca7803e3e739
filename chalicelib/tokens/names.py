"""Registered names the token service speaks (RFC 9068, AWS session tags; OAuth's are in chalicelib.oauth)."""

# RFC 9068 §2.1: the typ of our exchanged access tokens, so no verifier mistakes them for an ID token.
ACCESS_TOKEN_TYP = "at+jwt"

# AWS reads the nested claim; SeaweedFS reads only the flat one (docs/seaweed.md).
AWS_TAGS_CLAIM = "https://aws.amazon.com/tags"
FLAT_PRINCIPAL_TAGS_CLAIM = "https://aws.amazon.com/tags/principal_tags"
VAULT_TAG = "Vault"

JWKS_PATH = "/.well-known/jwks.json"
DISCOVERY_PATH = "/.well-known/openid-configuration"
TOKEN_PATH = "/oauth2/token"
