"""A second client of the Katta API, written from the contract and not from our SDK.

It speaks to the API as Cryptomator Hub 1.5's web frontend (``frontend/src/common/backend.ts``,
``jwe.ts``, ``universalVaultFormat.ts``) and Katta's desktop client do, from
``tests/reference/katta-openapi.json`` and the formats of architecture §5. JOSE goes through jwcrypto
(our SDK and server use joserfc), raw keys through ``cryptography``. It imports neither
``katta_client`` nor ``chalicelib`` (tests/test_independent_client.py scans this package), so a
misreading of the contract shared by our client and our server cannot hide here.

``keys``: user keys, devices, vaults, access tokens and web-of-trust signatures as Hub writes them.
``hub``: the HTTP calls, one method per call Hub's web client makes, over any transport.
"""
