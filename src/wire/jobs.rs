//! `GET /v1/cluster?what=status` and `?what=qryxstats` (the SDK's `Job.status`,
//! `Job.wait`, `Job.get_details`), `status_all` and `running_all` (`Cluster.list_jobs_status`,
//! `list_running_jobs`) and the `stop` action, over a node's [`Jobs`].

use http::Response;

use super::json_response;
use super::ApiError;
use crate::http::Body;
use crate::jobs::{list_args, query_args, Jobs};

/// `what` values answered here.
pub fn is_job_query(what: &str) -> bool {
    matches!(what, "status" | "qryxstats" | "status_all" | "running_all")
}

/// Answers a job query; `body` is the SDK's `JobArgs` (`{"ID":..,"Kind":..}`), `me` the
/// node under which jobs without per-node counts show.
pub fn answer(jobs: &Jobs, what: &str, body: &[u8], me: &str) -> Result<Response<Body>, ApiError> {
    let (id, kind) = query_args(body);
    match what {
        "status_all" => {
            let (kind, running_only) = list_args(body);
            Ok(json_response(&jobs.statuses(&kind, running_only)))
        }
        "running_all" => Ok(json_response(&jobs.running(&list_args(body).0))),
        "status" => {
            if id.is_empty() {
                return Err(ApiError::BadRequest(
                    "job status: expecting the job's ID in the body ({\"ID\": ...})".into(),
                ));
            }
            let status = jobs
                .status(&id)
                .ok_or_else(|| ApiError::NotFound(format!("job {id:?} not found")))?;
            Ok(json_response(&status))
        }
        _ => {
            let snaps = jobs.snapshots(&id, &kind, me);
            if snaps.is_empty() && !id.is_empty() {
                return Err(ApiError::NotFound(format!("job {id:?} not found")));
            }
            Ok(json_response(&snaps))
        }
    }
}

/// `PUT /v1/cluster` (or `/v1/daemon`) `{"action":"stop","value":{"ID":..,"Kind":..}}`:
/// tells the job (or every running job of the kind) to stop.
pub fn stop(jobs: &Jobs, value: &serde_json::Value) -> Result<(), ApiError> {
    let (id, kind) = query_args(&serde_json::to_vec(value).unwrap_or_default());
    if id.is_empty() && kind.is_empty() {
        return Err(ApiError::BadRequest(
            "stop: expecting a job ID or kind in the value".into(),
        ));
    }
    if jobs.abort(&id, &kind) {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!(
            "no running job {id:?} {kind:?}"
        )))
    }
}
