//! Every route of the API: what it needs, what it answers, and its handler.

use std::{collections::BTreeMap, convert::Infallible, time::Duration};

use axum::{
    http::{HeaderValue, Method, StatusCode, header},
    response::{
        IntoResponse, Response,
        sse::{Event as SseEvent, KeepAlive, Sse},
    },
    routing::{MethodRouter, delete, get, patch, post, put},
};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_stream::wrappers::BroadcastStream;

use super::{
    Access, AuditNote, Ctx, EmptyBody, JsonBody, JsonPath, JsonQuery, page, paged, reply, schema,
};
use crate::{
    Platform,
    account::{self, group},
    action::{self, ACTIONS},
    audit, auth, consortium,
    error::{Error, Result},
    event, explorer, invoke, network, operation, org,
    proposal::{self, policy::Policy},
};

/// A route as declared.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub id: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub access: Access,
    pub idempotent: bool,
    pub query: Vec<(&'static str, Value, &'static str)>,
    pub body: Option<Value>,
    pub ok: (u16, Value),
    /// Content type of the success answer.
    pub content: &'static str,
    pub errors: Vec<u16>,
    pub handler: MethodRouter<Platform>,
}

impl Route {
    pub(super) fn new(
        method: Method,
        path: &'static str,
        id: &'static str,
        tag: &'static str,
        summary: &'static str,
        access: Access,
        handler: MethodRouter<Platform>,
    ) -> Route {
        Route {
            method,
            path,
            id,
            tag,
            summary,
            access,
            idempotent: false,
            query: vec![],
            body: None,
            ok: (200, json!({})),
            content: "application/json",
            errors: vec![],
            handler,
        }
    }

    pub(super) fn body(mut self, s: Value) -> Self {
        self.body = Some(s);
        self
    }

    pub(super) fn ok(mut self, status: u16, s: Value) -> Self {
        self.ok = (status, s);
        self
    }

    pub(super) fn errors(mut self, e: &[u16]) -> Self {
        self.errors = e.to_vec();
        self
    }

    pub(super) fn query(mut self, name: &'static str, s: Value, what: &'static str) -> Self {
        self.query.push((name, s, what));
        self
    }

    pub(super) fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    pub(super) fn content(mut self, c: &'static str) -> Self {
        self.content = c;
        self
    }
}

fn pagination(r: Route) -> Route {
    r.query(
        "after",
        json!({"type": "string"}),
        "Start after this item (the `next` of the previous page)",
    )
    .query(
        "limit",
        json!({"type": "integer"}),
        "Items per page (default 50; 1 to 200)",
    )
}

/// Every route; every list answers a page and takes `after` and `limit`.
pub fn table() -> Vec<Route> {
    routes()
        .into_iter()
        .map(|r| {
            let is_page = r.ok.1["required"] == json!(["items", "next"]);
            if is_page && !r.query.iter().any(|(n, _, _)| *n == "after") {
                pagination(r)
            } else {
                r
            }
        })
        .collect()
}

