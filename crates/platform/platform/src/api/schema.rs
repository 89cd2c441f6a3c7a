//! JSON schemas of the API's bodies, for the OpenAPI document. Request bodies are strict
//! (unknown fields refused, as the handlers refuse them); answers list what they carry.

use serde_json::{Value, json};

/// A reference to a component schema.
pub fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// A page of `item`s.
pub fn page(item: &str) -> Value {
    json!({
        "type": "object",
        "required": ["items", "next"],
        "properties": {
            "items": {"type": "array", "items": r(item)},
            "next": {"description": "Pass as `after` for the next page; null on the last", "nullable": true}
        }
    })
}

/// An array of `item`s.
pub fn list(item: &str) -> Value {
    json!({"type": "array", "items": r(item)})
}

/// A strict object.
pub fn object(required: &[&str], properties: Value) -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": required,
        "properties": properties,
    })
}

fn text(min: u64, max: u64) -> Value {
    json!({"type": "string", "minLength": min, "maxLength": max})
}

/// An optional field: leaving it out and sending null mean the same.
fn nullable(mut s: Value) -> Value {
    s["nullable"] = json!(true);
    s
}

fn int() -> Value {
    json!({"type": "integer", "format": "int64"})
}

fn obj(properties: Value) -> Value {
    json!({"type": "object", "properties": properties})
}

/// The certificate centre's component schemas.
fn certificate_components() -> Value {
    let s = json!({"type": "string"});
    let b = json!({"type": "boolean"});
    let n = int();
    json!({
        "Certificate": obj(json!({
            "fingerprint": s, "org_id": s,
            "kind": {"type": "string", "enum": ["root", "admin", "client", "node"]},
            "name": s, "subject": s, "serial": s, "not_before": s, "not_after": s,
            "expires_at": n, "days_left": n,
            "status": {"type": "string", "enum": ["valid", "expiring", "expired", "revoked"]},
            "custodial": b,
            "holder_id": {"type": "string", "nullable": true},
            "revocation_id": {"type": "string", "nullable": true}
        })),
        "CertificateDetail": {"allOf": [r("Certificate"), obj(json!({
            "issuer": s, "certificate": s,
            "revocation": {"allOf": [r("Revocation")], "nullable": true}
        }))]},
        "RevocationStep": obj(json!({
            "chain_id": s, "consortium_id": s,
            "proposal_id": {"type": "string", "nullable": true},
            "state": {"type": "string", "enum": ["voting", "committing", "on_chain", "enforced", "failed"]},
            "detail": s, "updated_at": n
        })),
        "Revocation": obj(json!({
            "id": s, "org_id": s, "fingerprint": s, "serial": s, "subject": s, "reason": s,
            "crl_number": n,
            "state": {"type": "string", "enum": ["in_progress", "done", "incomplete"]},
            "created_by": s, "created_at": n,
            "finished_at": {"type": "integer", "format": "int64", "nullable": true},
            "steps": {"type": "array", "items": r("RevocationStep")}
        })),
        "CertificateRequest": obj(json!({
            "id": s, "org_id": s, "requested_by": s, "requester": s, "name": s, "role": s,
            "with_csr": b, "days": n, "note": s,
            "state": {"type": "string", "enum": ["pending", "approved", "rejected"]},
            "decided_by": {"type": "string", "nullable": true},
            "decided_at": {"type": "integer", "format": "int64", "nullable": true},
            "decision_note": {"type": "string", "nullable": true},
            "identity_id": {"type": "string", "nullable": true},
            "fingerprint": {"type": "string", "nullable": true},
            "created_at": n
        }))
    })
}

