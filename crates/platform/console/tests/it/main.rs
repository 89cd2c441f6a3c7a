//! The console over real HTTP, against a platform in this process on SQLite and PostgreSQL:
//! sign-in (throttled, with the form's own token), pages for each section, the same
//! authorisation as the API (what an account may not read never shows, another org gets
//! nothing), CSRF on every form, both languages, and the API still answering beside it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

use harness::{Backend, Browser, start};

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::harness::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::harness::Backend::Postgres).await
            }
        }
    };
}

both!(sign_in_and_every_section_renders);
async fn sign_in_and_every_section_renders(b: Backend) {
    let Some(t) = start(b).await else { return };
    let mut web = Browser::new(&t.base);
    // A page asks for sign-in and comes back to itself.
    let r = web.get("/consortia").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), "/login?next=%2Fconsortia");
    // A wrong password is refused on the page, with the API's code.
    let r = web
        .sign_in("bank-root", "wrong password!!", "/consortia")
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body.contains("UNAUTHENTICATED"), "{}", r.body);
    let r = web
        .sign_in("bank-root", harness::PASSWORD, "/consortia")
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), "/consortia");
    let r = web.get("/").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Welcome, bank-root (Bank A)"), "{}", r.body);
    for (path, expect) in [
        ("/consortia", "Create a consortium"),
        ("/events", "Awaiting my vote"),
        ("/networks", "No networks yet."),
        ("/explorer", "No chain has been deployed"),
        ("/audit", "auth/login"),
        ("/account", "API tokens"),
        ("/accounts", "bank-root"),
    ] {
        let r = web.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert!(
            r.body.contains(expect),
            "{path} lacks {expect:?}: {}",
            r.body
        );
        assert!(
            r.header("content-security-policy")
                .contains("default-src 'self'")
        );
        assert_eq!(r.header("x-frame-options"), "DENY");
    }
    // Static files, the API beside the console, and the console's own "no such page".
    assert_eq!(web.get("/static/console.css").await.status, 200);
    assert!(
        web.get("/static/console.js")
            .await
            .body
            .contains("formatTimes")
    );
    let r = web.get("/api/v1/nope").await;
    assert_eq!(r.status, 404);
    assert!(r.body.contains("\"code\""), "{}", r.body);
    let r = web.get("/healthz").await;
    assert_eq!(r.status, 200);
    let r = web.get("/no/such/page").await;
    assert_eq!(r.status, 404);
    assert!(r.body.contains("There is no page at this address."));
    // Signing out ends the session.
    let csrf = web.csrf().await;
    let r = web.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 303);
    assert_eq!(web.get("/").await.status, 303);
}

