//! Native object requests parsed once into a typed operation: the method and the query
//! decide it here (`/v1/objects/<bucket>/<object>`), and handlers never look at either
//! again to choose what to do.

use std::collections::HashMap;

use http::Method;

use super::specs::OBJECT_TO;
use crate::wire::ApiError;

/// Query parameter of a native multipart upload's ID.
pub const UPLOAD_ID: &str = "uploadId";

/// What a request on `/v1/objects/<bucket>/<object>` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectOp {
    Get,
    Head,
    Put,
    /// `PUT ?append_type=append|flush`.
    Append,
    /// `PUT ?object_to=<uname>`: a copy to another bucket or name.
    CopyTo(String),
    /// `PATCH`: custom metadata, merged or (`?set-new-custom=true`) replacing.
    SetCustom {
        replace: bool,
    },
    Delete,
    /// A native multipart upload step (any `POST`, or a request with an upload ID).
    Multipart,
}

impl ObjectOp {
    /// The operation for `method` and the decoded query.
    pub fn parse(method: &Method, q: &HashMap<String, String>) -> Result<ObjectOp, ApiError> {
        if q.contains_key(UPLOAD_ID) || *method == Method::POST {
            return Ok(ObjectOp::Multipart);
        }
        Ok(match *method {
            Method::GET => ObjectOp::Get,
            Method::HEAD => ObjectOp::Head,
            Method::PUT if q.contains_key("append_type") => ObjectOp::Append,
            Method::PUT => match q.get(OBJECT_TO) {
                Some(to) => ObjectOp::CopyTo(to.clone()),
                None => ObjectOp::Put,
            },
            Method::PATCH => ObjectOp::SetCustom {
                replace: q.get("set-new-custom").is_some_and(|v| v == "true"),
            },
            Method::DELETE => ObjectOp::Delete,
            _ => return Err(ApiError::MethodNotAllowed(method.clone())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_and_query_make_one_operation() {
        let q = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let cases: Vec<(Method, HashMap<String, String>, Option<ObjectOp>)> = vec![
            (Method::GET, q(&[]), Some(ObjectOp::Get)),
            (Method::GET, q(&[("archpath", "a/b")]), Some(ObjectOp::Get)),
            (Method::HEAD, q(&[]), Some(ObjectOp::Head)),
            (Method::PUT, q(&[]), Some(ObjectOp::Put)),
            (
                Method::PUT,
                q(&[("append_type", "append")]),
                Some(ObjectOp::Append),
            ),
            (
                Method::PUT,
                q(&[("object_to", "ais/@#/b2/o2")]),
                Some(ObjectOp::CopyTo("ais/@#/b2/o2".into())),
            ),
            (
                Method::PATCH,
                q(&[]),
                Some(ObjectOp::SetCustom { replace: false }),
            ),
            (
                Method::PATCH,
                q(&[("set-new-custom", "true")]),
                Some(ObjectOp::SetCustom { replace: true }),
            ),
            (Method::DELETE, q(&[]), Some(ObjectOp::Delete)),
            (Method::POST, q(&[]), Some(ObjectOp::Multipart)),
            (
                Method::PUT,
                q(&[("uploadId", "u1")]),
                Some(ObjectOp::Multipart),
            ),
            (Method::OPTIONS, q(&[]), None),
            (Method::TRACE, q(&[]), None),
        ];
        for (method, query, want) in cases {
            let got = ObjectOp::parse(&method, &query);
            match want {
                Some(op) => assert_eq!(got.ok(), Some(op), "{method} {query:?}"),
                None => assert!(got.is_err(), "{method} {query:?}"),
            }
        }
    }
}
