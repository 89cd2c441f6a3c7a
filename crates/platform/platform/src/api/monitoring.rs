//! Node operations and monitoring routes: stop, start and restart a node; its metrics over
//! time; alert channels and rules; alerts and the delivery log.

use axum::{
    http::{Method, StatusCode},
    response::Response,
    routing::{delete, get, post, put},
};
use serde::Deserialize;
use serde_json::json;

use super::{
    Ctx, EmptyBody, JsonBody, JsonPath, JsonQuery, paged, reply,
    routes::{Route, St},
    schema,
};
use crate::{
    action,
    error::Result,
    monitor::{alert, delivery, sample},
    network,
};

pub(super) fn routes() -> Vec<Route> {
    use action as a;
    let act = super::Access::Action;
    vec![
        Route::new(Method::POST, "/api/v1/networks/{id}/nodes", "addNode", "Networks", "Add a node of your org to a network: run by the platform (its key sealed, its ports chosen), or by your org on its own machine (certified from a CSR of a key that stays there, reached at the host and ports you give). Make it a node of a chain with a chain.add_node proposal", act(a::NODE_MANAGE), post(add_node))
            .body(schema::req::new_node())
            .ok(201, schema::r("Node"))
            .idempotent()
            .errors(&[404, 409]),
        Route::new(Method::GET, "/api/v1/nodes/{id}/bundle", "nodeBundle", "Networks", "What your org needs to run a node on its own machine: its certificate and addresses and the genesis block of every chain it is a node of; start it with `covenant node start --bundle FILE --key KEY --dir DIR`", act(a::NODE_MANAGE), get(node_bundle))
            .ok(200, schema::r("NodeBundle"))
            .errors(&[403, 404, 409, 503]),
        Route::new(Method::GET, "/api/v1/nodes/{id}/settings", "getNodeSettings", "Networks", "The settings of a node the platform runs for your org (unset: the node's default)", act(a::NODE_MANAGE), get(get_settings))
            .ok(200, schema::r("NodeSettings"))
            .errors(&[403, 404, 409]),
        Route::new(Method::PUT, "/api/v1/nodes/{id}/settings", "setNodeSettings", "Networks", "Change a node's settings — log filter, transaction pool limit, blocks checked at start-up; a running node restarts with them", act(a::NODE_MANAGE), put(set_settings))
            .body(schema::r("NodeSettings"))
            .ok(200, schema::r("Node"))
            .errors(&[403, 404, 409]),
        Route::new(Method::POST, "/api/v1/nodes/{id}/stop", "stopNode", "Networks", "Stop a node your org runs (its data stays; alerts on it resolve while it is stopped on purpose)", act(a::NODE_MANAGE), post(stop_node))
            .body(schema::req::empty())
            .ok(200, schema::r("Node"))
            .errors(&[404, 409]),
        Route::new(Method::POST, "/api/v1/nodes/{id}/start", "startNode", "Networks", "Start a node your org runs", act(a::NODE_MANAGE), post(start_node))
            .body(schema::req::empty())
            .ok(200, schema::r("Node"))
            .errors(&[404, 409]),
        Route::new(Method::POST, "/api/v1/nodes/{id}/restart", "restartNode", "Networks", "Restart a node your org runs", act(a::NODE_MANAGE), post(restart_node))
            .body(schema::req::empty())
            .ok(200, schema::r("Node"))
            .errors(&[404, 409]),
        Route::new(Method::GET, "/api/v1/nodes/{id}/metrics", "nodeMetrics", "Monitoring", "A node's samples over time (every 15 s, kept a day): up, height, peers, round, CPU, memory, disk, txpool, tx/s, uptime, block interval", act(a::MONITOR_READ), get(node_metrics))
            .query("since_ms", json!({"type": "integer", "format": "int64"}), "From this time (ms since the epoch; the last hour by default)")
            .ok(200, json!({"type": "object", "properties": {"node_id": {"type": "string"}, "samples": schema::list("Sample")}}))
            .errors(&[404]),
        Route::new(Method::GET, "/api/v1/alert-channels", "listAlertChannels", "Monitoring", "Your org's alert channels (webhooks and e-mail), never their secrets", act(a::MONITOR_READ), get(list_channels))
            .ok(200, schema::page("AlertChannel")),
        Route::new(Method::POST, "/api/v1/alert-channels", "createAlertChannel", "Monitoring", "Create a channel: a webhook (JSON signed with HMAC-SHA256; the secret is shown once) or e-mail through an SMTP relay", act(a::MONITOR_MANAGE), post(create_channel))
            .body(schema::req::alert_channel())
            .ok(201, schema::r("AlertChannel"))
            .idempotent()
            .errors(&[409]),
        Route::new(Method::GET, "/api/v1/alert-channels/{id}", "getAlertChannel", "Monitoring", "An alert channel", act(a::MONITOR_READ), get(get_channel))
            .ok(200, schema::r("AlertChannel"))
            .errors(&[404]),
        Route::new(Method::DELETE, "/api/v1/alert-channels/{id}", "deleteAlertChannel", "Monitoring", "Delete a channel no rule notifies", act(a::MONITOR_MANAGE), delete(delete_channel))
            .ok(200, json!({"type": "object"}))
            .errors(&[404, 409]),
        Route::new(Method::POST, "/api/v1/alert-channels/{id}/test", "testAlertChannel", "Monitoring", "Send a test notification through a channel; follow it in the delivery log", act(a::MONITOR_MANAGE), post(test_channel))
            .body(schema::req::empty())
            .ok(202, schema::r("Delivery"))
            .errors(&[404]),
        Route::new(Method::GET, "/api/v1/alert-rules", "listAlertRules", "Monitoring", "Your org's alert rules", act(a::MONITOR_READ), get(list_rules))
            .ok(200, schema::page("AlertRule")),
        Route::new(Method::POST, "/api/v1/alert-rules", "createAlertRule", "Monitoring", "Create a rule: a metric over the org's nodes or certificates, a threshold, how long it must hold, a severity, how often to repeat, and the channels to notify", act(a::MONITOR_MANAGE), post(create_rule))
            .body(schema::req::alert_rule(false))
            .ok(201, schema::r("AlertRule"))
            .idempotent()
            .errors(&[409]),
        Route::new(Method::GET, "/api/v1/alert-rules/{id}", "getAlertRule", "Monitoring", "An alert rule", act(a::MONITOR_READ), get(get_rule))
            .ok(200, schema::r("AlertRule"))
            .errors(&[404]),
        Route::new(Method::PUT, "/api/v1/alert-rules/{id}", "updateAlertRule", "Monitoring", "Replace a rule's fields if it is still at `version`", act(a::MONITOR_MANAGE), put(update_rule))
            .body(schema::req::alert_rule(true))
            .ok(200, schema::r("AlertRule"))
            .errors(&[404, 409, 412]),
        Route::new(Method::DELETE, "/api/v1/alert-rules/{id}", "deleteAlertRule", "Monitoring", "Delete a rule (its open alerts resolve without notice)", act(a::MONITOR_MANAGE), delete(delete_rule))
            .ok(200, json!({"type": "object"}))
            .errors(&[404]),
        Route::new(Method::GET, "/api/v1/alerts", "listAlerts", "Monitoring", "Your org's alerts, newest first: pending, firing or resolved", act(a::MONITOR_READ), get(list_alerts))
            .query("state", json!({"type": "string", "enum": ["pending", "firing", "resolved"]}), "Only this state")
            .ok(200, schema::page("Alert")),
        Route::new(Method::GET, "/api/v1/alerts/{id}", "getAlert", "Monitoring", "An alert with its deliveries", act(a::MONITOR_READ), get(get_alert))
            .ok(200, json!({"type": "object", "properties": {"alert": schema::r("Alert"), "deliveries": schema::list("Delivery")}}))
            .errors(&[404]),
        Route::new(Method::GET, "/api/v1/alert-deliveries", "listDeliveries", "Monitoring", "The delivery log, newest first: every notification with its attempts, the receiver's answer and the last error", act(a::MONITOR_READ), get(list_deliveries))
            .query("alert_id", json!({"type": "string"}), "Only this alert's")
            .query("channel_id", json!({"type": "string"}), "Only this channel's")
            .query("state", json!({"type": "string", "enum": ["pending", "delivered", "failed"]}), "Only this state")
            .ok(200, schema::page("Delivery")),
    ]
}