/// Schemas of the operations routes: ledger exports, node bundles and settings, trust roots,
/// contract source checks (apart from the rest to keep each `json!` within the macro's limits).
fn operations_components() -> Value {
    let s = json!({"type": "string"});
    let n = int();
    let strings = json!({"type": "array", "items": {"type": "string"}});
    json!({
        "ContractSourceCheck": obj(json!({
            "ok": {"type": "boolean"}, "built": {"type": "boolean"}, "linted": {"type": "boolean"},
            "methods": strings,
            "findings": {"type": "array", "items": {"type": "object", "properties": {
                "severity": {"type": "string", "enum": ["error", "warning", "info"]},
                "tool": {"type": "string", "enum": ["rules", "rustc", "clippy", "module"]},
                "rule": s, "message": s,
                "line": {"type": "integer", "nullable": true}, "column": {"type": "integer", "nullable": true},
                "location": {"type": "string", "nullable": true}
            }}},
            "module": {"type": "string", "nullable": true, "description": "The built module (base64) when ok"},
            "size": {"type": "integer", "nullable": true}, "sha256": {"type": "string", "nullable": true}
        })),
        "NodeSettings": {"type": "object", "additionalProperties": false, "properties": {
            "log_level": {"type": "string", "nullable": true, "maxLength": 200, "description": "error, warn, info, debug, trace, or a filter such as info,covenant_consensus=debug"},
            "pool_max_txs": {"type": "integer", "nullable": true, "minimum": 100, "maximum": 1000000},
            "verify_blocks": {"type": "integer", "nullable": true, "minimum": 0, "maximum": 10000000}
        }},
        "TrustRoot": obj(json!({
            "fingerprint": s, "kind": {"type": "string", "enum": ["platform", "external"]},
            "subject": s, "not_after": n, "certificate": s,
            "added_at": {"type": "integer", "format": "int64", "nullable": true},
            "added_by": {"type": "string", "nullable": true}
        })),
        "NodeBundle": obj(json!({
            "format": s, "node": {"type": "object"}, "created_at": n,
            "chains": {"type": "array", "items": {"type": "object", "properties": {
                "id": s, "genesis": {"type": "string", "format": "byte"},
                "genesis_hash": {"type": "string", "nullable": true}, "consensus": s, "suite": s,
                "nodes": {"type": "array"}
            }}}
        })),
        "LedgerExport": obj(json!({
            "network_id": s, "chain_id": s, "node": s, "blocks": n, "bytes": n,
            "genesis_hash": s, "tip_hash": s,
            "config_heights": {"type": "array", "items": {"type": "integer"}},
            "created_at": n, "created_by": s
        })),
    })
}

/// The monitoring component schemas.
fn monitoring_components() -> Value {
    let s = json!({"type": "string"});
    let b = json!({"type": "boolean"});
    let n = int();
    let opt_n = json!({"type": "integer", "format": "int64", "nullable": true});
    let opt_f = json!({"type": "number", "nullable": true});
    let metric = json!({"type": "string", "enum": ["node_down", "height_stalled_s", "disk_used_percent", "memory_mb", "cpu_percent", "txpool_size", "cert_expiring_days", "tx_failures_per_min"]});
    json!({
        "ContractCheck": obj(json!({
            "ok": b, "size": n, "sha256": s, "functions": n,
            "imports": {"type": "array", "items": s}, "exports": {"type": "array", "items": s},
            "findings": {"type": "array", "items": obj(json!({
                "severity": {"type": "string", "enum": ["error", "warning", "info"]},
                "rule": s, "message": s, "location": {"type": "string", "nullable": true}
            }))}
        })),
        "ContractVersion": obj(json!({
            "proposal_id": s, "kind": s, "version": {"type": "string", "nullable": true},
            "code_sha256": {"type": "string", "nullable": true},
            "size": {"type": "integer", "nullable": true}, "proposer_org": s, "proposer_account": s,
            "state": s, "votes": {"type": "array", "items": obj(json!({
                "org_id": s, "decision": s, "offline": b, "certificate_fingerprint": s, "created_at": n
            }))},
            "created_at": n, "executed_at": opt_n, "tx_id": {"type": "string", "nullable": true},
            "height": {"type": "integer", "nullable": true}
        })),
        "Sample": obj(json!({
            "at": n, "up": b, "height": n, "peers": n, "round": opt_n, "cpu_percent": opt_f,
            "memory_bytes": opt_n, "disk_used_bytes": opt_n, "disk_available_bytes": opt_n,
            "disk_used_percent": opt_f, "txpool": opt_n, "tps": opt_f, "uptime_s": opt_n,
            "block_interval_ms": opt_n, "tx_failures_per_min": opt_f
        })),
        "AlertChannel": obj(json!({
            "id": s, "org_id": s, "name": s, "kind": {"type": "string", "enum": ["webhook", "email"]},
            "target": s, "settings": {"type": "object"}, "has_secret": b, "created_at": n,
            "secret": {"type": "string", "description": "The webhook's signing key: only in the answer that created it"}
        })),
        "AlertRule": obj(json!({
            "id": s, "org_id": s, "name": s, "metric": metric, "threshold": n, "for_s": n,
            "severity": {"type": "string", "enum": ["info", "warning", "critical"]},
            "repeat_s": n, "channels": {"type": "array", "items": s}, "enabled": b,
            "created_at": n, "version": n
        })),
        "Alert": obj(json!({
            "id": s, "rule_id": s, "rule_name": {"type": "string", "nullable": true},
            "severity": {"type": "string", "nullable": true}, "org_id": s, "subject": s,
            "subject_name": s, "state": {"type": "string", "enum": ["pending", "firing", "resolved"]},
            "value": opt_n, "summary": s, "pending_since": n, "fired_at": opt_n,
            "resolved_at": opt_n, "last_sent_at": opt_n
        })),
        "Delivery": obj(json!({
            "id": s, "alert_id": s, "channel_id": s,
            "event": {"type": "string", "enum": ["firing", "repeat", "resolved", "test"]},
            "state": {"type": "string", "enum": ["pending", "delivered", "failed"]},
            "attempts": n, "next_at": n, "last_error": {"type": "string", "nullable": true},
            "response_status": opt_n, "created_at": n, "delivered_at": opt_n,
            "payload": {"type": "object"}
        })),
    })
}