fn routes() -> Vec<Route> {
    use Access::*;
    use action as a;
    let act = Access::Action;
    vec![
        Route::new(Method::GET, "/healthz", "health", "Platform", "Liveness and the database in use", Public, get(health))
            .ok(200, json!({"type": "object", "properties": {"status": {"type": "string"}, "database": {"type": "string"}}})),
        Route::new(Method::GET, "/metrics", "metrics", "Platform", "The platform's Prometheus metrics: requests by route and status; nodes, alerts, notifications, revocations and proposals by state (counts only)", Public, get(metrics))
            .ok(200, json!({"type": "string"}))
            .content("text/plain"),
        Route::new(Method::GET, "/api/v1/openapi.json", "openapi", "Platform", "This document", Public, get(openapi))
            .ok(200, json!({"type": "object"})),
        Route::new(Method::GET, "/api/docs", "docs", "Platform", "The interactive API page (works offline)", Public, get(docs))
            .ok(200, json!({"type": "string"}))
            .content("text/html"),
        Route::new(Method::GET, "/api/v1/actions", "listActions", "Accounts", "The permissions (API actions) an account can hold", Public, get(list_actions))
            .ok(200, schema::list("Action")),
        // Sign-in and one's own account.
        Route::new(Method::POST, "/api/v1/auth/login", "login", "Sign-in", "Sign in: sets the session cookie and returns the CSRF token every change must carry", Public, post(login))
            .body(schema::req::login())
            .ok(200, schema::r("Session"))
            .errors(&[401, 403, 429]),
        Route::new(Method::POST, "/api/v1/auth/logout", "logout", "Sign-in", "End this session", Public, post(logout))
            .body(schema::req::empty())
            .ok(200, json!({"type": "object"})),
        Route::new(Method::POST, "/api/v1/orgs", "registerOrg", "Orgs", "Register an org with its CA and root account (when the platform's registration is open)", Public, post(register_org))
            .body(schema::req::register())
            .ok(201, schema::r("Registered"))
            .errors(&[403, 409]),
        Route::new(Method::GET, "/api/v1/me", "me", "Account", "Who you are: account, org, permissions, unread events", SignedIn, get(me))
            .ok(200, schema::r("Me")),
        Route::new(Method::POST, "/api/v1/me/password", "changePassword", "Account", "Change your password (ends your other sessions)", SignedIn, post(change_password))
            .body(schema::req::password())
            .ok(200, json!({"type": "object"}))
            .errors(&[403]),
        Route::new(Method::POST, "/api/v1/me/totp", "beginTotp", "Account", "Start TOTP enrolment: the secret and otpauth URI, shown once", SignedIn, post(begin_totp))
            .body(schema::req::empty())
            .ok(200, json!({"type": "object", "properties": {"secret": {"type": "string"}, "otpauth_uri": {"type": "string"}}}))
            .errors(&[409]),
        Route::new(Method::POST, "/api/v1/me/totp/enable", "enableTotp", "Account", "Confirm TOTP with a code; returns ten one-time recovery codes", SignedIn, post(enable_totp))
            .body(schema::req::totp_code())
            .ok(200, json!({"type": "object", "properties": {"recovery_codes": {"type": "array", "items": {"type": "string"}}}}))
            .errors(&[409]),
        Route::new(Method::POST, "/api/v1/me/totp/disable", "disableTotp", "Account", "Turn TOTP off (password and a current code)", SignedIn, post(disable_totp))
            .body(schema::req::totp_disable())
            .ok(200, json!({"type": "object"}))
            .errors(&[403, 409]),
        Route::new(Method::PUT, "/api/v1/me/preferences", "setPreferences", "Account", "Your console language and time zone (empty: the browser's)", SignedIn, put(set_preferences))
            .body(schema::req::preferences())
            .ok(200, schema::r("Account"))
            .errors(&[400]),
        Route::new(Method::GET, "/api/v1/me/tokens", "listTokens", "Account", "Your API tokens (never their secrets)", SignedIn, get(list_tokens))
            .ok(200, schema::page("Token")),
        Route::new(Method::POST, "/api/v1/me/tokens", "createToken", "Account", "Create an API token with scopes and an expiry; its secret is shown once", SignedIn, post(create_token))
            .body(schema::req::token())
            .ok(201, schema::r("Token"))
            .idempotent()
            .errors(&[403, 409]),
        Route::new(Method::DELETE, "/api/v1/me/tokens/{id}", "revokeToken", "Account", "Revoke one of your API tokens", SignedIn, delete(revoke_token))
            .ok(200, json!({"type": "object"}))
            .errors(&[404]),
        // Accounts, groups, permissions.
        Route::new(Method::GET, "/api/v1/accounts", "listAccounts", "Accounts", "Your org's accounts", act(a::ACCOUNT_READ), get(list_accounts))
            .ok(200, schema::page("Account")),
        Route::new(Method::POST, "/api/v1/accounts", "createAccount", "Accounts", "Create a sub-account (it holds no permission until granted)", act(a::ACCOUNT_MANAGE), post(create_account))
            .body(schema::req::account())
            .ok(201, schema::r("Account"))
            .idempotent()
            .errors(&[409]),
        Route::new(Method::GET, "/api/v1/accounts/{id}", "getAccount", "Accounts", "An account of your org with the permissions granted to it", act(a::ACCOUNT_READ), get(get_account))
            .ok(200, schema::r("Account"))
            .errors(&[404]),
        Route::new(Method::PATCH, "/api/v1/accounts/{id}", "updateAccount", "Accounts", "Change a sub-account (display name, disabled) if it is still at `version`", act(a::ACCOUNT_MANAGE), patch(update_account))
            .body(schema::req::account_patch())
            .ok(200, schema::r("Account"))
            .errors(&[404, 409, 412]),
        Route::new(Method::PUT, "/api/v1/accounts/{id}/permissions", "grantAccount", "Accounts", "Set the actions granted directly to a sub-account", act(a::ACCOUNT_MANAGE), put(grant_account))
            .body(schema::req::actions())
            .ok(200, json!({"type": "object", "properties": {"actions": {"type": "array", "items": {"type": "string"}}}}))
            .errors(&[404, 409]),
        Route::new(Method::GET, "/api/v1/groups", "listGroups", "Accounts", "Your org's groups", act(a::ACCOUNT_READ), get(list_groups))
            .ok(200, schema::page("Group")),
        Route::new(Method::POST, "/api/v1/groups", "createGroup", "Accounts", "Create a group", act(a::ACCOUNT_MANAGE), post(create_group))
            .body(schema::req::group())
            .ok(201, schema::r("Group"))
            .idempotent()
            .errors(&[409]),
        Route::new(Method::GET, "/api/v1/groups/{id}", "getGroup", "Accounts", "A group with its members and permissions", act(a::ACCOUNT_READ), get(get_group))
            .ok(200, schema::r("Group"))
            .errors(&[404]),
        Route::new(Method::PUT, "/api/v1/groups/{id}/permissions", "grantGroup", "Accounts", "Set the actions granted to a group", act(a::ACCOUNT_MANAGE), put(grant_group))
            .body(schema::req::actions())
            .ok(200, schema::r("Group"))
            .errors(&[404]),
        Route::new(Method::POST, "/api/v1/groups/{id}/members", "addGroupMember", "Accounts", "Add an account of your org to a group", act(a::ACCOUNT_MANAGE), post(add_member))
            .body(schema::req::member())
            .ok(200, schema::r("Group"))
            .errors(&[404]),
        Route::new(Method::DELETE, "/api/v1/groups/{id}/members/{account}", "removeGroupMember", "Accounts", "Take an account out of a group", act(a::ACCOUNT_MANAGE), delete(remove_member))
            .ok(200, schema::r("Group"))
            .errors(&[404]),
        // Orgs.
        Route::new(Method::GET, "/api/v1/orgs", "listOrgs", "Orgs", "The orgs on this platform (the directory consortia invite from)", SignedIn, get(list_orgs))
            .ok(200, schema::page("Org")),
        Route::new(Method::GET, "/api/v1/orgs/{id}", "getOrg", "Orgs", "An org's public profile and trust root", SignedIn, get(get_org))
            .ok(200, schema::r("Org"))
            .errors(&[404]),
        Route::new(Method::GET, "/api/v1/org/identities", "listIdentities", "Orgs", "Your org's signing identities (admins who vote, clients)", act(a::ORG_READ), get(list_identities))
            .ok(200, schema::page("Identity")),
        Route::new(Method::POST, "/api/v1/org/identities", "addIdentity", "Orgs", "Add a signing identity: from a CSR (the key stays with you) or with a key the platform keeps", act(a::IDENTITY_MANAGE), post(add_identity))
            .body(schema::req::identity())
            .ok(201, schema::r("Identity"))
            .idempotent()
            .errors(&[409]),
        // Consortia.
        Route::new(Method::GET, "/api/v1/consortia", "listConsortia", "Consortia", "The consortia your org belongs to", act(a::CONSORTIUM_READ), get(list_consortia))
            .ok(200, schema::page("Consortium")),
        Route::new(Method::POST, "/api/v1/consortia", "createConsortium", "Consortia", "Create a consortium with your org as founder", act(a::CONSORTIUM_CREATE), post(create_consortium))
            .body(schema::req::consortium())
            .ok(201, schema::r("Consortium"))
            .idempotent()
            .errors(&[409]),
        Route::new(Method::GET, "/api/v1/consortia/{id}", "getConsortium", "Consortia", "A consortium your org belongs to", act(a::CONSORTIUM_READ), get(get_consortium))
            .ok(200, schema::r("Consortium"))
            .errors(&[404]),
        Route::new(Method::GET, "/api/v1/consortia/{id}/invitations", "consortiumInvitations", "Consortia", "The consortium's invitations", act(a::CONSORTIUM_READ), get(consortium_invitations))
            .ok(200, schema::page("Invitation"))
            .errors(&[404]),
        Route::new(Method::POST, "/api/v1/consortia/{id}/invitations", "inviteOrg", "Consortia", "Propose admitting an org; it is invited once the members approve", act(a::CONSORTIUM_INVITE), post(invite))
            .body(schema::req::invitation())
            .ok(201, schema::r("Proposal"))
            .idempotent()
            .errors(&[404, 409, 503]),
        Route::new(Method::POST, "/api/v1/consortia/{id}/leave", "leaveConsortium", "Consortia", "Take your org out of the consortium", act(a::CONSORTIUM_LEAVE), post(leave))
            .body(schema::req::empty())
            .ok(200, json!({"type": "object"}))
            .errors(&[404, 409]),
        Route::new(Method::POST, "/api/v1/consortia/{id}/proposals", "createProposal", "Proposals", "Open a proposal of any kind (each kind needs its own permission)", SignedIn, post(create_proposal))
            .body(schema::req::proposal())
            .ok(201, schema::r("Proposal"))
            .idempotent()
            .errors(&[403, 404, 409, 503]),
        Route::new(Method::GET, "/api/v1/invitations", "myInvitations", "Consortia", "Invitations to your org", act(a::INVITATION_RESPOND), get(my_invitations))
            .query("state", json!({"type": "string", "enum": ["pending", "accepted", "declined"]}), "Only this state")
            .ok(200, schema::page("Invitation")),
        Route::new(Method::POST, "/api/v1/invitations/{id}/accept", "acceptInvitation", "Consortia", "Accept an invitation: your org becomes a member", act(a::INVITATION_RESPOND), post(accept))
            .body(schema::req::empty())
            .ok(200, schema::r("Invitation"))
            .errors(&[404, 409]),
        Route::new(Method::POST, "/api/v1/invitations/{id}/decline", "declineInvitation", "Consortia", "Decline an invitation", act(a::INVITATION_RESPOND), post(decline))
            .body(schema::req::empty())
            .ok(200, schema::r("Invitation"))
            .errors(&[404, 409]),
        // Proposals.
        pagination(
            Route::new(Method::GET, "/api/v1/proposals", "listProposals", "Proposals", "Proposals of your consortia, newest first", act(a::PROPOSAL_READ), get(list_proposals))
                .query("consortium_id", json!({"type": "string"}), "Only this consortium")
                .query("state", json!({"type": "string"}), "Only this state")
                .query("kind", json!({"type": "string"}), "Only this kind")
                .query("awaiting_my_vote", json!({"type": "boolean"}), "Only open proposals your org has not voted on"),
        )
        .ok(200, schema::page("Proposal")),
        Route::new(Method::GET, "/api/v1/proposals/{id}", "getProposal", "Proposals", "A proposal with its policy, voters, every vote and the count", act(a::PROPOSAL_READ), get(get_proposal))
            .ok(200, schema::r("Proposal"))
            .errors(&[404]),
        Route::new(Method::POST, "/api/v1/proposals/{id}/votes", "vote", "Proposals", "Vote for your org with an admin key the platform keeps", act(a::PROPOSAL_VOTE), post(vote))
            .body(schema::req::vote())
            .ok(200, schema::r("Proposal"))
            .errors(&[404, 409]),
        Route::new(Method::GET, "/api/v1/proposals/{id}/signing-request", "signingRequest", "Proposals", "The file to sign offline with `covenant proposal sign`", act(a::PROPOSAL_READ), get(signing_request))
            .query("decision", json!({"type": "string", "enum": ["approve", "reject"]}), "The decision to sign (approve by default)")
            .ok(200, schema::r("SigningRequest"))
            .errors(&[404]),
        Route::new(Method::POST, "/api/v1/proposals/{id}/signatures", "uploadSignature", "Proposals", "Vote for your org with a signature made offline", act(a::PROPOSAL_VOTE), post(upload_signature))
            .body(schema::req::signature())
            .ok(200, schema::r("Proposal"))
            .errors(&[404, 409]),
        // Events.
        Route::new(Method::GET, "/api/v1/events", "listEvents", "Events", "Your org's events, oldest first, with what you read", act(a::EVENT_READ), get(list_events))
            .query("after", json!({"type": "integer"}), "Only events after this id")
            .query("unread", json!({"type": "boolean"}), "Only events you have not read")
            .query("kind", json!({"type": "string"}), "Only this kind")
            .query("limit", json!({"type": "integer"}), "At most this many (default 100; 1 to 500)")
            .ok(200, schema::page("Event")),
        Route::new(Method::GET, "/api/v1/events/stream", "streamEvents", "Events", "Your org's new events as server-sent events (resume with Last-Event-ID)", act(a::EVENT_READ), get(stream_events))
            .ok(200, json!({"type": "string"}))
            .content("text/event-stream"),
        Route::new(Method::POST, "/api/v1/events/{id}/read", "readEvent", "Events", "Mark an event read", act(a::EVENT_READ), post(read_event))
            .body(schema::req::empty())
            .ok(200, json!({"type": "object"}))
            .errors(&[404]),
        Route::new(Method::POST, "/api/v1/events/read-all", "readAllEvents", "Events", "Mark every event read", act(a::EVENT_READ), post(read_all))
            .body(schema::req::empty())
            .ok(200, json!({"type": "object", "properties": {"marked": {"type": "integer"}}})),
        // Networks, chains, operations.
        Route::new(Method::GET, "/api/v1/networks", "listNetworks", "Networks", "Networks of your consortia", act(a::NETWORK_READ), get(list_networks))
            .query("consortium_id", json!({"type": "string"}), "Only this consortium")
            .ok(200, schema::page("Network")),
        Route::new(Method::GET, "/api/v1/networks/{id}", "getNetwork", "Networks", "A network with its nodes' status, heights and peers", act(a::NETWORK_READ), get(get_network))
            .ok(200, schema::r("Network"))
            .errors(&[404]),
        Route::new(Method::GET, "/api/v1/nodes/{id}", "getNode", "Networks", "A node of your consortia's networks: status, chains and heights, peers", act(a::NETWORK_READ), get(get_node))
            .ok(200, schema::r("Node"))
            .errors(&[404]),
        Route::new(Method::GET, "/api/v1/nodes/{id}/logs", "nodeLogs", "Networks", "The latest lines of the log of a node your org runs, optionally only those holding a text", act(a::NETWORK_READ), get(node_logs))
            .query("q", json!({"type": "string", "maxLength": 200}), "Only lines holding this (any case)")
            .query("lines", json!({"type": "integer", "minimum": 1, "maximum": 2000}), "At most this many lines (default 200)")
            .ok(200, json!({"type": "object", "properties": {"node_id": {"type": "string"}, "lines": {"type": "array", "items": {"type": "string"}}}}))
            .errors(&[403, 404]),
        Route::new(Method::GET, "/api/v1/chains", "listChains", "Chains", "Chains deployed for your consortia", act(a::CHAIN_READ), get(list_chains))
            .ok(200, schema::page("Chain")),
        Route::new(Method::GET, "/api/v1/chains/{id}", "getChain", "Chains", "A chain: what the platform deployed, and what the chain itself reports", act(a::CHAIN_READ), get(get_chain))
            .ok(200, schema::r("Chain"))
            .errors(&[404]),
        Route::new(Method::GET, "/api/v1/chains/{id}/explorer", "chainOverview", "Explorer", "The chain's head, its latest blocks and transactions, and transactions per second over them (read from a node)", act(a::CHAIN_READ), get(chain_overview))
            .query("limit", json!({"type": "integer"}), "Blocks to look at (default 20; 1 to 100)")
            .ok(200, schema::r("ChainOverview"))
            .errors(&[404, 503]),
        Route::new(Method::GET, "/api/v1/chains/{id}/blocks", "listBlocks", "Explorer", "Blocks, newest first; `after` is a height (the page starts below it)", act(a::CHAIN_READ), get(list_blocks))
            .query("after", json!({"type": "integer", "minimum": 0}), "Only blocks below this height (the `next` of the previous page)")
            .query("limit", json!({"type": "integer"}), "Blocks per page (default 20; 1 to 100)")
            .ok(200, schema::page("BlockSummary"))
            .errors(&[404, 503]),
        Route::new(Method::GET, "/api/v1/chains/{id}/blocks/{at}", "getBlock", "Explorer", "A block by height or hash: header, commit certificate signers, DAG, transactions", act(a::CHAIN_READ), get(get_block))
            .ok(200, schema::r("Block"))
            .errors(&[400, 404, 503]),
        Route::new(Method::GET, "/api/v1/chains/{id}/txs/{tx_id}", "getTx", "Explorer", "A committed transaction: payload, sender, result, events and its Merkle proof", act(a::CHAIN_READ), get(get_tx))
            .ok(200, schema::r("Tx"))
            .errors(&[400, 404, 503]),
        Route::new(Method::GET, "/api/v1/chains/{id}/txs/{tx_id}/proof", "getTxProof", "Explorer", "A committed transaction's self-contained proof (covenant-proof/1): checked offline against the chain's genesis with `covenant proof verify FILE --genesis GENESIS`, trusting neither the node nor the platform", act(a::CHAIN_READ), get(get_tx_proof))
            .ok(200, json!({"type": "object", "description": "The proof file", "required": ["format", "chain_id", "genesis_hash", "tx", "block", "config_changes"], "properties": {"format": {"type": "string"}, "chain_id": {"type": "string"}, "genesis_hash": {"type": "string"}, "tx": {"type": "object"}, "block": {"type": "object"}, "config_changes": {"type": "array", "items": {"type": "object"}}}}))
            .errors(&[400, 404, 503]),
        Route::new(Method::GET, "/api/v1/chains/{id}/genesis", "downloadGenesis", "Explorer", "The chain's genesis block as its nodes keep it: what offline proofs are checked against (compare its hash with the one the consortium publishes)", act(a::CHAIN_READ), get(download_genesis))
            .ok(200, json!({"type": "string", "format": "binary"}))
            .content("application/octet-stream")
            .errors(&[404, 503]),
        Route::new(Method::GET, "/api/v1/chains/{id}/contracts/{name}", "getChainContract", "Explorer", "A contract as the chain reports it: version, status, methods", act(a::CHAIN_READ), get(get_chain_contract))
            .ok(200, json!({"type": "object"}))
            .errors(&[404, 503]),
        Route::new(Method::POST, "/api/v1/chains/{id}/contracts/{name}/invoke", "invokeContract", "Explorer", "Invoke a method: a transaction signed by a client identity the platform keeps for your org (`platform-client` unless named), waited for until it commits", act(a::CONTRACT_INVOKE), post(invoke_contract))
            .body(schema::req::call())
            .ok(200, schema::r("Invocation"))
            .idempotent()
            .errors(&[400, 404, 409, 413, 503]),
        Route::new(Method::POST, "/api/v1/chains/{id}/contracts/{name}/query", "queryContract", "Explorer", "Call a method read-only, as your org's client identity; nothing is written", act(a::CHAIN_READ), post(query_contract))
            .body(schema::req::call())
            .ok(200, json!({"type": "object"}))
            .errors(&[400, 404, 409, 413, 503]),
        Route::new(Method::GET, "/api/v1/chains/{id}/search", "searchChain", "Explorer", "Find a transaction id, block hash or height, contract or org on the chain", act(a::CHAIN_READ), get(search_chain))
            .query("q", json!({"type": "string", "minLength": 1, "maxLength": 128}), "What to look for")
            .ok(200, schema::list("SearchHit"))
            .errors(&[400, 404, 503]),
        Route::new(Method::GET, "/api/v1/operations", "listOperations", "Operations", "Long operations your org can follow, newest first", act(a::OPERATION_READ), get(list_operations))
            .ok(200, schema::page("Operation")),
        Route::new(Method::GET, "/api/v1/operations/{id}", "getOperation", "Operations", "An operation's progress and result", act(a::OPERATION_READ), get(get_operation))
            .ok(200, schema::r("Operation"))
            .errors(&[404]),
        // Audit.
        Route::new(Method::GET, "/api/v1/audit", "listAudit", "Audit", "Your org's audit log, oldest first", act(a::AUDIT_READ), get(list_audit))
            .query("after", json!({"type": "integer"}), "Only entries after this seq")
            .query("action", json!({"type": "string"}), "Only this action")
            .query("account_id", json!({"type": "string"}), "Only this account")
            .query("result", json!({"type": "string"}), "Only results starting with this (ok, error)")
            .query("from_ms", json!({"type": "integer"}), "From this time (ms since the epoch)")
            .query("to_ms", json!({"type": "integer"}), "Until this time")
            .query("before", json!({"type": "integer"}), "Only entries before this seq")
            .query("order", json!({"type": "string", "enum": ["asc", "desc"]}), "Oldest first (asc, the default) or newest first")
            .query("limit", json!({"type": "integer"}), "At most this many (default 100; 1 to 1000)")
            .ok(200, schema::page("AuditEntry")),
        Route::new(Method::GET, "/api/v1/audit/export", "exportAudit", "Audit", "Your org's audit log as JSON Lines: every entry with its hash chain, then the anchors", act(a::AUDIT_EXPORT), get(export_audit))
            .ok(200, json!({"type": "string"}))
            .content("application/x-ndjson"),
    ]
    .into_iter()
    .chain(super::certificates::routes())
    .chain(super::monitoring::routes())
    .chain(super::recycle::routes())
    .chain(super::contracts::routes())
    .collect()
}

