"""DynamoDB access: one table, one repository per aggregate.

Key design (the one place it is written down; the keys are built in ``keys.py`` alone)
======================================================================================

Table attributes: ``pk`` (S, hash), ``sk`` (S, range), GSI ``gsi1`` on
``gsi1pk``/``gsi1sk`` (projection ALL), TTL attribute ``expires_at`` (epoch
seconds; reads filter expired items because DynamoDB reaps them lazily).

=========================  ===========================  =====================================  ==========================
Aggregate / item           pk                           sk                                     gsi1pk / gsi1sk
=========================  ===========================  =====================================  ==========================
user                       ``USER#<userId>``             ``PROFILE``                            ``AUTHORITIES`` / ``USER#<name lower>#<id>``
device                     ``USER#<userId>``             ``DEVICE#<deviceId>``
SCIM userName claim        ``USERNAME#<name lower>``     ``USERNAME``
user e-mail (search)       ``EMAIL#<email lower>``       ``USER#<userId>``
device id claim            ``DEVICE#<deviceId>``         ``OWNER``
web-of-trust signature     ``USER#<signerId>``           ``TRUST#<signedUserId>``
group                      ``GROUP#<groupId>``           ``PROFILE``                            ``AUTHORITIES`` / ``GROUP#<name lower>#<id>``
group member               ``GROUP#<groupId>``           ``MEMBER#<userId>``                    ``AUTH#<userId>`` / ``GROUP#<groupId>``
vault                      ``VAULT#<vaultId>``           ``PROFILE``                            ``VAULTS`` / ``VAULT#<vaultId>``
vault member (user/group)  ``VAULT#<vaultId>``           ``MEMBER#<authorityId>``               ``AUTH#<authorityId>`` / ``VAULT#<vaultId>``
vault access token         ``VAULT#<vaultId>``           ``TOKEN#<userId>``                     ``TOKENS#<userId>`` / ``VAULT#<vaultId>``
emergency council seat     ``VAULT#<vaultId>``           ``COUNCIL#<userId>``                   ``COUNCILS#<userId>`` / ``VAULT#<vaultId>``
recovery process           ``VAULT#<vaultId>``           ``RECOVERY#<processId>``
recovery process's vault   ``RECOVERY#<processId>``      ``VAULT``
storage profile            ``STORAGEPROFILE``            ``<profileId>``
vault bucket created       ``BUCKET#<bucket>``           ``CREATED``
settings                   ``SETTINGS``                  ``HUB``
access epoch               ``EPOCH``                     ``ACCESS``                             (``epoch``, ``people``: counters, db/epoch.py)
a vault's access epoch     ``EPOCH``                     ``VAULT#<vaultId>``                    (``epoch``: a counter, db/epoch.py)
a change of people         ``EPOCH``                     ``PEOPLE#<n mod 64>``                  (``n``: its ``people`` count, ``ids``: users and groups)
audit event                ``AUDIT#<yyyy-mm>``           ``<eventId × 1000, zero-padded to 20>``  ``AUDITTYPE#<type>#<yyyy-mm>`` / (its sk)
key-ring version           ``RING#<ring>``               ``V#<version, 10 digits>``
key-ring head              ``RING#<ring>``               ``HEAD``                               ``RINGS`` / ``<ring>``
sealed record (any item)   (the owner's)                 (the owner's)                          ``SEALED#<ring>`` / ``<version>#<pk>#<sk>``
POP key                    ``POP#<use>``                 ``KEY#<kid>``                          (sealed record of ring ``pop``)
POP ring generation        ``POP#<use>``                 ``HEAD``
lock                       ``LOCK#<name>``               ``LOCK``                               (TTL)
user secret                ``SECRET#<iss>#<sub>``        ``<purpose>``
secret-server IdP          ``SSIDP``                     ``<issuer>``
resource server            ``SSRS``                      ``<clientId>``
used assertion id (jti)    ``JTI#<clientId>``            ``<jti>``                              (TTL)
rendezvous session         ``RDV#<id>``                  ``SESSION``                            (TTL)
rendezvous slot of a user  ``RDVUSER#<userId>``          ``SLOT#<n>``                           (TTL = its session's)
anonymous rendezvous rate  ``RDVRATE#<source>``          ``<window start>``                     (TTL)
=========================  ===========================  =====================================  ==========================

Access patterns: a user's devices and trust signatures are one Query on
``USER#<id>``; a vault's members, tokens, council seats and recovery processes one Query on
``VAULT#<id>``; the vaults a user can help recover one Query on gsi1 (``COUNCILS#<id>``); the
vaults and groups of an authority one Query on ``gsi1`` (``AUTH#<id>``); a page
of audit events a Query per month partition, newest first, each asking for at most a
page (``Limit``); a page of chosen types one Query per type and month on gsi1, merged. A user's open
rendezvous sessions are its live slots (one Query on ``RDVUSER#<id>``; slot
numbers stay below the per-user limit, so a conditional put of a free slot is
what bounds them); anonymous creations are counted per source (IPv4 address or
IPv6 /64) and minute by a conditional ADD.
A caller's access token, vault and direct memberships are ONE BatchGetItem
(with the user item); a user's tokens (account reset) one Query on gsi1
``TOKENS#<id>``; all vaults (admin) one Query on gsi1 ``VAULTS``.
The users with an e-mail address are one Query on ``EMAIL#<email>`` (Limit) and a
BatchGetItem of their profiles; an index item left by an address changed since is
told apart by the profile, which is the truth (``indexedEmail`` on the profile says
which address has its index item, so a profile written before the index gets one
at the user's next sign-in).

Key management: a key ring (head and versions) or a POP ring (``use`` is
``sig`` or ``enc``) is one Query; the re-wrap job finds the records below a ring
version with a Query on ``gsi1`` (``SEALED#<ring>``), so an item holding a
sealed record uses gsi1 for nothing else.
"""