/// Every component schema.
pub fn components() -> Value {
    let s = json!({"type": "string"});
    let b = json!({"type": "boolean"});
    let n = int();
    let strings = json!({"type": "array", "items": {"type": "string"}});
    let mut all = json!({
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": s, "message": s}
            }}
        },
        "Account": obj(json!({
            "id": s, "org_id": s, "username": s, "display_name": s, "root": b,
            "totp_enabled": b, "disabled": b, "created_at": n, "version": n,
            "locale": s, "time_zone": s
        })),
        "Me": obj(json!({"account": r("Account"), "org": r("Org"), "actions": strings, "unread_events": n,
            "csrf_token": {"type": "string", "nullable": true, "description": "The session's CSRF token (null when signed in with an API token)"}})),
        "Session": obj(json!({"csrf_token": s, "expires_at": n, "account": r("Account")})),
        "Group": obj(json!({
            "id": s, "org_id": s, "name": s, "description": s, "members": strings,
            "actions": strings, "created_at": n, "version": n
        })),
        "Token": obj(json!({
            "id": s, "name": s, "scopes": strings, "expires_at": n, "created_at": n,
            "last_used_at": {"type": "integer", "nullable": true}, "revoked": b,
            "token": {"type": "string", "description": "The secret: only in the answer that created it"}
        })),
        "Action": obj(json!({"name": s, "description": s, "root_only": b})),
        "Org": obj(json!({
            "id": s, "name": s, "suite": s, "verified": b, "ca_certificate": s,
            "ca_fingerprint": s, "ca_kept": b, "created_at": n
        })),
        "Identity": obj(json!({
            "id": s, "org_id": s, "name": s, "role": s, "certificate": s, "fingerprint": s,
            "custodial": b, "not_after": s, "created_at": n,
            "revoked_at": {"type": "integer", "format": "int64", "nullable": true}
        })),
        "Registered": obj(json!({
            "org": r("Org"), "root_account": r("Account"),
            "identities": {"type": "array", "items": r("Identity")}
        })),
        "Policy": obj(json!({
            "rule": {"type": "string", "description": "ANY, ALL, MAJORITY, N_OF_M:n, PERCENT:p or FRACTION:a/b"},
            "weights": {"type": "object", "additionalProperties": {"type": "integer"}},
            "veto": strings,
            "deadline_hours": {"type": "integer", "nullable": true}
        })),
        "Consortium": obj(json!({
            "id": s, "name": s, "description": s, "require_verified": b, "founder_org": s,
            "members": {"type": "array", "items": obj(json!({"org_id": s, "name": s, "joined_at": n}))},
            "policies": {"type": "object", "additionalProperties": r("Policy")},
            "created_at": n, "version": n
        })),
        "Invitation": obj(json!({
            "id": s, "consortium_id": s, "consortium_name": s, "org_id": s,
            "proposal_id": {"type": "string", "nullable": true}, "message": s, "state": s,
            "created_at": n, "decided_at": {"type": "integer", "nullable": true}
        })),
        "Vote": obj(json!({
            "org_id": s, "decision": s, "identity_id": s, "certificate_fingerprint": s,
            "signature": s, "offline": b, "account_id": {"type": "string", "nullable": true},
            "created_at": n
        })),
        "Proposal": obj(json!({
            "id": s, "consortium_id": s, "chain_id": {"type": "string", "nullable": true},
            "kind": s, "title": s, "params": {}, "params_sha256": s, "proposer_org": s,
            "proposer_account": s, "policy": r("Policy"),
            "voters": {"type": "array", "items": obj(json!({"org_id": s, "weight": n}))},
            "votes": {"type": "array", "items": r("Vote")},
            "tally": obj(json!({"approve_weight": n, "reject_weight": n, "total_weight": n, "standing": s, "reason": s})),
            "state": {"type": "string", "enum": ["open", "approved", "rejected", "expired", "executing", "executed", "failed"]},
            "deadline": n, "tx_id": {"type": "string", "nullable": true}, "created_at": n,
            "decided_at": {"type": "integer", "nullable": true},
            "executed_at": {"type": "integer", "nullable": true},
            "outcome": {"nullable": true}, "operation_id": {"type": "string", "nullable": true},
            "version": n
        })),
        "SigningRequest": {
            "type": "object",
            "description": "What `covenant proposal sign FILE` signs: a chain transaction's payload, or the platform's statement",
            "properties": {"platform_proposal": s, "decision": s, "payload": s, "statement": s, "tx_id": s, "signatures": {"type": "array"}}
        },
        "Event": obj(json!({
            "id": n, "org_id": s, "kind": s, "title": s, "subject_kind": s, "subject_id": s,
            "data": {}, "created_at": n, "read": b
        })),
        "Node": obj(json!({
            "id": s, "network_id": s, "org_id": s, "name": s, "api_url": s, "grpc_address": s,
            "peer_address": s, "certificate": s, "state": s, "status": s,
            "hosting": {"type": "string", "enum": ["platform", "org"]},
            "heights": {"type": "object", "additionalProperties": {"type": "integer"}},
            "peers": n, "chains": strings, "last_seen_at": {"type": "integer", "nullable": true},
            "last_error": {"type": "string", "nullable": true}, "created_at": n
        })),
        "Network": obj(json!({
            "id": s, "consortium_id": s, "name": s,
            "state": {"type": "string", "enum": ["ready", "running", "recycled", "purged", "deleted"]},
            "expires_at": n, "recycled_at": {"type": "integer", "format": "int64", "nullable": true},
            "purged_at": {"type": "integer", "format": "int64", "nullable": true},
            "nodes": {"type": "array", "items": r("Node")}, "chains": strings, "created_at": n,
            "version": n
        })),
        "Chain": obj(json!({
            "id": s, "network_id": s, "consortium_id": s, "consensus": s, "suite": s, "state": s,
            "genesis_hash": {"type": "string", "nullable": true}, "nodes": {"type": "array"},
            "created_at": n,
            "live": {"description": "What the chain itself reports (height, members, consensus nodes, policies, contracts), or why it could not be read"}
        })),
        "Operation": obj(json!({
            "id": s, "org_id": s, "consortium_id": {"type": "string", "nullable": true},
            "kind": s, "target": s, "state": {"type": "string", "enum": ["running", "succeeded", "failed"]},
            "progress": s, "step": n, "steps": n, "error": {}, "result": {}, "created_at": n,
            "updated_at": n
        })),
        "AuditEntry": obj(json!({
            "seq": n, "at": n, "request_id": s, "account_id": s, "org_id": s, "action": s,
            "target": s, "params_digest": s, "result": s, "prev_hash": s, "hash": s
        })),
    });
    let explorer = explorer_components(&s, &strings, &n);
    if let (Some(a), Value::Object(e)) = (all.as_object_mut(), explorer) {
        a.extend(e);
    }
    if let (Some(a), Value::Object(c)) = (all.as_object_mut(), certificate_components()) {
        a.extend(c);
    }
    if let (Some(a), Value::Object(m)) = (all.as_object_mut(), monitoring_components()) {
        a.extend(m);
    }
    if let (Some(a), Value::Object(o)) = (all.as_object_mut(), operations_components()) {
        a.extend(o);
    }
    all
}

