"""The Python client SDK of Covenant.

- :class:`Profile`: a node endpoint, a chain and named identities (certificate and key files),
  as ``covenant node init`` and ``covenant up`` write them.
- :class:`Signer`: an identity that signs transactions and endorsements.
- :class:`Client`: the node's REST API: invoke (sign, submit, wait), query, transactions with
  verified Merkle proofs, blocks, chain info; subscriptions to blocks and events that resume
  after a disconnect.
- :mod:`covenant_sdk.wire`, :mod:`covenant_sdk.crypto`, :mod:`covenant_sdk.merkle`: the
  encoding, algorithms and proofs underneath, byte for byte as the node has them.
"""

from .client import Client
from .crypto import Certificate, PrivateKey, PublicKey, sha256, sm3, suite_hash
from .errors import (
    ApiError,
    BadResponse,
    CommitTimeout,
    CovenantError,
    CryptoError,
    EncodingError,
    NodeUnreachable,
    ProfileError,
    ProofInvalid,
    QueryFailed,
    SubscriptionLost,
    TransactionFailed,
)
from .merkle import InclusionProof
from .profile import IdentityFiles, Profile
from .signer import Signer
from .subscribe import BlockSubscription, EventSubscription, Subscription
from .tx import TxBuilder, tx_id
from .views import (
    Block,
    BlockMessage,
    ChainInfo,
    Event,
    EventMessage,
    Receipt,
    Submitted,
    TxResult,
    TxSummary,
    TxView,
)
from .wire import Endorsement, Sender, Transaction, TxPayload

__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "BadResponse",
    "Block",
    "BlockMessage",
    "BlockSubscription",
    "Certificate",
    "ChainInfo",
    "Client",
    "CommitTimeout",
    "CovenantError",
    "CryptoError",
    "EncodingError",
    "Endorsement",
    "Event",
    "EventMessage",
    "EventSubscription",
    "IdentityFiles",
    "InclusionProof",
    "NodeUnreachable",
    "PrivateKey",
    "Profile",
    "ProfileError",
    "ProofInvalid",
    "PublicKey",
    "QueryFailed",
    "Receipt",
    "Sender",
    "Signer",
    "Submitted",
    "Subscription",
    "SubscriptionLost",
    "Transaction",
    "TransactionFailed",
    "TxBuilder",
    "TxPayload",
    "TxResult",
    "TxSummary",
    "TxView",
    "sha256",
    "sm3",
    "suite_hash",
    "tx_id",
]
