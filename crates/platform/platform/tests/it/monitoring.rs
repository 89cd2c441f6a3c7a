//! Alert channels and rules through the API, and an alert that fires and resolves on a real
//! webhook receiver and a real SMTP sink: a certificate rule (no node needed here; node rules
//! run end to end in the CLI crate's tests against real node processes).

use std::time::Duration;

use covenant_test_utils::{mail::SmtpSink, wait_for_async, wait_value_async, webhook::Receiver};
use serde_json::{Value, json};

use crate::{
    both,
    harness::{Api, Backend, start, start_with},
};

async fn channels_and_rules_are_checked_and_kept_private(b: Backend) {
    let Some(t) = start(b).await else { return };
    let a = t.org("bank-a").await;
    let other = t.org("bank-b").await;
    let hook = a
        .root
        .post(
            "/api/v1/alert-channels",
            json!({"name": "ops hook", "kind": "webhook", "url": "http://127.0.0.1:9/hook"}),
        )
        .await
        .ok();
    let secret = hook["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{hook}");
    let id = hook["id"].as_str().unwrap().to_string();
    let again = a
        .root
        .get(&format!("/api/v1/alert-channels/{id}"))
        .await
        .ok();
    assert!(again.get("secret").is_none(), "the secret is shown once");
    assert_eq!(again["has_secret"], true);
    assert!(
        !a.root
            .get("/api/v1/alert-channels")
            .await
            .ok()
            .to_string()
            .contains(secret)
    );

    for (body, code) in [
        (
            json!({"name": "x", "kind": "webhook", "url": "ftp://host/x"}),
            "INVALID_ARGUMENT",
        ),
        (json!({"name": "x", "kind": "webhook"}), "INVALID_ARGUMENT"),
        (
            json!({"name": "x", "kind": "webhook", "url": "http://h/x", "secret": "short"}),
            "INVALID_ARGUMENT",
        ),
        (
            json!({"name": "x", "kind": "email", "to": ["not an address"], "smtp": {"host": "127.0.0.1", "from": "a@b"}}),
            "INVALID_ARGUMENT",
        ),
        (
            json!({"name": "x", "kind": "email", "to": ["ops@bank-a.example"]}),
            "INVALID_ARGUMENT",
        ),
        (
            json!({"name": "x", "kind": "email", "to": ["ops@bank-a.example"], "smtp": {"host": "h", "from": "a@b", "username": "u"}}),
            "INVALID_ARGUMENT",
        ),
        (json!({"name": "x", "kind": "pager"}), "INVALID_ARGUMENT"),
    ] {
        a.root
            .post("/api/v1/alert-channels", body.clone())
            .await
            .refused(400, code);
    }
    a.root
        .post(
            "/api/v1/alert-channels",
            json!({"name": "ops hook", "kind": "webhook", "url": "http://127.0.0.1:9/x"}),
        )
        .await
        .refused(409, "CHANNEL_EXISTS");

    let b_hook = other
        .root
        .post(
            "/api/v1/alert-channels",
            json!({"name": "b hook", "kind": "webhook", "url": "http://127.0.0.1:9/b"}),
        )
        .await
        .ok();
    for (body, code) in [
        (
            json!({"name": "r", "metric": "nonsense"}),
            "ALERT_METRIC_UNKNOWN",
        ),
        (
            json!({"name": "r", "metric": "node_down", "threshold": 5}),
            "INVALID_ARGUMENT",
        ),
        (
            json!({"name": "r", "metric": "disk_used_percent", "threshold": 0}),
            "INVALID_ARGUMENT",
        ),
        (
            json!({"name": "r", "metric": "node_down", "repeat_s": 2}),
            "INVALID_ARGUMENT",
        ),
        (
            json!({"name": "r", "metric": "node_down", "severity": "apocalyptic"}),
            "INVALID_ARGUMENT",
        ),
        (
            json!({"name": "r", "metric": "node_down", "channels": ["ach_nothing"]}),
            "CHANNEL_UNKNOWN",
        ),
        // Another org's channel is no channel of yours.
        (
            json!({"name": "r", "metric": "node_down", "channels": [b_hook["id"]]}),
            "CHANNEL_UNKNOWN",
        ),
    ] {
        a.root
            .post("/api/v1/alert-rules", body.clone())
            .await
            .refused(400, code);
    }
    let rule = a
        .root
        .post(
            "/api/v1/alert-rules",
            json!({"name": "node down", "metric": "node_down", "for_s": 10, "severity": "critical", "channels": [id]}),
        )
        .await
        .ok();
    let rid = rule["id"].as_str().unwrap().to_string();
    assert_eq!(rule["enabled"], true);
    let changed = a
        .root
        .call(
            "PUT",
            &format!("/api/v1/alert-rules/{rid}"),
            json!({"version": 1, "name": "node down", "metric": "node_down", "for_s": 30, "channels": [id]}),
        )
        .await
        .ok();
    assert_eq!(changed["version"], 2);
    assert_eq!(changed["for_s"], 30);
    a.root
        .call(
            "PUT",
            &format!("/api/v1/alert-rules/{rid}"),
            json!({"version": 1, "name": "node down", "metric": "node_down"}),
        )
        .await
        .refused(412, "VERSION_MISMATCH");
    a.root
        .call(
            "PUT",
            &format!("/api/v1/alert-rules/{rid}"),
            json!({"version": 2, "name": "node down", "metric": "node_down", "surprise": 1}),
        )
        .await
        .refused(400, "INVALID_ARGUMENT");
    a.root
        .call("DELETE", &format!("/api/v1/alert-channels/{id}"), json!({}))
        .await
        .refused(409, "CHANNEL_IN_USE");
    // Another org sees none of it.
    other
        .root
        .get(&format!("/api/v1/alert-rules/{rid}"))
        .await
        .refused(404, "NOT_FOUND");
    other
        .root
        .call("DELETE", &format!("/api/v1/alert-channels/{id}"), json!({}))
        .await
        .refused(404, "NOT_FOUND");
    assert_eq!(
        other.root.get("/api/v1/alert-rules").await.ok()["items"],
        json!([])
    );
    a.root
        .call("DELETE", &format!("/api/v1/alert-rules/{rid}"), json!({}))
        .await
        .ok();
    a.root
        .call("DELETE", &format!("/api/v1/alert-channels/{id}"), json!({}))
        .await
        .ok();
    assert_eq!(
        a.root.get("/api/v1/alert-channels").await.ok()["items"],
        json!([])
    );
}
both!(channels_and_rules_are_checked_and_kept_private);