async fn add_node(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    JsonBody(n): JsonBody<crate::bundle::NewNode>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::CREATED,
        crate::bundle::add_node(&p, c.org(), &id, &n).await?,
    )
}

async fn node_bundle(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::OK,
        crate::bundle::bundle(&p, c.org(), &id).await?,
    )
}

async fn get_settings(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::OK,
        crate::node_settings::get(&p, c.org(), &id).await?,
    )
}

async fn set_settings(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    JsonBody(s): JsonBody<crate::node_settings::NodeSettings>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::OK,
        crate::node_settings::set(&p, c.org(), &id, &s).await?,
    )
}

async fn control(
    p: &crate::Platform,
    ctx: &Ctx,
    id: &str,
    what: network::NodeAction,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::OK,
        network::control(p, c.org(), id, what).await?,
    )
}

async fn stop_node(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    _: EmptyBody,
) -> Result<Response> {
    control(&p, &ctx, &id, network::NodeAction::Stop).await
}

async fn start_node(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    _: EmptyBody,
) -> Result<Response> {
    control(&p, &ctx, &id, network::NodeAction::Start).await
}

async fn restart_node(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    _: EmptyBody,
) -> Result<Response> {
    control(&p, &ctx, &id, network::NodeAction::Restart).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsQuery {
    since_ms: Option<i64>,
}

async fn node_metrics(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    JsonQuery(q): JsonQuery<MetricsQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    let n = network::node_for(&p, c.org(), &id).await?;
    let since = q
        .since_ms
        .unwrap_or_else(|| crate::time::now_ms() - 3_600_000);
    reply(
        StatusCode::OK,
        json!({"node_id": n.id, "samples": sample::list(&p, &n.id, since).await?}),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    after: Option<String>,
    limit: Option<i64>,
}

async fn list_channels(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonQuery(q): JsonQuery<PageQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    paged(
        alert::channels(&p, c.org()).await?,
        q.after.as_deref(),
        q.limit,
        |x| x.name.clone(),
    )
}

async fn create_channel(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonBody(r): JsonBody<alert::NewChannel>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::CREATED,
        alert::create_channel(&p, c.org(), &r).await?,
    )
}

async fn get_channel(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(StatusCode::OK, alert::channel(&p, c.org(), &id).await?)
}

async fn delete_channel(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    alert::delete_channel(&p, c.org(), &id).await?;
    reply(StatusCode::OK, json!({"deleted": id}))
}

async fn test_channel(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    _: EmptyBody,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::ACCEPTED,
        delivery::test(&p, c.org(), &id).await?,
    )
}