// --- platform ---------------------------------------------------------------------------------

async fn health(axum::extract::State(p): axum::extract::State<Platform>) -> Result<Response> {
    sqlx::query("SELECT 1 AS one")
        .fetch_one(p.db().pool())
        .await?;
    reply(
        StatusCode::OK,
        json!({"status": "ok", "database": p.db().backend().name()}),
    )
}

async fn metrics(axum::extract::State(p): axum::extract::State<Platform>) -> Result<Response> {
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::telemetry::render(&p).await?,
    )
        .into_response())
}

async fn openapi() -> Response {
    axum::Json(super::openapi::document()).into_response()
}

async fn docs() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        super::docs::PAGE,
    )
        .into_response()
}

async fn list_actions() -> Result<Response> {
    reply(
        StatusCode::OK,
        ACTIONS
            .iter()
            .map(
                |a| json!({"name": a.name, "description": a.description, "root_only": a.root_only}),
            )
            .collect::<Vec<_>>(),
    )
}

pub(super) type St = axum::extract::State<Platform>;

// --- sign-in ----------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginReq {
    username: String,
    password: String,
    totp: Option<String>,
    recovery_code: Option<String>,
}

fn session_cookie(value: &str, max_age_s: i64) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{}={value}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={max_age_s}",
        auth::SESSION_COOKIE
    ))
    .ok()
}

