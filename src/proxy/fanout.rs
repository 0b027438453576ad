//! One bucket action sent to every target (or one), and what each answered.

use http::Method;
use serde_json::json;

use super::ProxyContext;
use crate::cluster::Snode;

/// How one target answered a bucket action.
pub(super) enum Outcome {
    /// It did it.
    Done,
    /// It had nothing to do (the bucket was already there, or already gone).
    AlreadySo,
    /// It failed or could not be reached.
    Failed(String),
}

/// Sends one bucket action to each of `targets`; `already` is the status meaning "nothing
/// to do" (409 for create, 404 for destroy).
pub(super) async fn broadcast(
    ctx: &ProxyContext,
    targets: &[Snode],
    method: Method,
    bucket: &str,
    action: &str,
    already: u16,
) -> Vec<(Snode, Outcome)> {
    let body = serde_json::to_vec(&json!({"action": action, "name": "", "value": null}))
        .unwrap_or_default();
    let calls = targets.iter().map(|t| {
        let url = format!("{}/v1/buckets/{bucket}", t.control_url());
        let (client, body, method) = (ctx.client.clone(), body.clone(), method.clone());
        async move {
            let outcome = match client.send(method, &url, Some(body)).await {
                Ok(r) if r.status.is_success() => Outcome::Done,
                Ok(r) if r.status.as_u16() == already => Outcome::AlreadySo,
                Ok(r) => Outcome::Failed(format!(
                    "{}: {} {}",
                    t.daemon_id,
                    r.status,
                    String::from_utf8_lossy(&r.body)
                )),
                Err(e) => Outcome::Failed(format!("{}: {e}", t.daemon_id)),
            };
            (t.clone(), outcome)
        }
    });
    futures_util::future::join_all(calls).await
}

pub(super) fn failures(outcomes: &[(Snode, Outcome)]) -> Vec<String> {
    outcomes
        .iter()
        .filter_map(|(_, o)| match o {
            Outcome::Failed(why) => Some(why.clone()),
            _ => None,
        })
        .collect()
}

/// Creates a bucket on every target. If any fails, the create is undone only where it
/// was done by this call: a target that already had the bucket (409) keeps it and its data.
/// Sends one control request to target `t`: its answer's body, or why it did not succeed.
pub(super) async fn ask(
    ctx: &ProxyContext,
    t: &Snode,
    method: Method,
    url: &str,
    body: Vec<u8>,
) -> Result<bytes::Bytes, String> {
    match ctx.client.send(method, url, Some(body)).await {
        Ok(r) if r.status.is_success() => Ok(r.body),
        Ok(r) => Err(format!(
            "{}: {} {}",
            t.daemon_id,
            r.status,
            String::from_utf8_lossy(&r.body)
        )),
        Err(e) => Err(format!("{}: {e}", t.daemon_id)),
    }
}