/// The explorer's answers (a block of their own: one `json!` of every schema is too deep for
/// the macro).
fn explorer_components(s: &Value, strings: &Value, n: &Value) -> Value {
    json!({
        "BlockSummary": obj(json!({"height": n, "hash": s, "timestamp_ms": n, "proposer": s, "tx_count": n})),
        "ChainOverview": obj(json!({
            "chain_id": s, "height": n, "last_hash": s, "consensus": s, "suite": s, "config_version": n,
            "txpool_size": n, "recent_tx_count": n, "tx_per_second": {"type": "number"},
            "blocks": {"type": "array", "items": r("BlockSummary")}, "txs": {"type": "array", "items": {"type": "object"}}
        })),
        "Block": obj(json!({
            "chain_id": s, "height": n, "hash": s, "prev_hash": s, "timestamp_ms": n, "proposer": s,
            "tx_root": s, "results_root": s, "rwset_root": s, "dag_hash": s, "state_root": s,
            "config_version": n, "tx_count": n, "txs": {"type": "array", "items": {"type": "object"}},
            "dag": {"type": "array", "items": {"type": "array", "items": n}}, "committed_by": strings
        })),
        "Tx": obj(json!({
            "tx_id": s, "chain_id": s, "height": n, "index": n, "block_hash": s, "contract": s, "method": s,
            "args": {}, "timestamp_ms": n, "sender": s, "endorsements": n, "result": {"type": "object"},
            "proof": {"type": "object"}, "tx_root": s, "raw": s, "proof_valid": {"type": "boolean"}, "suite": s,
            "rwset": {"type": "object"}
        })),
        "Invocation": obj(json!({"tx_id": s, "status": s, "height": {"type": "integer", "nullable": true}, "identity": s, "result": {"type": "object", "nullable": true}})),
        "SearchHit": obj(json!({"kind": {"type": "string", "enum": ["tx", "block", "contract", "org"]}, "id": s, "summary": s})),
    })
}

