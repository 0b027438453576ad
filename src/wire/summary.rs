//! Bucket summary as AIStore's API runs it: an asynchronous job. `GET /v1/buckets/B`
//! with `{"action":"summary-bck","value":{"uuid":""...}}` starts one and answers 202 with
//! its ID; the same request with that `uuid` answers 202 while it runs and 200 with
//! `[BsummResult]` when done. `HEAD /v1/buckets/B?presence=N` starts one too (202,
//! `Ais-Xaction-Id`); `HEAD ...?uuid=ID` answers 202, then 200 with `Ais-Bucket-Summ`.
//! The proxy's job sums every target's usage; a lone target's, its own.

use std::collections::HashMap;
use std::future::Future;

use serde_json::{json, Value};

use crate::jobs::{Jobs, State};
use crate::store::BucketUsage;

/// The job kind of a summary.
const KIND: &str = "summary-bck";

/// Starts a summary job over `work` and returns its ID.
fn start_job<F>(jobs: &Jobs, bucket: &str, work: F) -> String
where
    F: Future<Output = Result<BucketUsage, String>> + Send + 'static,
{
    jobs.start(KIND, bucket, None, |_| async move {
        work.await
            .and_then(|u| serde_json::to_value(u).map_err(|e| e.to_string()))
    })
}

/// Where a summary job is: `None` unknown, `Some(None)` running, else its result.
fn usage_of(jobs: &Jobs, id: &str) -> Option<Option<Result<BucketUsage, String>>> {
    Some(match jobs.state(id)? {
        State::Running => None,
        State::Done(r) => Some(
            r.and_then(|v| serde_json::from_value::<BucketUsage>(v).map_err(|e| e.to_string())),
        ),
    })
}

pub use crate::jobs::job_id;

/// AIStore's `BsummResult` for `bucket` (counts and sizes as JSON strings, as it sends).
pub fn bsumm_result(bucket: &str, u: &BucketUsage) -> Value {
    let avg = u.total.checked_div(u.count).unwrap_or(0);
    // The bucket's share of the disks, rounded (AIStore's), not how full the disks are.
    let used_pct = (u.on_disk * 100 + u.disks_size / 2)
        .checked_div(u.disks_size)
        .unwrap_or(0);
    json!({
        "name": bucket,
        "provider": "ais",
        "namespace": {"uuid": "", "name": ""},
        "ObjCount": {
            "obj_count_present": u.count.to_string(),
            "obj_count_remote": "0",
        },
        "ObjSize": {
            "obj_min_size": u.min,
            "obj_avg_size": avg,
            "obj_max_size": u.max,
        },
        "TotalSize": {
            "size_on_disk": u.on_disk.to_string(),
            "size_all_present_objs": u.total.to_string(),
            "size_all_remote_objs": "0",
            "total_disks_size": u.disks_size.to_string(),
        },
        "used_pct": used_pct,
        "is_present": true,
    })
}

/// The `uuid` and `prefix` of a summary request's value.
pub fn ctrl_msg(value: &Value) -> (String, String) {
    (
        super::msg::str_field(value, "uuid"),
        super::msg::str_field(value, "prefix"),
    )
}

use http::{Response, StatusCode};

use super::ApiError;
use crate::http::request::set_header;
use crate::http::{empty, full, Body};
use crate::wire::headers::{AIS_BUCKET_PROPS, AIS_BUCKET_SUMM, AIS_XACTION_ID};

fn with_status(status: StatusCode, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r
}

/// `GET /v1/buckets/B` `summary-bck`: starts a job (empty `uuid`: 202 and its ID as a
/// JSON string) or reports on one (202 while it runs, 200 `[BsummResult]` when done).
pub fn answer_get<F>(
    jobs: &Jobs,
    bucket: &str,
    value: &Value,
    start: impl FnOnce(String) -> F,
) -> Result<Response<Body>, ApiError>
where
    F: Future<Output = Result<BucketUsage, String>> + Send + 'static,
{
    let (uuid, prefix) = ctrl_msg(value);
    if uuid.is_empty() {
        let id = start_job(jobs, bucket, start(prefix));
        return Ok(with_status(
            StatusCode::ACCEPTED,
            full(json!(id).to_string()),
        ));
    }
    match usage_of(jobs, &uuid) {
        None => Err(ApiError::NotFound(format!(
            "no bucket summary job {uuid:?}"
        ))),
        Some(None) => Ok(with_status(StatusCode::ACCEPTED, empty())),
        Some(Some(Err(e))) => Err(ApiError::Upstream(format!("bucket summary: {e}"))),
        Some(Some(Ok(u))) => {
            let mut r = Response::new(full(json!([bsumm_result(bucket, &u)]).to_string()));
            set_header(&mut r, http::header::CONTENT_TYPE, "application/json");
            Ok(r)
        }
    }
}

/// `HEAD /v1/buckets/B`: the properties; with `presence` also a summary job started
/// (202, `Ais-Xaction-Id`); with `uuid` that job's state (202, then 200 with
/// `Ais-Bucket-Summ`).
pub fn answer_head<F>(
    jobs: &Jobs,
    bucket: &str,
    query: &HashMap<String, String>,
    props: String,
    start: impl FnOnce(String) -> F,
) -> Result<Response<Body>, ApiError>
where
    F: Future<Output = Result<BucketUsage, String>> + Send + 'static,
{
    let mut resp = Response::new(empty());
    set_header(&mut resp, AIS_BUCKET_PROPS, props);
    if let Some(uuid) = query.get("uuid").filter(|u| !u.is_empty()) {
        match usage_of(jobs, uuid) {
            None => {
                return Err(ApiError::NotFound(format!(
                    "no bucket summary job {uuid:?}"
                )))
            }
            Some(None) => *resp.status_mut() = StatusCode::ACCEPTED,
            Some(Some(Err(e))) => return Err(ApiError::Upstream(format!("bucket summary: {e}"))),
            Some(Some(Ok(u))) => set_header(
                &mut resp,
                AIS_BUCKET_SUMM,
                bsumm_result(bucket, &u).to_string(),
            ),
        }
    } else if query.contains_key("presence") {
        let prefix = query.get("prefix").cloned().unwrap_or_default();
        let id = start_job(jobs, bucket, start(prefix));
        set_header(&mut resp, AIS_XACTION_ID, id);
        *resp.status_mut() = StatusCode::ACCEPTED;
    }
    Ok(resp)
}
