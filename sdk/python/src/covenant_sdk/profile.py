"""Client profiles as ``covenant node init`` and ``covenant up`` write them: where the node
is, which chain, and named identities (certificate and key files, relative to the profile's
directory)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import CovenantError, ProfileError
from .signer import Signer

if TYPE_CHECKING:
    from .client import Client

__all__ = ["IdentityFiles", "Profile"]


@dataclass(frozen=True)
class IdentityFiles:
    """The certificate and key files of one identity (as written in the profile)."""

    cert: Path
    key: Path


@dataclass
class Profile:
    """A node endpoint, a chain and named identities."""

    endpoint: str
    chain_id: str
    identity: str
    identities: dict[str, IdentityFiles]
    endpoints: list[str] = field(default_factory=list)
    base: Path = field(default_factory=Path)

    @classmethod
    def load(cls, path: str | Path) -> Profile:
        """Read a profile file."""
        path = Path(path)

        def bad(detail: str) -> ProfileError:
            return ProfileError("PROFILE_INVALID", f"{path}: {detail}")

        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as e:
            raise bad(str(e)) from e
        except ValueError as e:
            raise bad(f"not JSON: {e}") from e
        if not isinstance(data, dict):
            raise bad("not a profile (a JSON object)")
        for key in ("endpoint", "chain_id", "identity"):
            if not isinstance(data.get(key), str):
                raise bad(f"not a profile: {key!r} must be a string")
        ids = data.get("identities")
        if not isinstance(ids, dict):
            raise bad("not a profile: 'identities' must be an object")
        identities: dict[str, IdentityFiles] = {}
        for name, files in ids.items():
            if (
                not isinstance(files, dict)
                or not isinstance(files.get("cert"), str)
                or not isinstance(files.get("key"), str)
            ):
                raise bad(f"identity {name!r} must have 'cert' and 'key' paths")
            identities[name] = IdentityFiles(Path(files["cert"]), Path(files["key"]))
        endpoints = data.get("endpoints", [])
        if not isinstance(endpoints, list) or not all(isinstance(e, str) for e in endpoints):
            raise bad("'endpoints' must be a list of strings")
        return cls(
            endpoint=data["endpoint"],
            chain_id=data["chain_id"],
            identity=data["identity"],
            identities=identities,
            endpoints=list(endpoints),
            base=path.parent,
        )

    def resolve(self, p: str | Path) -> Path:
        """A path from the profile, made absolute against its directory."""
        p = Path(p)
        return p if p.is_absolute() else self.base / p

    def signer(self, name: str | None = None) -> Signer:
        """The identity ``name`` (by default the profile's own), loaded and checked: its key
        must be its certificate's."""
        name = name if name is not None else self.identity
        files = self.identities.get(name)
        if files is None:
            known = ", ".join(sorted(self.identities)) or "none"
            raise ProfileError(
                "IDENTITY_UNKNOWN", f"no identity named {name!r} in the profile (it has: {known})"
            )
        try:
            return Signer.load(self.resolve(files.cert), self.resolve(files.key), name)
        except CovenantError as e:
            raise ProfileError("IDENTITY_INVALID", f"identity {name}: {e.message}") from e

    def client(self, *, timeout: float = 30.0) -> Client:
        """A client of the profile's endpoint and chain."""
        from .client import Client

        return Client(self.endpoint, self.chain_id, timeout=timeout)