async fn login(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonBody(r): JsonBody<LoginReq>,
) -> Result<Response> {
    let s = auth::login(
        &p,
        &auth::Login {
            username: &r.username,
            password: &r.password,
            totp: r.totp.as_deref(),
            recovery_code: r.recovery_code.as_deref(),
            address: ctx.address.clone(),
        },
    )
    .await?;
    let mut resp = reply(StatusCode::OK, &s)?;
    if let Some(c) = session_cookie(&s.secret, auth::SESSION_MS / 1000) {
        resp.headers_mut().insert(header::SET_COOKIE, c);
    }
    resp.extensions_mut().insert(AuditNote {
        account_id: Some(s.account.id.clone()),
        org_id: Some(s.account.org_id.clone()),
    });
    Ok(resp)
}

async fn logout(axum::extract::State(p): St, ctx: Ctx, _: EmptyBody) -> Result<Response> {
    if let Some(s) = &ctx.session {
        auth::logout(&p, s).await?;
    }
    let mut resp = reply(StatusCode::OK, json!({}))?;
    if let Some(c) = session_cookie("", 0) {
        resp.headers_mut().insert(header::SET_COOKIE, c);
    }
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterReq {
    id: String,
    name: String,
    #[serde(default = "default_suite")]
    suite: String,
    root_username: String,
    root_password: String,
    root_display_name: Option<String>,
    #[serde(default = "default_custody")]
    admin_key: String,
}

fn default_suite() -> String {
    "sm".into()
}

fn default_custody() -> String {
    "platform".into()
}

async fn register_org(
    axum::extract::State(p): St,
    JsonBody(r): JsonBody<RegisterReq>,
) -> Result<Response> {
    if !p.config().open_registration {
        return Err(Error::forbidden(
            "REGISTRATION_CLOSED",
            "this platform registers orgs only through its operator (`covenant platform org create`)",
        ));
    }
    let suite = match r.suite.as_str() {
        "sm" => covenant_crypto::Suite::Sm,
        "intl" => covenant_crypto::Suite::Intl,
        other => return Err(Error::invalid(format!("suite {other:?} is not sm or intl"))),
    };
    let custody = match r.admin_key.as_str() {
        "platform" => org::Custody::Platform,
        "offline" => org::Custody::Offline,
        other => {
            return Err(Error::invalid(format!(
                "admin_key {other:?} is not platform or offline"
            )));
        }
    };
    let reg = org::register(
        &p,
        &org::NewOrg {
            id: r.id,
            name: r.name,
            suite,
            root_display_name: r
                .root_display_name
                .unwrap_or_else(|| r.root_username.clone()),
            root_username: r.root_username,
            root_password: r.root_password,
            custody,
        },
    )
    .await?;
    let mut resp = reply(StatusCode::CREATED, &reg)?;
    resp.extensions_mut().insert(AuditNote {
        account_id: Some(reg.root_account.id.clone()),
        org_id: Some(reg.org.id.clone()),
    });
    Ok(resp)
}

// --- one's own account ------------------------------------------------------------------------

async fn me(axum::extract::State(p): St, ctx: Ctx) -> Result<Response> {
    let c = ctx.caller()?;
    let o = org::get(&p, c.org()).await?;
    let unread = event::unread_count(&p, c.org(), c.account_id()).await?;
    // A session's own CSRF token, for pages that build forms; a cross-site page cannot read
    // this answer, and a token-authenticated caller has none.
    let csrf = match &c.credential {
        auth::Credential::Session { csrf } => json!(csrf),
        auth::Credential::Token { .. } => Value::Null,
    };
    reply(
        StatusCode::OK,
        json!({"account": c.account, "org": o, "actions": c.actions, "unread_events": unread, "csrf_token": csrf}),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreferencesReq {
    locale: String,
    time_zone: String,
}

async fn set_preferences(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonBody(r): JsonBody<PreferencesReq>,
) -> Result<Response> {
    let c = ctx.caller()?;
    account::set_preferences(&p, c.account_id(), &r.locale, &r.time_zone).await?;
    reply(
        StatusCode::OK,
        account::get(&p, c.org(), c.account_id()).await?,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordReq {
    current_password: String,
    new_password: String,
}

async fn change_password(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonBody(r): JsonBody<PasswordReq>,
) -> Result<Response> {
    let c = ctx.caller()?;
    if !account::check_password(&p, c.account_id(), &r.current_password).await? {
        return Err(Error::forbidden(
            "PASSWORD_WRONG",
            "the current password is wrong",
        ));
    }
    account::set_password(&p, c.account_id(), &r.new_password).await?;
    reply(StatusCode::OK, json!({"changed": true}))
}

async fn begin_totp(axum::extract::State(p): St, ctx: Ctx, _: EmptyBody) -> Result<Response> {
    let c = ctx.caller()?;
    let (secret, uri) = account::totp_begin(&p, &c.account).await?;
    reply(
        StatusCode::OK,
        json!({"secret": secret, "otpauth_uri": uri}),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeReq {
    code: String,
}

async fn enable_totp(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonBody(r): JsonBody<CodeReq>,
) -> Result<Response> {
    let c = ctx.caller()?;
    let codes = account::totp_enable(&p, &c.account, &r.code).await?;
    reply(StatusCode::OK, json!({"recovery_codes": codes}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisableReq {
    password: String,
    code: String,
}

async fn disable_totp(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonBody(r): JsonBody<DisableReq>,
) -> Result<Response> {
    let c = ctx.caller()?;
    if !c.account.totp_enabled {
        return Err(Error::conflict("TOTP_DISABLED", "TOTP is off already"));
    }
    if !account::check_password(&p, c.account_id(), &r.password).await?
        || !account::totp_check(&p, c.account_id(), &r.code).await?
    {
        return Err(Error::forbidden(
            "CREDENTIALS_WRONG",
            "the password or code is wrong",
        ));
    }
    account::totp_disable(&p, c.account_id()).await?;
    reply(StatusCode::OK, json!({"totp_enabled": false}))
}

async fn list_tokens(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonQuery(q): JsonQuery<PageQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    paged(
        auth::tokens(&p, c.account_id()).await?,
        q.after.as_deref(),
        q.limit,
        |t| t.id.clone(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenReq {
    name: String,
    scopes: Vec<String>,
    #[serde(default = "ninety")]
    days: i64,
}

fn ninety() -> i64 {
    90
}

async fn create_token(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonBody(r): JsonBody<TokenReq>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::CREATED,
        auth::create_token(&p, c, &r.name, &r.scopes, r.days).await?,
    )
}

async fn revoke_token(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    auth::revoke_token(&p, c.account_id(), &id).await?;
    reply(StatusCode::OK, json!({"revoked": id}))
}

// --- accounts and groups ----------------------------------------------------------------------

async fn list_accounts(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonQuery(q): JsonQuery<PageQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    paged(
        account::list(&p, c.org()).await?,
        q.after.as_deref(),
        q.limit,
        |a| a.username.clone(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountReq {
    username: String,
    password: String,
    display_name: Option<String>,
}

async fn create_account(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonBody(r): JsonBody<AccountReq>,
) -> Result<Response> {
    let c = ctx.caller()?;
    let name = r.display_name.unwrap_or_else(|| r.username.clone());
    reply(
        StatusCode::CREATED,
        account::create(&p, c.org(), &r.username, &name, &r.password).await?,
    )
}

async fn get_account(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    let a = account::get(&p, c.org(), &id).await?;
    let mut v = serde_json::to_value(&a).map_err(|e| Error::internal(e.to_string()))?;
    v["actions"] = json!(account::permissions(&p, &a).await?);
    v["granted"] = json!(account::grants_of(&p, "account", &id).await?);
    reply(StatusCode::OK, v)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountPatch {
    version: i64,
    display_name: Option<String>,
    disabled: Option<bool>,
}

async fn update_account(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    JsonBody(r): JsonBody<AccountPatch>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::OK,
        account::update(
            &p,
            c.org(),
            &id,
            r.version,
            r.display_name.as_deref(),
            r.disabled,
        )
        .await?,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionsReq {
    actions: Vec<String>,
}

async fn grant_account(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    JsonBody(r): JsonBody<ActionsReq>,
) -> Result<Response> {
    let c = ctx.caller()?;
    let granted = account::grant_account(&p, c.org(), &id, &r.actions).await?;
    reply(StatusCode::OK, json!({"actions": granted}))
}

async fn list_groups(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonQuery(q): JsonQuery<PageQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    paged(
        group::list(&p, c.org()).await?,
        q.after.as_deref(),
        q.limit,
        |g| g.name.clone(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupReq {
    name: String,
    #[serde(default)]
    description: String,
}

async fn create_group(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonBody(r): JsonBody<GroupReq>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::CREATED,
        group::create(&p, c.org(), &r.name, &r.description).await?,
    )
}

async fn get_group(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(StatusCode::OK, group::get(&p, c.org(), &id).await?)
}

async fn grant_group(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    JsonBody(r): JsonBody<ActionsReq>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::OK,
        group::grant(&p, c.org(), &id, &r.actions).await?,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberReq {
    account_id: String,
}

async fn add_member(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    JsonBody(r): JsonBody<MemberReq>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::OK,
        group::add_member(&p, c.org(), &id, &r.account_id).await?,
    )
}

async fn remove_member(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath((id, account_id)): JsonPath<(String, String)>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::OK,
        group::remove_member(&p, c.org(), &id, &account_id).await?,
    )
}

// --- orgs -------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    after: Option<String>,
    limit: Option<i64>,
}

async fn list_orgs(
    axum::extract::State(p): St,
    JsonQuery(q): JsonQuery<PageQuery>,
) -> Result<Response> {
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let orgs = org::list(&p, q.after.as_deref(), limit).await?;
    page(orgs, limit, |o| json!(o.id))
}

async fn get_org(axum::extract::State(p): St, JsonPath(id): JsonPath<String>) -> Result<Response> {
    reply(StatusCode::OK, org::get(&p, &id).await?)
}

async fn list_identities(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonQuery(q): JsonQuery<PageQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    paged(
        org::identities(&p, c.org()).await?,
        q.after.as_deref(),
        q.limit,
        |i| i.name.clone(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityReq {
    name: String,
    role: String,
    csr: Option<String>,
    days: Option<u32>,
}

async fn add_identity(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonBody(r): JsonBody<IdentityReq>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::CREATED,
        org::add_identity(&p, c.org(), &r.name, &r.role, r.csr.as_deref(), r.days).await?,
    )
}

// --- consortia --------------------------------------------------------------------------------

async fn list_consortia(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonQuery(q): JsonQuery<PageQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    paged(
        consortium::list_for(&p, c.org()).await?,
        q.after.as_deref(),
        q.limit,
        |c| c.name.clone(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsortiumReq {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    require_verified: bool,
    #[serde(default)]
    policies: BTreeMap<String, Policy>,
}

async fn create_consortium(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonBody(r): JsonBody<ConsortiumReq>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::CREATED,
        consortium::create(
            &p,
            c.org(),
            &r.name,
            &r.description,
            r.require_verified,
            r.policies,
        )
        .await?,
    )
}

async fn get_consortium(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(StatusCode::OK, consortium::get_for(&p, c.org(), &id).await?)
}

async fn consortium_invitations(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    JsonQuery(q): JsonQuery<PageQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    consortium::get_for(&p, c.org(), &id).await?;
    paged(
        consortium::invitations_of(&p, &id).await?,
        q.after.as_deref(),
        q.limit,
        |i| i.id.clone(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InviteReq {
    org_id: String,
    #[serde(default)]
    message: String,
}

async fn invite(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    JsonBody(r): JsonBody<InviteReq>,
) -> Result<Response> {
    let c = ctx.caller()?;
    let v = proposal::create(
        &p,
        c,
        &id,
        "consortium.admit_org",
        json!({"org_id": r.org_id, "message": r.message}),
        None,
    )
    .await?;
    reply(StatusCode::CREATED, v)
}

async fn leave(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    _: EmptyBody,
) -> Result<Response> {
    let c = ctx.caller()?;
    consortium::leave(&p, c.org(), &id).await?;
    reply(StatusCode::OK, json!({"left": id}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProposalReq {
    kind: String,
    params: Value,
    title: Option<String>,
}

async fn create_proposal(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    JsonBody(r): JsonBody<ProposalReq>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::CREATED,
        proposal::create(&p, c, &id, &r.kind, r.params, r.title).await?,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateQuery {
    state: Option<String>,
    after: Option<String>,
    limit: Option<i64>,
}

async fn my_invitations(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonQuery(q): JsonQuery<StateQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    if let Some(st) = &q.state
        && !["pending", "accepted", "declined"].contains(&st.as_str())
    {
        return Err(Error::invalid(format!(
            "state {st:?} is not pending, accepted or declined"
        )));
    }
    paged(
        consortium::invitations_to(&p, c.org(), q.state.as_deref()).await?,
        q.after.as_deref(),
        q.limit,
        |i| i.id.clone(),
    )
}

async fn accept(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    _: EmptyBody,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::OK,
        consortium::respond(&p, c.org(), &id, true).await?,
    )
}

async fn decline(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    _: EmptyBody,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::OK,
        consortium::respond(&p, c.org(), &id, false).await?,
    )
}

// --- proposals --------------------------------------------------------------------------------

async fn list_proposals(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonQuery(f): JsonQuery<proposal::Filter>,
) -> Result<Response> {
    let c = ctx.caller()?;
    let limit = f.limit.unwrap_or(50).clamp(1, 200);
    page(proposal::list(&p, c.org(), &f).await?, limit, |v| {
        json!(v.id)
    })
}

async fn get_proposal(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(StatusCode::OK, proposal::get_for(&p, c.org(), &id).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VoteReq {
    decision: String,
    identity: Option<String>,
}

fn decision(d: &str) -> Result<bool> {
    match d {
        "approve" => Ok(true),
        "reject" => Ok(false),
        other => Err(Error::invalid(format!(
            "decision {other:?} is not approve or reject"
        ))),
    }
}

async fn vote(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    JsonBody(r): JsonBody<VoteReq>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::OK,
        proposal::vote(&p, c, &id, decision(&r.decision)?, r.identity).await?,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionQuery {
    decision: Option<String>,
}

async fn signing_request(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    JsonQuery(q): JsonQuery<DecisionQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    let approve = decision(q.decision.as_deref().unwrap_or("approve"))?;
    reply(
        StatusCode::OK,
        proposal::signing_request(&p, c, &id, approve).await?,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureReq {
    decision: String,
    certificate: String,
    signature: String,
}

async fn upload_signature(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    JsonBody(r): JsonBody<SignatureReq>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::OK,
        proposal::upload_signature(
            &p,
            c,
            &id,
            decision(&r.decision)?,
            r.certificate,
            r.signature,
        )
        .await?,
    )
}

// --- events -----------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventQuery {
    after: Option<i64>,
    #[serde(default)]
    unread: bool,
    kind: Option<String>,
    limit: Option<i64>,
}

async fn list_events(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonQuery(q): JsonQuery<EventQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let items = event::list(
        &p,
        c.org(),
        c.account_id(),
        q.after,
        q.unread,
        q.kind.as_deref(),
        limit,
    )
    .await?;
    page(items, limit, |e| json!(e.id))
}

async fn stream_events(
    axum::extract::State(p): St,
    ctx: Ctx,
    headers: axum::http::HeaderMap,
) -> Result<Response> {
    let c = ctx.caller()?.clone();
    let last: i64 = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // Subscribe first, then read what was missed: nothing falls between the two.
    let live = event::subscribe(&p);
    let missed = if last > 0 {
        event::list(&p, c.org(), c.account_id(), Some(last), false, None, 500).await?
    } else {
        vec![]
    };
    let newest = missed.last().map_or(last, |e| e.id);
    let org_id = c.org().to_string();
    let to_sse = |e: &event::EventView| -> Result<SseEvent, Infallible> {
        Ok(SseEvent::default()
            .id(e.id.to_string())
            .event(e.kind.clone())
            .data(serde_json::to_string(e).unwrap_or_default()))
    };
    let first = futures::stream::iter(missed.iter().map(to_sse).collect::<Vec<_>>());
    let rest = BroadcastStream::new(live).filter_map(move |n| {
        let org_id = org_id.clone();
        async move {
            match n {
                Ok(n) if n.event.org_id == org_id && n.event.id > newest => {
                    Some(Ok::<_, Infallible>(
                        SseEvent::default()
                            .id(n.event.id.to_string())
                            .event(n.event.kind.clone())
                            .data(serde_json::to_string(&n.event).unwrap_or_default()),
                    ))
                }
                Ok(_) => None,
                // Fell behind: tell the client to reconnect with Last-Event-ID and catch up.
                Err(_) => Some(Ok(SseEvent::default()
                    .event("lagged")
                    .data("reconnect with Last-Event-ID"))),
            }
        }
    });
    Ok(Sse::new(first.chain(rest))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

async fn read_event(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<i64>,
    _: EmptyBody,
) -> Result<Response> {
    let c = ctx.caller()?;
    event::mark_read(&p, c.org(), c.account_id(), id).await?;
    reply(StatusCode::OK, json!({"read": id}))
}

async fn read_all(axum::extract::State(p): St, ctx: Ctx, _: EmptyBody) -> Result<Response> {
    let c = ctx.caller()?;
    let n = event::mark_all_read(&p, c.org(), c.account_id()).await?;
    reply(StatusCode::OK, json!({"marked": n}))
}

// --- networks, chains, operations -------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsortiumQuery {
    consortium_id: Option<String>,
    after: Option<String>,
    limit: Option<i64>,
}

async fn list_networks(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonQuery(q): JsonQuery<ConsortiumQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    paged(
        network::list_for(&p, c.org(), q.consortium_id.as_deref()).await?,
        q.after.as_deref(),
        q.limit,
        |n| n.id.clone(),
    )
}

async fn get_network(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(StatusCode::OK, network::get_for(&p, c.org(), &id).await?)
}

async fn list_chains(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonQuery(q): JsonQuery<PageQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    paged(
        network::chains_for(&p, c.org()).await?,
        q.after.as_deref(),
        q.limit,
        |c| c.id.clone(),
    )
}

async fn get_chain(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    let chain = network::chain_for(&p, c.org(), &id).await?;
    let mut v = serde_json::to_value(&chain).map_err(|e| Error::internal(e.to_string()))?;
    v["live"] = match network::live(&p, &id).await {
        Ok(l) => l,
        Err(e) => json!({"error": {"code": e.code(), "message": e.public_message()}}),
    };
    reply(StatusCode::OK, v)
}

async fn get_node(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(StatusCode::OK, network::node_for(&p, c.org(), &id).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogQuery {
    q: Option<String>,
    lines: Option<usize>,
}

async fn node_logs(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    JsonQuery(q): JsonQuery<LogQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    if q.q.as_ref().is_some_and(|s| s.chars().count() > 200) {
        return Err(Error::invalid("search for at most 200 characters"));
    }
    if q.lines.is_some_and(|n| !(1..=2000).contains(&n)) {
        return Err(Error::invalid("lines is 1 to 2000"));
    }
    let lines = network::node_log(&p, c.org(), &id, q.q.as_deref(), q.lines.unwrap_or(200)).await?;
    reply(StatusCode::OK, json!({"node_id": id, "lines": lines}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlocksQuery {
    after: Option<u64>,
    limit: Option<u64>,
}

async fn chain_overview(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    JsonQuery(q): JsonQuery<BlocksQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    if q.after.is_some() {
        return Err(Error::invalid(
            "the overview always starts at the head; list older blocks with /blocks",
        ));
    }
    reply(
        StatusCode::OK,
        explorer::overview(&p, c.org(), &id, q.limit.unwrap_or(20)).await?,
    )
}

async fn list_blocks(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    JsonQuery(q): JsonQuery<BlocksQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    let limit = q.limit.unwrap_or(20).clamp(1, explorer::MAX_BLOCKS);
    let items = explorer::blocks(&p, c.org(), &id, q.after, limit).await?;
    let next = match items.last() {
        Some(b) if items.len() as u64 >= limit && b.height > 0 => json!(b.height),
        _ => Value::Null,
    };
    reply(StatusCode::OK, json!({"items": items, "next": next}))
}

async fn get_block(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath((id, at)): JsonPath<(String, String)>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::OK,
        explorer::block(&p, c.org(), &id, &at).await?,
    )
}

async fn get_tx(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath((id, tx_id)): JsonPath<(String, String)>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::OK,
        explorer::tx(&p, c.org(), &id, &tx_id).await?,
    )
}

async fn get_tx_proof(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath((id, tx_id)): JsonPath<(String, String)>,
) -> Result<Response> {
    let c = ctx.caller()?;
    let proof = explorer::tx_proof(&p, c.org(), &id, &tx_id).await?;
    let mut resp = reply(StatusCode::OK, proof)?;
    if let Ok(v) = format!(
        "attachment; filename=\"{}.proof\"",
        &tx_id[..16.min(tx_id.len())]
    )
    .parse()
    {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

async fn download_genesis(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    let bytes = explorer::genesis(&p, c.org(), &id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}.genesis\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

async fn get_chain_contract(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath((id, name)): JsonPath<(String, String)>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::OK,
        explorer::contract(&p, c.org(), &id, &name).await?,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallReq {
    method: String,
    #[serde(default)]
    args: Value,
    identity: Option<String>,
}

async fn invoke_contract(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath((id, name)): JsonPath<(String, String)>,
    JsonBody(r): JsonBody<CallReq>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::OK,
        invoke::invoke(
            &p,
            c.org(),
            &id,
            &name,
            &r.method,
            &r.args,
            r.identity.as_deref(),
        )
        .await?,
    )
}

async fn query_contract(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath((id, name)): JsonPath<(String, String)>,
    JsonBody(r): JsonBody<CallReq>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::OK,
        invoke::query(
            &p,
            c.org(),
            &id,
            &name,
            &r.method,
            &r.args,
            r.identity.as_deref(),
        )
        .await?,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    q: String,
}

async fn search_chain(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    JsonQuery(q): JsonQuery<SearchQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::OK,
        explorer::search(&p, c.org(), &id, &q.q).await?,
    )
}

async fn list_operations(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonQuery(q): JsonQuery<PageQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    paged(
        operation::list_for(&p, c.org(), 200).await?,
        q.after.as_deref(),
        q.limit,
        |o| o.id.clone(),
    )
}

async fn get_operation(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(StatusCode::OK, operation::get_for(&p, c.org(), &id).await?)
}

// --- audit ------------------------------------------------------------------------------------

async fn list_audit(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonQuery(f): JsonQuery<audit::Filter>,
) -> Result<Response> {
    let c = ctx.caller()?;
    let limit = f.limit.unwrap_or(100).clamp(1, 1000);
    page(audit::list(&p, c.org(), &f).await?, limit, |e| json!(e.seq))
}

async fn export_audit(axum::extract::State(p): St, ctx: Ctx) -> Result<Response> {
    let c = ctx.caller()?;
    let mut out = String::new();
    let mut after = 0;
    loop {
        let batch = audit::list(
            &p,
            c.org(),
            &audit::Filter {
                after: Some(after),
                limit: Some(1000),
                ..Default::default()
            },
        )
        .await?;
        if batch.is_empty() {
            break;
        }
        for e in &batch {
            out.push_str(&json!({"type": "entry", "entry": e}).to_string());
            out.push('\n');
        }
        after = batch.last().map_or(after, |e| e.seq);
    }
    for a in audit::anchors(&p).await? {
        out.push_str(&json!({"type": "anchor", "anchor": a}).to_string());
        out.push('\n');
    }
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit.jsonl\"",
            ),
        ],
        out,
    )
        .into_response())
}
