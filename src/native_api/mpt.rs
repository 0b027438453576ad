//! AIStore's native multipart upload on `/v1/objects/B/O` (the SDK's
//! `Object.multipart_upload()`): `POST {"action":"mpt-upload"}` starts one and answers
//! its ID as plain text; `PUT ?uploadId=&partNumber=` stores a part; `POST ?uploadId=`
//! `{"action":"mpt-complete","value":[{"part-number":N,"etag":""}...]}` joins the listed
//! parts in order; `DELETE ?uploadId=` `{"action":"mpt-abort"}` drops it. The staging is
//! the store's, shared with the S3 front end (`store/multipart.rs`): an upload started
//! through one may be finished through the other.

use std::collections::HashMap;

use http::{header, HeaderValue, Method, Request, Response};
use hyper::body::Incoming;
use serde::Deserialize;

use super::upload::{declared_size, paced, refused};
use super::{read_act_msg, ApiError, TargetContext};
use crate::http::{empty, full, Body};
use crate::store::{Completion, PutOptions, UploadSpec};
use crate::wire::object_op::UPLOAD_ID;

/// Query parameter naming the part.
pub const PART_NUMBER: &str = "partNumber";

#[derive(Deserialize)]
struct CompletedPart {
    #[serde(rename = "part-number")]
    part_number: u32,
    #[serde(default)]
    etag: String,
}

/// Handles one multipart request (`POST` without `uploadId` must carry `mpt-upload`).
pub async fn handle(
    ctx: &TargetContext,
    req: Request<Incoming>,
    q: HashMap<String, String>,
    bucket: &str,
    object: &str,
) -> Result<Response<Body>, ApiError> {
    let id = q.get(UPLOAD_ID).cloned().unwrap_or_default();
    match (req.method().clone(), id.is_empty()) {
        (Method::POST, true) => {
            let custom = crate::wire::msg::custom_md(req.headers())?;
            let msg = read_act_msg(req).await?;
            if msg.action != "mpt-upload" {
                return Err(ApiError::BadRequest(format!(
                    "ais://{bucket}/{object}: unsupported object action {:?}",
                    msg.action
                )));
            }
            let spec = UploadSpec {
                object: object.to_string(),
                custom,
                ..Default::default()
            };
            let id = ctx.store.create_upload(bucket, spec).await?;
            tracing::debug!(%bucket, %object, upload = %id, "multipart upload started");
            Ok(Response::new(full(id)))
        }
        (Method::PUT, false) => {
            let part: u32 = q
                .get(PART_NUMBER)
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "ais://{bucket}/{object}: {PART_NUMBER} must be a number from 1 to {}",
                        crate::store::MAX_PART_NUMBER
                    ))
                })?;
            let size = declared_size(ctx, req.headers(), bucket, object)?;
            if size == Some(0) {
                // AIStore refuses empty parts (its chunks are never empty).
                return Err(ApiError::BadRequest(format!(
                    "ais://{bucket}/{object}: part {part}: invalid size (0): a part must not be empty"
                )));
            }
            let opts = PutOptions {
                size,
                ..Default::default()
            };
            let mut incoming = req.into_body();
            let body = paced(ctx, &mut incoming);
            match ctx.store.put_part(bucket, object, &id, part, body, opts).await {
                Ok(p) => {
                    let mut resp = Response::new(empty());
                    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", p.md5)) {
                        resp.headers_mut().insert(header::ETAG, v);
                    }
                    Ok(resp)
                }
                Err(e) => Err(refused(&mut incoming, e).await),
            }
        }
        (Method::POST, false) => {
            let msg = read_act_msg(req).await?;
            if msg.action != "mpt-complete" {
                return Err(ApiError::BadRequest(format!(
                    "ais://{bucket}/{object}: expecting action \"mpt-complete\" with {UPLOAD_ID}, got {:?}",
                    msg.action
                )));
            }
            let parts: Vec<CompletedPart> = serde_json::from_value(msg.value).map_err(|e| {
                ApiError::BadRequest(format!(
                    "ais://{bucket}/{object}: the parts must be a list of {{\"part-number\":N,\"etag\":\"...\"}}: {e}"
                ))
            })?;
            let wanted = native_completion(parts)
                .map_err(|why| ApiError::BadRequest(format!("ais://{bucket}/{object}: {why}")))?;
            let info = ctx
                .store
                .complete_upload(bucket, object, &id, &wanted, Completion::NATIVE)
                .await?;
            crate::service::redundancy::protect(ctx, bucket, object).await?;
            tracing::info!(%bucket, %object, upload = %id, parts = wanted.len(), size = info.meta.size, "multipart upload completed");
            Ok(Response::new(empty()))
        }
        (Method::DELETE, false) => {
            let _ = read_act_msg(req).await?;
            ctx.store.abort_upload(bucket, object, &id).await?;
            Ok(Response::new(empty()))
        }
        (m, _) => Err(ApiError::BadRequest(format!(
            "ais://{bucket}/{object}: {m} does not belong to a multipart upload ({UPLOAD_ID}={id:?})"
        ))),
    }
}

/// The native completion's rules (AIStore's): parts may be listed in any order (they
/// are joined by number), but none twice, and at least one.
fn native_completion(mut parts: Vec<CompletedPart>) -> Result<Vec<(u32, String)>, String> {
    if parts.is_empty() {
        return Err("no chunks to complete: the list of parts is empty".into());
    }
    parts.sort_by_key(|p| p.part_number);
    if let Some(w) = parts
        .windows(2)
        .find(|w| w[0].part_number == w[1].part_number)
    {
        return Err(format!(
            "partial completion: part {} is listed more than once",
            w[0].part_number
        ));
    }
    Ok(parts.into_iter().map(|p| (p.part_number, p.etag)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(numbers: &[u32]) -> Vec<CompletedPart> {
        numbers
            .iter()
            .map(|&n| CompletedPart {
                part_number: n,
                etag: String::new(),
            })
            .collect()
    }

    #[test]
    fn native_completion_sorts_and_refuses_empty_and_duplicate_lists() {
        let numbers = |r: Result<Vec<(u32, String)>, String>| {
            r.map(|v| v.into_iter().map(|(n, _)| n).collect::<Vec<_>>())
        };
        assert_eq!(
            numbers(native_completion(parts(&[3, 1, 2]))),
            Ok(vec![1, 2, 3])
        );
        assert_eq!(numbers(native_completion(parts(&[7]))), Ok(vec![7]));
        assert!(native_completion(parts(&[]))
            .unwrap_err()
            .contains("no chunks"));
        assert!(native_completion(parts(&[1, 2, 1]))
            .unwrap_err()
            .contains("partial completion"));
    }
}
