//! Native bucket requests parsed once into a typed operation: the method and the action of
//! the control message decide it here, and handlers (the target's and the proxy's) never
//! look at either again. [`Asked`] is the rest of what the request says.

use std::collections::HashMap;

use http::{Method, Request};
use hyper::body::Incoming;

use crate::client_auth::Principal;
use crate::wire::{ActMsg, ApiError};

/// Reads a request on `/v1/buckets/<bucket>` once: its operation, what it says besides,
/// and its control message (none for HEAD; a method the endpoint does not take is refused
/// before its body is read).
pub async fn read(
    req: Request<Incoming>,
    bucket: &str,
) -> Result<(BucketOp, Asked, ActMsg), ApiError> {
    let method = req.method().clone();
    let reads_message = BucketOp::reads_message(&method)?;
    let asked = Asked::of(&req);
    if let Some(rest) = asked
        .path_prefix
        .as_deref()
        .filter(|_| method != Method::HEAD && method != Method::GET)
    {
        // `/v1/buckets/a/b`: a name with a slash, never a bucket `a` (AIStore refuses it too).
        return Err(ApiError::BadRequest(format!(
            "invalid bucket name \"{bucket}/{rest}\": a bucket name has no '/' ({method} takes /v1/buckets/<bucket>)"
        )));
    }
    let msg = if reads_message {
        super::msg::read_act_msg(req).await?
    } else {
        ActMsg::default()
    };
    let op = BucketOp::parse(&method, &msg.action, bucket)?;
    Ok((op, asked, msg))
}

/// What a bucket request says besides its control message, taken before the body is read.
#[derive(Debug)]
pub struct Asked {
    /// Who sent it (for the log).
    pub caller: String,
    /// The token's user, if a token came.
    pub who: Option<Principal>,
    /// The query, decoded.
    pub query: HashMap<String, String>,
    /// The client takes msgpack pages.
    pub msgpack: bool,
    /// It came on the intra-cluster port.
    pub intra: bool,
    /// The prefix in `/v1/buckets/<bucket>/<prefix>` (HEAD of a summary).
    pub path_prefix: Option<String>,
}

impl Asked {
    /// Reads everything but the body.
    pub fn of<B>(req: &Request<B>) -> Asked {
        Asked {
            caller: crate::http::caller(req),
            who: crate::client_auth::principal(req),
            query: crate::http::request::query(req),
            msgpack: super::lso::wants_msgpack(req.headers()),
            intra: crate::http::Plane::of(req) == crate::http::Plane::Intra,
            path_prefix: super::msg::path_prefix(req),
        }
    }
}

/// What a request on `/v1/buckets/<bucket>` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketOp {
    /// `POST create-bck`.
    Create,
    /// `POST move-bck`: rename.
    Rename,
    /// `POST copy-bck` (a prefix) or `copy-listrange` (names or a template).
    Copy { listed: bool },
    /// `PUT archive`: listed objects into one shard.
    Archive,
    /// `PUT`/`PATCH` of bucket properties (a lone target keeps them itself).
    SetProps,
    /// `DELETE delete-listrange`.
    DeleteListed,
    /// `DELETE destroy-bck`.
    Destroy,
    /// `HEAD`: properties, or a summary job's state.
    Head,
    /// `GET summary-bck`.
    Summary,
    /// `GET` with no action or `list`: a page of objects.
    List,
}

impl BucketOp {
    /// Whether a request of `method` carries a control message to read first; a method
    /// the endpoint does not take is refused before its body is read.
    pub fn reads_message(method: &Method) -> Result<bool, ApiError> {
        match method.as_str() {
            "HEAD" => Ok(false),
            "POST" | "PUT" | "PATCH" | "DELETE" | "GET" => Ok(true),
            _ => Err(ApiError::MethodNotAllowed(method.clone())),
        }
    }