both!(a_form_changes_only_with_its_csrf_token);
async fn a_form_changes_only_with_its_csrf_token(b: Backend) {
    let Some(t) = start(b).await else { return };
    let mut web = Browser::new(&t.base);
    assert_eq!(
        web.sign_in("bank-root", harness::PASSWORD, "/")
            .await
            .status,
        303
    );
    // No token, and a wrong one: refused, nothing made.
    let r = web.post("/consortia", &[("name", "Trade finance")]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("CSRF_TOKEN_INVALID"), "{}", r.body);
    let r = web
        .post(
            "/consortia",
            &[("name", "Trade finance"), ("csrf", "forged")],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        web.get("/consortia")
            .await
            .body
            .contains("Your org is in no consortium yet.")
    );
    // An empty name is shown next to the field.
    let csrf = web.csrf().await;
    let r = web
        .post("/consortia", &[("name", ""), ("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("c-name-error"), "{}", r.body);
    // With the page's token it is made, audited, and shown.
    let r = web
        .post(
            "/consortia",
            &[
                ("name", "Trade finance"),
                ("description", "Letters of credit"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        r.location().starts_with("/consortia/cns_"),
        "{}",
        r.location()
    );
    assert!(r.location().ends_with("done=consortium-created"));
    let page = web.get(r.location()).await;
    assert!(
        page.body.contains("The consortium was created."),
        "{}",
        page.body
    );
    assert!(page.body.contains("Letters of credit"));
    let audit = web.get("/audit?action=consortium.create").await;
    assert!(audit.body.contains("/api/v1/consortia"), "{}", audit.body);
}

both!(invitation_vote_and_acceptance_through_the_pages);
async fn invitation_vote_and_acceptance_through_the_pages(b: Backend) {
    let Some(t) = start(b).await else { return };
    let mut a = Browser::new(&t.base);
    let mut b2 = Browser::new(&t.base);
    a.sign_in("bank-root", harness::PASSWORD, "/").await;
    b2.sign_in("port-root", harness::PASSWORD, "/").await;
    let csrf = a.csrf().await;
    let r = a
        .post("/consortia", &[("name", "Trade finance"), ("csrf", &csrf)])
        .await;
    let consortium = r
        .location()
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    // The other org cannot see it.
    let r = b2.get(&consortium).await;
    assert_eq!(r.status, 404, "{}", r.body);
    // Invite: a proposal the founder alone approves.
    let page = a.get(&consortium).await;
    assert!(
        page.body.contains("option value=\"port-b\""),
        "{}",
        page.body
    );
    let r = a
        .post(
            &format!("{consortium}/invite"),
            &[
                ("org_id", "port-b"),
                ("message", "Join us"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let proposal = r
        .location()
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    // The proposer's org votes as it proposes; alone in the consortium, that carries it, and
    // the invitation goes out once the proposal is carried out.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let page = loop {
        let page = a.get(&proposal).await;
        if page.body.contains(">executed<") {
            break page;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the proposal was not executed: {}",
            page.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(
        page.body.contains("1 for, 0 against, of 1"),
        "{}",
        page.body
    );
    assert!(page.body.contains("executed"), "{}", page.body);
    assert!(!page.body.contains("Cast your org's vote"));
    // A vote on it now is refused with the API's code, on a page.
    let r = a
        .post(
            &format!("{proposal}/vote"),
            &[("decision", "approve"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    // The invited org sees the invitation and accepts it from its page.
    let page = b2.get("/consortia").await;
    assert!(page.body.contains("Invitations to my org"), "{}", page.body);
    let inv = page
        .body
        .split("action=\"/invitations/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .expect("an accept form")
        .to_string();
    let csrf_b = b2.csrf().await;
    let r = b2
        .post(&format!("/invitations/{inv}/accept"), &[("csrf", &csrf_b)])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = b2.get(r.location()).await;
    assert!(page.body.contains("Invitation accepted"), "{}", page.body);
    assert!(page.body.contains("Bank A") && page.body.contains("Port B"));
    // An answer that is neither accept nor decline is no page.
    assert_eq!(
        b2.post(&format!("/invitations/{inv}/maybe"), &[("csrf", &csrf_b)])
            .await
            .status,
        404
    );
}

both!(a_sub_account_sees_only_what_it_may);
async fn a_sub_account_sees_only_what_it_may(b: Backend) {
    let Some(t) = start(b).await else { return };
    let mut root = Browser::new(&t.base);
    root.sign_in("bank-root", harness::PASSWORD, "/").await;
    let csrf = root.csrf().await;
    let r = root
        .post(
            "/accounts",
            &[
                ("username", "bank-clerk"),
                ("password", harness::PASSWORD),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let account_page = r
        .location()
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    let mut clerk = Browser::new(&t.base);
    clerk.sign_in("bank-clerk", harness::PASSWORD, "/").await;
    let home = clerk.get("/").await;
    assert_eq!(home.status, 200);
    for hidden in [
        "href=\"/consortia\"",
        "href=\"/audit\"",
        "href=\"/accounts\"",
        "href=\"/explorer\"",
    ] {
        assert!(
            !home.body.contains(hidden),
            "a clerk with no permission sees {hidden}"
        );
    }
    for path in ["/consortia", "/audit", "/accounts", "/events?state=open"] {
        let r = clerk.get(path).await;
        assert_eq!(r.status, 403, "{path}: {}", r.body);
        assert!(r.body.contains("PERMISSION_DENIED"), "{path}");
    }
    // Granted audit.read, the clerk reads the audit log and nothing more.
    let r = root
        .post(
            &format!("{account_page}/permissions"),
            &[("actions", "audit.read"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let home = clerk.get("/").await;
    assert!(home.body.contains("href=\"/audit\""));
    assert!(!home.body.contains("href=\"/consortia\""));
    assert_eq!(clerk.get("/audit").await.status, 200);
    assert_eq!(clerk.get("/consortia").await.status, 403);
    // The clerk cannot grant itself more through the form.
    let csrf_c = clerk.csrf().await;
    let r = clerk
        .post(
            &format!("{account_page}/permissions"),
            &[("actions", "account.manage"), ("csrf", &csrf_c)],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
}

both!(language_follows_the_browser_then_the_account);
async fn language_follows_the_browser_then_the_account(b: Backend) {
    let Some(t) = start(b).await else { return };
    let mut web = Browser::new(&t.base);
    web.accept_language = Some("zh-CN,zh;q=0.9".into());
    let r = web.get("/login").await;
    assert!(r.body.contains("<html lang=\"zh-CN\""));
    assert!(r.body.contains("使用平台账号登录"), "{}", r.body);
    web.accept_language = None;
    web.sign_in("bank-root", harness::PASSWORD, "/").await;
    assert!(web.get("/").await.body.contains("Welcome, bank-root"));
    // The account's choice holds on any browser.
    let csrf = web.csrf().await;
    let r = web
        .post(
            "/account/preferences",
            &[
                ("locale", "zh-CN"),
                ("time_zone", "Asia/Shanghai"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let mut other = Browser::new(&t.base);
    other.sign_in("bank-root", harness::PASSWORD, "/").await;
    let home = other.get("/").await;
    assert!(home.body.contains("欢迎，bank-root"), "{}", home.body);
    assert!(home.body.contains("data-tz=\"Asia/Shanghai\""));
    assert!(home.body.contains(">概览<"));
    // A zone that is not a zone name is refused with its code.
    let csrf = other.csrf().await;
    let r = other
        .post(
            "/account/preferences",
            &[("locale", "en"), ("time_zone", "../etc"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("TIME_ZONE_INVALID"), "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_is_throttled_and_its_form_cannot_be_forged() {
    let Some(t) = start(Backend::Sqlite).await else {
        return;
    };
    let mut web = Browser::new(&t.base);
    // A sign-in posted without the form's own token (another site's form) is refused.
    let r = web
        .post(
            "/login",
            &[
                ("username", "bank-root"),
                ("password", harness::PASSWORD),
                ("next", "/"),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("LOGIN_FORM_EXPIRED"));
    // `next` never leads off the console.
    let r = web
        .sign_in("bank-root", harness::PASSWORD, "//evil.example/")
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), "/");
    let mut bad = Browser::new(&t.base);
    let mut last = 0;
    for _ in 0..6 {
        last = bad
            .sign_in("port-root", "not the password", "/")
            .await
            .status;
    }
    assert_eq!(last, 429, "the sixth failure in a row is throttled");
}

both!(guided_forms_propose_and_refuse_bad_input);
async fn guided_forms_propose_and_refuse_bad_input(b: Backend) {
    let Some(t) = start(b).await else { return };
    let mut web = Browser::new(&t.base);
    web.sign_in("bank-root", harness::PASSWORD, "/").await;
    let csrf = web.csrf().await;
    let r = web
        .post("/consortia", &[("name", "Trade finance"), ("csrf", &csrf)])
        .await;
    let consortium = r.location().split('?').next().unwrap().to_string();
    let page = web.get(&consortium).await;
    assert!(page.body.contains("Propose a network"), "{}", page.body);
    // A network with one node of ours: a proposal the founder alone carries; it is recorded
    // (nodes are deployed when a chain needs them).
    let r = web
        .post(
            &format!("{consortium}/networks"),
            &[
                ("name", "net1"),
                ("days", "30"),
                ("nodes.bank-a", "1"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        r.location().starts_with("/proposals/prp_"),
        "{}",
        r.location()
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let nets = web.get("/networks").await;
        if nets.body.contains(">net1<") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", nets.body);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // The network's page proposes renewing it; the founder alone carries that too.
    let nets = web.get("/networks").await;
    let net = harness::between(&nets.body, "href=\"/networks/", "\"");
    let page = web.get(&format!("/networks/{net}")).await;
    assert!(page.body.contains("Renew the network"), "{}", page.body);
    let consortium_id = consortium.trim_start_matches("/consortia/");
    let r = web
        .post(
            "/propose",
            &[
                ("consortium", consortium_id),
                ("kind", "network.renew"),
                ("p.network_id", &net),
                ("p.days", "90"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(r.location().starts_with("/proposals/"), "{}", r.location());
    // Only the small forms' kinds are proposed this way.
    let r = web
        .post(
            "/propose",
            &[
                ("consortium", consortium_id),
                ("kind", "contract.install"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("PROPOSAL_KIND_UNKNOWN"));
    // A bad network name is the API's refusal, on a page.
    let r = web
        .post(
            &format!("{consortium}/networks"),
            &[
                ("name", "Not A Name"),
                ("nodes.bank-a", "1"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // Contracts on a chain that does not exist, without a module, or an unknown action.
    let r = web
        .post("/chains/nope/contracts/kv/explode", &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = web
        .post("/chains/nope/contracts/kv/freeze", &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = web.get("/operations/op_0000").await;
    assert_eq!(r.status, 404, "{}", r.body);
    // A multipart form without its module file.
    let boundary = "XcovenantX";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nkv\r\n--{boundary}--\r\n"
    );
    let r = web
        .post_raw(
            "/chains/nope/contracts",
            &format!("multipart/form-data; boundary={boundary}"),
            body,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("MODULE_MISSING"), "{}", r.body);
    // "Check only": the findings of a module that exports nothing, and nothing proposed.
    let module = "\0asm\u{1}\0\0\0";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nkv\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"intent\"\r\n\r\ncheck\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"module\"; filename=\"kv.wasm\"\r\nContent-Type: application/wasm\r\n\r\n{module}\r\n--{boundary}--\r\n"
    );
    let r = web
        .post_raw(
            "/chains/nope/contracts",
            &format!("multipart/form-data; boundary={boundary}"),
            body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("cannot be proposed"), "{}", r.body);
    assert!(r.body.contains("<code>exports</code>"), "{}", r.body);
    assert!(r.body.contains("export `call`"), "{}", r.body);

    // A node added from the network's page: run by the platform, or on the org's own machine
    // (then certified from a CSR; a bad one is the API's refusal, on a page).
    let page = web.get(&format!("/networks/{net}")).await;
    assert!(page.body.contains("id=\"add-node\""), "{}", page.body);
    let r = web
        .post(
            &format!("/networks/{net}/nodes"),
            &[
                ("hosting", "org"),
                ("name", "bank-a-own"),
                ("csr", "not a CSR"),
                ("host", "10.0.0.7"),
                ("api_port", "7100"),
                ("peer_port", "7102"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("CSR_INVALID"), "{}", r.body);
    let r = web
        .post(
            &format!("/networks/{net}/nodes"),
            &[("hosting", "org"), ("api_port", "seventy"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("NODE_PORT_INVALID"), "{}", r.body);
    let r = web
        .post(
            &format!("/networks/{net}/nodes"),
            &[
                ("hosting", "platform"),
                ("name", "bank-a-extra"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(r.location().starts_with("/nodes/node_"), "{}", r.location());
    let page = web.get(r.location()).await;
    assert!(page.body.contains("The node was added"), "{}", page.body);

    // Expired, the network is in the recycle bin: listed there, its page explains when it may
    // be purged and offers the export and the purge; the API's refusals show on a page.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    sqlx::query("UPDATE networks SET state = 'recycled', recycled_at = $1 WHERE id = $2")
        .bind(now)
        .bind(&net)
        .execute(t.platform.db().pool())
        .await
        .unwrap();
    let nets = web.get("/networks").await;
    let bin = harness::between(&nets.body, "id=\"recycle-bin\"", "</section>");
    assert!(bin.contains(">net1<"), "{}", nets.body);
    let page = web.get(&format!("/networks/{net}")).await;
    for text in [
        "May be purged after",
        "Export the ledgers",
        "Purge",
        "No ledger exported yet.",
    ] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }
    let r = web
        .post(&format!("/networks/{net}/purge"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("PURGE_TOO_EARLY"), "{}", r.body);
    let r = web
        .post(&format!("/networks/{net}/export"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("NETWORK_HAS_NO_CHAINS"), "{}", r.body);
    let r = web
        .post(&format!("/networks/{net}/explode"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
}

both!(certificates_and_alerts_through_the_pages);
async fn certificates_and_alerts_through_the_pages(b: Backend) {
    let Some(t) = start(b).await else { return };
    let mut web = Browser::new(&t.base);
    web.sign_in("bank-root", harness::PASSWORD, "/").await;
    let csrf = web.csrf().await;

    // The inventory: the org's root and the admin the platform keeps.
    let r = web.get("/certificates").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("Org root (CA)") && r.body.contains("Admin"),
        "{}",
        r.body
    );

    // Trust roots: the org's own CA; a PEM that is no root, or no certificate, is refused on
    // a page; the org's own CA checks against itself.
    let r = web.get("/certificates/trust-roots").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("Own CA") && r.body.contains("Import a root"),
        "{}",
        r.body
    );
    let r = web
        .post(
            "/certificates/trust-roots",
            &[
                ("csrf", &csrf),
                (
                    "certificate",
                    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                ),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("TRUST_ROOT_INVALID"), "{}", r.body);
    let r = web
        .post(
            "/certificates/verify",
            &[("csrf", &csrf), ("certificate", "hello")],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("CERTIFICATE_INVALID"), "{}", r.body);
    let roots: serde_json::Value =
        serde_json::from_str(&web.get("/api/v1/org/trust-roots").await.body).unwrap();
    let own = roots["items"][0]["certificate"]
        .as_str()
        .unwrap()
        .to_string();
    let r = web
        .post(
            "/certificates/verify",
            &[("csrf", &csrf), ("certificate", &own)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("chains to one of your org"), "{}", r.body);

    // A request for a kept key, approved from the requests page.
    let r = web
        .post(
            "/certificates/requests",
            &[
                ("csrf", &csrf),
                ("name", "teller"),
                ("role", "client"),
                ("days", "5"),
                ("note", "for the branch"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), "/certificates/requests?done=cert-requested");
    let page = web.get("/certificates/requests").await;
    assert!(page.body.contains("for the branch"), "{}", page.body);
    let approve = harness::between(&page.body, "action=\"/certificates/requests/", "\"");
    let r = web
        .post(
            &format!("/certificates/requests/{approve}"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = web.get("/certificates/requests").await;
    assert!(
        page.body.contains("/certificate\" download"),
        "{}",
        page.body
    );
    // A request with a CSR that is not one is refused with the API's code.
    let r = web
        .post(
            "/certificates/requests",
            &[
                ("csrf", &csrf),
                ("name", "bad"),
                ("role", "client"),
                ("csr", "not a CSR"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("CSR_INVALID"), "{}", r.body);

    // Five days: expiring. Its page revokes it; with no chain, the CRL is all there is.
    let list = web.get("/certificates?status=expiring").await;
    assert!(list.body.contains("teller"), "{}", list.body);
    let fp = harness::between(&list.body, "<td><a href=\"/certificates/", "\"");
    let page = web.get(&format!("/certificates/{fp}")).await;
    assert!(
        page.body.contains("Revoke this certificate"),
        "{}",
        page.body
    );
    assert!(page.body.contains("BEGIN CERTIFICATE"), "{}", page.body);
    let r = web
        .post(
            &format!("/certificates/{fp}/revoke"),
            &[("csrf", &csrf), ("reason", "superseded")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = web.get(r.location()).await;
    assert!(page.body.contains("is revoked here"), "{}", page.body);
    assert!(
        page.body.contains("Your org is on no chain"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("Revoke this certificate"),
        "{}",
        page.body
    );

    // Monitoring: a webhook channel shows its key once; a rule names it.
    let r = web.get("/monitoring").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Nothing is firing"), "{}", r.body);
    let r = web
        .post(
            "/monitoring/channels",
            &[
                ("csrf", &csrf),
                ("name", "ops"),
                ("kind", "webhook"),
                ("url", "http://127.0.0.1:9/hook"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("whsec_"), "{}", r.body);
    let secret = harness::between(&r.body, "whsec_", "<");
    let page = web.get("/monitoring").await;
    assert!(!page.body.contains(&secret), "the key is shown once");
    let channel = harness::between(&page.body, "name=\"channels\" value=\"", "\"");
    let r = web
        .post(
            "/monitoring/rules",
            &[
                ("csrf", &csrf),
                ("name", "disk"),
                ("metric", "disk_used_percent"),
                ("threshold", "90"),
                ("for_s", "60"),
                ("repeat_s", "0"),
                ("severity", "critical"),
                ("channels", &channel),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = web.get("/monitoring").await;
    assert!(
        page.body.contains("Disk used (%)") && page.body.contains(">ops "),
        "{}",
        page.body
    );
    // A rule the API refuses says why.
    let r = web
        .post(
            "/monitoring/rules",
            &[
                ("csrf", &csrf),
                ("name", "x"),
                ("metric", "node_down"),
                ("threshold", "3"),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // The other org sees none of it, in either section.
    let mut other = Browser::new(&t.base);
    other.sign_in("port-root", harness::PASSWORD, "/").await;
    assert!(!other.get("/monitoring").await.body.contains("a-disk-rule"));
    assert!(!other.get("/certificates").await.body.contains("teller"));
    assert_eq!(other.get(&format!("/certificates/{fp}")).await.status, 404);
}