async fn list_rules(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonQuery(q): JsonQuery<PageQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    paged(
        alert::rules(&p, c.org()).await?,
        q.after.as_deref(),
        q.limit,
        |x| x.name.clone(),
    )
}

async fn create_rule(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonBody(r): JsonBody<alert::NewRule>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(
        StatusCode::CREATED,
        alert::create_rule(&p, c.org(), &r).await?,
    )
}

async fn get_rule(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    reply(StatusCode::OK, alert::rule(&p, c.org(), &id).await?)
}

async fn update_rule(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
    JsonBody(mut body): JsonBody<serde_json::Value>,
) -> Result<Response> {
    let c = ctx.caller()?;
    // `version` beside the rule's own fields, which refuse unknown ones.
    let version = body
        .as_object_mut()
        .and_then(|o| o.remove("version"))
        .and_then(|v| v.as_i64())
        .ok_or_else(|| crate::Error::invalid("give the rule's `version` (an integer)"))?;
    let rule: alert::NewRule = serde_json::from_value(body)
        .map_err(|e| crate::Error::invalid(format!("the body is not right: {e}")))?;
    reply(
        StatusCode::OK,
        alert::update_rule(&p, c.org(), &id, version, &rule).await?,
    )
}

async fn delete_rule(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    alert::delete_rule(&p, c.org(), &id).await?;
    reply(StatusCode::OK, json!({"deleted": id}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertQuery {
    state: Option<String>,
    after: Option<String>,
    limit: Option<i64>,
}

async fn list_alerts(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonQuery(q): JsonQuery<AlertQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    paged(
        alert::alerts(&p, c.org(), q.state.as_deref()).await?,
        q.after.as_deref(),
        q.limit,
        |a| format!("{:020}-{}", i64::MAX - a.pending_since, a.id),
    )
}

async fn get_alert(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonPath(id): JsonPath<String>,
) -> Result<Response> {
    let c = ctx.caller()?;
    let a = alert::alert(&p, c.org(), &id).await?;
    let deliveries = delivery::list(
        &p,
        c.org(),
        &delivery::Filter {
            alert_id: Some(a.id.clone()),
            ..Default::default()
        },
    )
    .await?;
    reply(
        StatusCode::OK,
        json!({"alert": a, "deliveries": deliveries}),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveryQuery {
    alert_id: Option<String>,
    channel_id: Option<String>,
    state: Option<String>,
    after: Option<String>,
    limit: Option<i64>,
}

async fn list_deliveries(
    axum::extract::State(p): St,
    ctx: Ctx,
    JsonQuery(q): JsonQuery<DeliveryQuery>,
) -> Result<Response> {
    let c = ctx.caller()?;
    paged(
        delivery::list(
            &p,
            c.org(),
            &delivery::Filter {
                alert_id: q.alert_id,
                channel_id: q.channel_id,
                state: q.state,
            },
        )
        .await?,
        q.after.as_deref(),
        q.limit,
        |d| format!("{:020}-{}", i64::MAX - d.created_at, d.id),
    )
}