    /// The operation for `method` and the message's `action` (`""` for none).
    pub fn parse(method: &Method, action: &str, bucket: &str) -> Result<BucketOp, ApiError> {
        let op = match (method.as_str(), action) {
            ("POST", "create-bck") => BucketOp::Create,
            ("POST", "move-bck") => BucketOp::Rename,
            ("POST", "copy-bck") => BucketOp::Copy { listed: false },
            ("POST", "copy-listrange") => BucketOp::Copy { listed: true },
            ("POST", "make-n-copies" | "ec-encode") => BucketOp::SetProps,
            ("POST", other) => {
                return Err(ApiError::BadRequest(format!(
                    "ais://{bucket}: unsupported bucket action {other:?}"
                )))
            }
            ("PUT" | "PATCH", "archive") => BucketOp::Archive,
            ("PUT" | "PATCH", _) => BucketOp::SetProps,
            ("DELETE", "delete-listrange") => BucketOp::DeleteListed,
            ("DELETE", "destroy-bck") => BucketOp::Destroy,
            ("DELETE", other) => {
                return Err(ApiError::BadRequest(format!(
                    "ais://{bucket}: expecting action \"destroy-bck\", got {other:?}"
                )))
            }
            ("HEAD", _) => BucketOp::Head,
            ("GET", "summary-bck") => BucketOp::Summary,
            ("GET", "" | "list") => BucketOp::List,
            ("GET", other) => {
                return Err(ApiError::BadRequest(format!(
                    "ais://{bucket}: unsupported action {other:?} on GET"
                )))
            }
            _ => return Err(ApiError::MethodNotAllowed(method.clone())),
        };
        Ok(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_and_action_make_one_operation() {
        use BucketOp as B;
        let cases: &[(Method, &str, Option<BucketOp>)] = &[
            (Method::POST, "create-bck", Some(B::Create)),
            (Method::POST, "move-bck", Some(B::Rename)),
            (Method::POST, "copy-bck", Some(B::Copy { listed: false })),
            (
                Method::POST,
                "copy-listrange",
                Some(B::Copy { listed: true }),
            ),
            (Method::POST, "destroy-bck", None),
            (Method::POST, "", None),
            (Method::PUT, "archive", Some(B::Archive)),
            (Method::PATCH, "archive", Some(B::Archive)),
            (Method::PATCH, "set-bprops", Some(B::SetProps)),
            (Method::PUT, "reset-bprops", Some(B::SetProps)),
            (Method::POST, "make-n-copies", Some(B::SetProps)),
            (Method::POST, "ec-encode", Some(B::SetProps)),
            (Method::DELETE, "delete-listrange", Some(B::DeleteListed)),
            (Method::DELETE, "destroy-bck", Some(B::Destroy)),
            (Method::DELETE, "", None),
            (Method::HEAD, "", Some(B::Head)),
            (Method::GET, "", Some(B::List)),
            (Method::GET, "list", Some(B::List)),
            (Method::GET, "summary-bck", Some(B::Summary)),
            (Method::GET, "create-bck", None),
            (Method::OPTIONS, "", None),
        ];
        for (method, action, want) in cases {
            let got = BucketOp::parse(method, action, "b");
            match want {
                Some(op) => assert_eq!(got.ok(), Some(*op), "{method} {action:?}"),
                None => assert!(got.is_err(), "{method} {action:?}: {got:?}"),
            }
        }
        let err = BucketOp::parse(&Method::OPTIONS, "", "b").expect_err("no such method");
        assert_eq!(err.status(), http::StatusCode::METHOD_NOT_ALLOWED);
        let err = BucketOp::parse(&Method::GET, "x", "b").expect_err("unknown action");
        assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
        assert!(!BucketOp::reads_message(&Method::HEAD).expect("HEAD"));
        assert!(BucketOp::reads_message(&Method::GET).expect("GET"));
        assert!(BucketOp::reads_message(&Method::OPTIONS).is_err());
    }
}