/// Request bodies.
pub mod req {
    use super::*;

    pub fn login() -> Value {
        object(
            &["username", "password"],
            json!({
                "username": text(1, 64),
                "password": text(1, 256),
                "totp": nullable(json!({"type": "string", "pattern": "^[0-9]{6}$"})),
                "recovery_code": nullable(text(1, 64))
            }),
        )
    }

    pub fn register() -> Value {
        object(
            &["id", "name", "root_username", "root_password"],
            json!({
                "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{1,31}$"},
                "name": text(1, 128),
                "suite": {"type": "string", "enum": ["sm", "intl"]},
                "root_username": {"type": "string", "pattern": "^[A-Za-z0-9._@-]{3,64}$"},
                "root_password": text(12, 256),
                "root_display_name": nullable(text(1, 128)),
                "admin_key": {"type": "string", "enum": ["platform", "offline"], "description": "Where the org's first admin key lives"}
            }),
        )
    }

    pub fn password() -> Value {
        object(
            &["current_password", "new_password"],
            json!({"current_password": text(1, 256), "new_password": text(12, 256)}),
        )
    }

    pub fn totp_code() -> Value {
        object(
            &["code"],
            json!({"code": {"type": "string", "pattern": "^[0-9]{6}$"}}),
        )
    }

    pub fn totp_disable() -> Value {
        object(
            &["password", "code"],
            json!({"password": text(1, 256), "code": {"type": "string", "pattern": "^[0-9]{6}$"}}),
        )
    }

    pub fn token() -> Value {
        object(
            &["name", "scopes"],
            json!({
                "name": text(1, 64),
                "scopes": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                "days": {"type": "integer", "minimum": 1, "maximum": 365}
            }),
        )
    }

    pub fn account() -> Value {
        object(
            &["username", "password"],
            json!({
                "username": {"type": "string", "pattern": "^[A-Za-z0-9._@-]{3,64}$"},
                "password": text(12, 256),
                "display_name": nullable(text(1, 128))
            }),
        )
    }

    pub fn account_patch() -> Value {
        object(
            &["version"],
            json!({"version": int(), "display_name": nullable(text(1, 128)), "disabled": {"type": "boolean", "nullable": true}}),
        )
    }

    pub fn actions() -> Value {
        object(
            &["actions"],
            json!({"actions": {"type": "array", "items": {"type": "string"}}}),
        )
    }

    pub fn group() -> Value {
        object(
            &["name"],
            json!({"name": text(1, 64), "description": text(0, 1024)}),
        )
    }

    pub fn member() -> Value {
        object(&["account_id"], json!({"account_id": text(1, 64)}))
    }

    pub fn identity() -> Value {
        object(
            &["name", "role"],
            json!({
                "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
                "role": {"type": "string", "enum": ["admin", "client"]},
                "csr": {"type": "string", "nullable": true, "description": "A CSR (PEM) made with `covenant ca csr`: the key stays with its owner"},
                "days": {"type": "integer", "minimum": 1, "maximum": 825, "nullable": true, "description": "Days the certificate lasts (825 unless given)"}
            }),
        )
    }

    fn cert_request_item() -> Value {
        object(
            &["name", "role"],
            json!({
                "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
                "role": {"type": "string", "enum": ["admin", "client"]},
                "csr": {"type": "string", "nullable": true, "description": "A CSR (PEM) made with `covenant ca csr` whose common name is `name`: the key stays with its owner; without one the platform keeps a new key"},
                "days": {"type": "integer", "minimum": 1, "maximum": 825, "nullable": true, "description": "Days the certificate lasts (825 unless given)"},
                "note": {"type": "string", "maxLength": 500, "nullable": true, "description": "Why it is needed, for whoever approves"}
            }),
        )
    }

    pub fn cert_request() -> Value {
        cert_request_item()
    }

    pub fn identity_batch() -> Value {
        object(
            &["identities"],
            json!({"identities": {"type": "array", "minItems": 1, "maxItems": 500, "items": cert_request_item()}}),
        )
    }

    pub fn revoke() -> Value {
        object(
            &[],
            json!({"reason": {"type": "string", "nullable": true, "enum": ["unspecified", "key-compromise", "ca-compromise", "affiliation-changed", "superseded", "cessation-of-operation", "certificate-hold", "privilege-withdrawn", null], "description": "Why (RFC 5280 reason; unspecified unless given)"}}),
        )
    }

    pub fn alert_channel() -> Value {
        object(
            &["name", "kind"],
            json!({
                "name": {"type": "string", "minLength": 1, "maxLength": 100},
                "kind": {"type": "string", "enum": ["webhook", "email"]},
                "url": {"type": "string", "nullable": true, "description": "Webhook: an http:// or https:// URL"},
                "secret": {"type": "string", "minLength": 16, "maxLength": 256, "nullable": true, "description": "Webhook: the HMAC-SHA256 signing key (made for you when left out, and shown once)"},
                "to": {"type": "array", "maxItems": 20, "items": {"type": "string"}, "description": "E-mail: the recipients"},
                "smtp": {
                    "type": "object", "nullable": true, "additionalProperties": false,
                    "required": ["host", "from"],
                    "description": "E-mail: the SMTP relay (plain SMTP on a trusted network)",
                    "properties": {
                        "host": {"type": "string"}, "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                        "from": {"type": "string"}, "username": {"type": "string", "nullable": true},
                        "password": {"type": "string", "nullable": true}
                    }
                }
            }),
        )
    }

    pub fn alert_rule(with_version: bool) -> Value {
        let mut required = vec!["name", "metric"];
        if with_version {
            required.push("version");
        }
        let mut props = json!({
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "metric": {"type": "string", "enum": ["node_down", "height_stalled_s", "disk_used_percent", "memory_mb", "cpu_percent", "txpool_size", "cert_expiring_days", "tx_failures_per_min"],
                       "description": "node_down; height_stalled_s (seconds without a new block); disk_used_percent; memory_mb; cpu_percent; txpool_size; cert_expiring_days (fewer days left than the threshold); tx_failures_per_min"},
            "threshold": {"type": "integer", "format": "int64", "description": "0 for node_down; above it (below it for cert_expiring_days) the condition holds"},
            "for_s": {"type": "integer", "minimum": 0, "maximum": 86400, "description": "Seconds the condition must hold before the alert fires"},
            "severity": {"type": "string", "enum": ["info", "warning", "critical"]},
            "repeat_s": {"type": "integer", "minimum": 0, "maximum": 604800, "description": "Notify again every this many seconds while firing (0: never; else at least 5)"},
            "channels": {"type": "array", "maxItems": 20, "items": {"type": "string"}},
            "enabled": {"type": "boolean"}
        });
        if with_version {
            props["version"] = int();
        }
        object(&required, props)
    }

    pub fn decision_note() -> Value {
        object(
            &[],
            json!({"note": {"type": "string", "maxLength": 500, "nullable": true, "description": "Said to the requester"}}),
        )
    }

    pub fn consortium() -> Value {
        object(
            &["name"],
            json!({
                "name": text(1, 64),
                "description": text(0, 2048),
                "require_verified": {"type": "boolean"},
                "policies": {"type": "object", "additionalProperties": r("Policy")}
            }),
        )
    }

    pub fn invitation() -> Value {
        object(
            &["org_id"],
            json!({"org_id": text(2, 32), "message": text(0, 1000)}),
        )
    }

    pub fn proposal() -> Value {
        object(
            &["kind", "params"],
            json!({
                "kind": {"type": "string", "enum": crate::proposal::kind::KINDS.iter().map(|k| k.name()).collect::<Vec<_>>()},
                "params": {"type": "object"},
                "title": nullable(text(1, 200))
            }),
        )
    }

    pub fn vote() -> Value {
        object(
            &["decision"],
            json!({
                "decision": {"type": "string", "enum": ["approve", "reject"]},
                "identity": {"type": "string", "nullable": true, "description": "A custodial admin identity of your org (name or id); the first if omitted"}
            }),
        )
    }

    pub fn signature() -> Value {
        object(
            &["decision", "certificate", "signature"],
            json!({
                "decision": {"type": "string", "enum": ["approve", "reject"]},
                "certificate": {"type": "string", "description": "The signer's certificate (PEM): an admin of your org"},
                "signature": {"type": "string", "description": "The signature (base64) over the signing request's bytes"}
            }),
        )
    }

    pub fn call() -> Value {
        object(
            &["method"],
            json!({
                "method": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
                "args": {"description": "The method's arguments as JSON (null when it takes none)"},
                "identity": nullable(json!({"type": "string", "minLength": 1, "maxLength": 64}))
            }),
        )
    }

    pub fn preferences() -> Value {
        object(
            &["locale", "time_zone"],
            json!({
                "locale": {"type": "string", "enum": ["", "en", "zh-CN"]},
                "time_zone": {"type": "string", "maxLength": 64, "pattern": "^([A-Za-z0-9_+-]{1,32}(/[A-Za-z0-9_+-]{1,32})*)?$"}
            }),
        )
    }

    pub fn empty() -> Value {
        object(&[], json!({}))
    }

    pub fn new_node() -> Value {
        let port = nullable(json!({"type": "integer", "minimum": 1, "maximum": 65535}));
        object(
            &[],
            json!({
                "hosting": nullable(json!({"type": "string", "enum": ["platform", "org"], "description": "Who runs it (platform unless given)"})),
                "name": nullable(json!({"type": "string", "minLength": 1, "maxLength": 64, "description": "Its name on chains (made up unless given; for org, the CSR's common name)"})),
                "csr": nullable(json!({"type": "string", "maxLength": 16384, "description": "For org: a PEM CSR of the node's key (covenant ca csr)"})),
                "host": nullable(json!({"type": "string", "maxLength": 253, "description": "For org: the IP address or DNS name its peers and the platform reach it at"})),
                "api_port": port.clone(),
                "grpc_port": port.clone(),
                "peer_port": port
            }),
        )
    }
}