/// Read `path` until `cond` holds of the answer (at most a minute).
async fn poll(api: &Api, path: &str, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
    wait_value_async(what, Duration::from_secs(60), || async {
        let v = api.get(path).await.ok();
        if cond(&v) { Ok(v) } else { Err(v.to_string()) }
    })
    .await
}

async fn an_alert_fires_and_resolves_on_a_webhook_and_by_email(b: Backend) {
    let Some(t) = start(b).await else { return };
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let receiver = Receiver::start();
    let a = t.org("bank-a").await;
    let hook = a
        .root
        .post(
            "/api/v1/alert-channels",
            json!({"name": "hook", "kind": "webhook", "url": receiver.url}),
        )
        .await
        .ok();
    let secret = hook["secret"].as_str().unwrap().to_string();
    let mail = a
        .root
        .post(
            "/api/v1/alert-channels",
            json!({"name": "ops mail", "kind": "email", "to": ["ops@bank-a.example"],
                   "smtp": {"host": "127.0.0.1", "port": sink.port, "from": "alerts@bank-a.example"}}),
        )
        .await
        .ok();
    assert!(mail.get("secret").is_none());
    let short = a
        .root
        .post(
            "/api/v1/org/identities",
            json!({"name": "short-lived", "role": "client", "days": 5}),
        )
        .await
        .ok();
    let fp = short["fingerprint"].as_str().unwrap().to_string();
    let rule = a
        .root
        .post(
            "/api/v1/alert-rules",
            json!({"name": "certificates", "metric": "cert_expiring_days", "threshold": 10,
                   "severity": "warning", "channels": [hook["id"], mail["id"]]}),
        )
        .await
        .ok();

    // It fires: a signed JSON body to the webhook, and an e-mail.
    let firing = poll(
        &a.root,
        "/api/v1/alerts?state=firing",
        "the alert to fire",
        |v| v["items"].as_array().is_some_and(|i| !i.is_empty()),
    )
    .await;
    let alert = &firing["items"][0];
    assert_eq!(alert["subject"], fp.as_str());
    assert_eq!(alert["rule_id"], rule["id"]);
    assert_eq!(alert["value"], 4);
    wait_for_async("the webhook to be called", Duration::from_secs(30), || {
        !receiver.requests().is_empty()
    })
    .await;
    let req = &receiver.requests()[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.headers["x-covenant-event"], "firing");
    let ts: i64 = req.headers["x-covenant-timestamp"].parse().unwrap();
    assert_eq!(
        req.headers["x-covenant-signature"],
        covenant_platform::monitor::delivery::signature(&secret, ts, &req.body)
    );
    let body = req.json();
    assert_eq!(body["event"], "firing");
    assert_eq!(body["rule"]["name"], "certificates");
    assert_eq!(body["alert"]["subject"], fp.as_str());
    wait_for_async("the e-mail", Duration::from_secs(30), || {
        !sink.messages().is_empty()
    })
    .await;
    let m = &sink.messages()[0];
    let subject = m.header("subject").unwrap();
    assert!(
        subject.contains("FIRING") && subject.contains("certificates"),
        "{subject}"
    );
    assert_eq!(m.header("to").unwrap(), "ops@bank-a.example");
    assert!(m.raw.contains("short-lived"), "{}", m.raw);
    let events = a.root.get("/api/v1/events").await.ok();
    assert!(events.to_string().contains("alert.firing"), "{events}");

    // Revoked, the certificate no longer counts: the alert resolves, once, on both channels.
    a.root
        .post(&format!("/api/v1/org/certificates/{fp}/revoke"), json!({}))
        .await
        .ok();
    poll(
        &a.root,
        "/api/v1/alerts?state=resolved",
        "the alert to resolve",
        |v| v["items"].as_array().is_some_and(|i| !i.is_empty()),
    )
    .await;
    wait_for_async(
        "the resolved notifications",
        Duration::from_secs(30),
        || receiver.requests().len() >= 2 && sink.messages().len() >= 2,
    )
    .await;
    assert_eq!(
        receiver.requests()[1].headers["x-covenant-event"],
        "resolved"
    );
    assert!(
        sink.messages()[1]
            .header("subject")
            .unwrap()
            .contains("RESOLVED")
    );
    let log = poll(
        &a.root,
        "/api/v1/alert-deliveries",
        "every delivery to be made",
        |v| {
            v["items"]
                .as_array()
                .is_some_and(|i| i.len() == 4 && i.iter().all(|d| d["state"] == "delivered"))
        },
    )
    .await;
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["attempts"] == 1),
        "{log}"
    );
    assert!(a.root.get("/api/v1/alerts?state=firing").await.ok()["items"] == json!([]));

    // A receiver that fails is tried again, with the answer in the log.
    receiver.answer_with(500);
    let test = a
        .root
        .post(
            &format!(
                "/api/v1/alert-channels/{}/test",
                hook["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(test.status, 202, "{}", test.body);
    let did = test.body["id"].as_str().unwrap().to_string();
    let retried = poll(
        &a.root,
        "/api/v1/alert-deliveries?state=pending",
        "a second attempt",
        |v| {
            v["items"].as_array().is_some_and(|i| {
                i.iter()
                    .any(|d| d["id"] == did.as_str() && d["attempts"].as_i64() >= Some(2))
            })
        },
    )
    .await;
    let d = retried["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == did.as_str())
        .unwrap()
        .clone();
    assert_eq!(d["response_status"], 500);
    assert_eq!(d["last_error"], "the receiver answered 500");

    // The platform's own metrics count it all.
    let text = reqwest::get(format!("{}/metrics", t.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("covenant_platform_alerts{state=\"resolved\"} 1"),
        "{text}"
    );
    assert!(text.contains("covenant_platform_requests_total{method=\"POST\",route=\"/api/v1/alert-rules\",status=\"201\"} 1"), "{text}");
}
both!(an_alert_fires_and_resolves_on_a_webhook_and_by_email);

async fn channels_to_internal_addresses_are_refused_by_default(b: Backend) {
    let Some(t) = start_with(b, false).await else {
        return;
    };
    let a = t.org("bank-a").await;
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:9000/x",
        "http://10.0.0.5/x",
    ] {
        a.root
            .post(
                "/api/v1/alert-channels",
                json!({"name": "h", "kind": "webhook", "url": url}),
            )
            .await
            .refused(400, "CHANNEL_TARGET_PRIVATE");
    }
    a.root
        .post(
            "/api/v1/alert-channels",
            json!({"name": "m", "kind": "email", "to": ["ops@bank-a.example"],
                   "smtp": {"host": "192.168.1.10", "from": "a@bank-a.example"}}),
        )
        .await
        .refused(400, "CHANNEL_TARGET_PRIVATE");
    // A public name is accepted; where it points is checked again at every delivery.
    a.root
        .post(
            "/api/v1/alert-channels",
            json!({"name": "h", "kind": "webhook", "url": "https://hooks.bank-a.example/covenant"}),
        )
        .await
        .ok();
}
both!(channels_to_internal_addresses_are_refused_by_default);
