//! S3's XML documents as serde types (quick-xml), in and out. Element names are S3's.

use serde::{Deserialize, Serialize};

pub use crate::dates::{days_from_civil, iso8601, parse_iso8601};

/// The namespace S3 puts on its result documents.
pub const XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Serialises a document with the XML declaration in front.
pub fn to_xml<T: Serialize>(doc: &T) -> Vec<u8> {
    let body = quick_xml::se::to_string(doc).unwrap_or_default();
    let mut out = String::with_capacity(body.len() + 40);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&body);
    out.into_bytes()
}

/// Parses a request document; the error is for `MalformedXML`.
pub fn from_xml<'de, T: Deserialize<'de>>(text: &'de str) -> Result<T, String> {
    quick_xml::de::from_str(text).map_err(|e| e.to_string())
}

/// Bucket owner (one fixed identity: AIStore has no S3 accounts).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Owner {
    #[serde(rename = "ID")]
    pub id: &'static str,
    pub display_name: &'static str,
}

/// The only owner.
pub const OWNER: Owner = Owner {
    id: "ais",
    display_name: "ais",
};

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BucketXml {
    pub name: String,
    pub creation_date: String,
}

#[derive(Debug, Serialize)]
pub struct Buckets {
    #[serde(rename = "Bucket", default)]
    pub bucket: Vec<BucketXml>,
}

/// ListBuckets.
#[derive(Debug, Serialize)]
#[serde(rename = "ListAllMyBucketsResult", rename_all = "PascalCase")]
pub struct ListAllMyBucketsResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub owner: Owner,
    pub buckets: Buckets,
}

/// One object in a listing.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Contents {
    pub key: String,
    pub last_modified: String,
    #[serde(rename = "ETag")]
    pub etag: String,
    pub size: u64,
    pub storage_class: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CommonPrefix {
    pub prefix: String,
}

/// ListObjectsV2 and ListObjects (v1): the fields of the other version are left out.
#[derive(Debug, Serialize)]
#[serde(rename = "ListBucketResult", rename_all = "PascalCase")]
pub struct ListBucketResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub name: String,
    pub prefix: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_continuation_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_count: Option<usize>,
    pub max_keys: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding_type: Option<String>,
    pub is_truncated: bool,
    #[serde(default)]
    pub contents: Vec<Contents>,
    #[serde(default)]
    pub common_prefixes: Vec<CommonPrefix>,
}

/// One object version (every object has one: the current).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionXml {
    pub key: String,
    pub version_id: &'static str,
    pub is_latest: bool,
    pub last_modified: String,
    #[serde(rename = "ETag")]
    pub etag: String,
    pub size: u64,
    pub storage_class: &'static str,
    pub owner: Owner,
}

impl VersionXml {
    /// The one version every object has: the current.
    pub fn current(c: Contents) -> VersionXml {
        VersionXml {
            key: c.key,
            version_id: "null",
            is_latest: true,
            last_modified: c.last_modified,
            etag: c.etag,
            size: c.size,
            storage_class: c.storage_class,
            owner: OWNER,
        }
    }
}

/// ListObjectVersions.
#[derive(Debug, Serialize)]
#[serde(rename = "ListVersionsResult", rename_all = "PascalCase")]
pub struct ListVersionsResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub name: String,
    pub prefix: String,
    pub key_marker: String,
    pub version_id_marker: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_key_marker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_version_id_marker: Option<String>,
    pub max_keys: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding_type: Option<String>,
    pub is_truncated: bool,
    #[serde(default)]
    pub version: Vec<VersionXml>,
    #[serde(default)]
    pub common_prefixes: Vec<CommonPrefix>,
}

/// GetBucketLocation (empty = us-east-1, as S3 answers).
#[derive(Debug, Serialize)]
#[serde(rename = "LocationConstraint")]
pub struct LocationConstraint {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    #[serde(rename = "$text")]
    pub region: String,
}

/// GetBucketVersioning of a bucket never versioned: an empty configuration.
#[derive(Debug, Serialize)]
#[serde(rename = "VersioningConfiguration")]
pub struct VersioningConfiguration {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
}

/// CreateMultipartUpload.
#[derive(Debug, Serialize)]
#[serde(rename = "InitiateMultipartUploadResult", rename_all = "PascalCase")]
pub struct InitiateMultipartUploadResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
}

/// CompleteMultipartUpload's answer.
#[derive(Debug, Serialize)]
#[serde(rename = "CompleteMultipartUploadResult", rename_all = "PascalCase")]
pub struct CompleteMultipartUploadResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub location: String,
    pub bucket: String,
    pub key: String,
    #[serde(rename = "ETag")]
    pub etag: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PartXml {
    pub part_number: u32,
    pub last_modified: String,
    #[serde(rename = "ETag")]
    pub etag: String,
    pub size: u64,
}

/// ListParts.
#[derive(Debug, Serialize)]
#[serde(rename = "ListPartsResult", rename_all = "PascalCase")]
pub struct ListPartsResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub initiator: Owner,
    pub owner: Owner,
    pub storage_class: &'static str,
    pub part_number_marker: u32,
    pub next_part_number_marker: u32,
    pub max_parts: usize,
    pub is_truncated: bool,
    #[serde(default)]
    pub part: Vec<PartXml>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UploadXml {
    pub key: String,
    pub upload_id: String,
    pub initiator: Owner,
    pub owner: Owner,
    pub storage_class: &'static str,
    pub initiated: String,
}

/// ListMultipartUploads.
#[derive(Debug, Serialize)]
#[serde(rename = "ListMultipartUploadsResult", rename_all = "PascalCase")]
pub struct ListMultipartUploadsResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub bucket: String,
    pub key_marker: String,
    pub upload_id_marker: String,
    pub next_key_marker: String,
    pub next_upload_id_marker: String,
    pub prefix: String,
    pub max_uploads: usize,
    pub is_truncated: bool,
    #[serde(default)]
    pub upload: Vec<UploadXml>,
}

/// CopyObject's answer (and UploadPartCopy's, as `CopyPartResult`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CopyResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub last_modified: String,
    #[serde(rename = "ETag")]
    pub etag: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeletedXml {
    pub key: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteErrorXml {
    pub key: String,
    pub code: String,
    pub message: String,
}

/// DeleteObjects' answer.
#[derive(Debug, Serialize)]
#[serde(rename = "DeleteResult", rename_all = "PascalCase")]
pub struct DeleteResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    #[serde(default)]
    pub deleted: Vec<DeletedXml>,
    #[serde(default)]
    pub error: Vec<DeleteErrorXml>,
}

/// CompleteMultipartUpload's request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompleteMultipartUpload {
    #[serde(default)]
    pub part: Vec<CompletedPart>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompletedPart {
    pub part_number: u32,
    #[serde(rename = "ETag", default)]
    pub etag: String,
}

/// DeleteObjects' request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Delete {
    #[serde(default)]
    pub quiet: bool,
    #[serde(default)]
    pub object: Vec<ObjectIdentifier>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectIdentifier {
    pub key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_round_trip() {
        let doc = ListBucketResult {
            xmlns: XMLNS,
            name: "b".into(),
            prefix: "".into(),
            marker: None,
            next_marker: None,
            continuation_token: None,
            next_continuation_token: Some("t".into()),
            start_after: None,
            key_count: Some(1),
            max_keys: 1000,
            delimiter: None,
            encoding_type: None,
            is_truncated: true,
            contents: vec![Contents {
                key: "a<&>".into(),
                last_modified: iso8601(0),
                etag: "\"x\"".into(),
                size: 3,
                storage_class: "STANDARD",
            }],
            common_prefixes: vec![],
        };
        let text = String::from_utf8(to_xml(&doc)).unwrap();
        assert!(text.contains("<Key>a&lt;&amp;&gt;</Key>"), "{text}");
        assert!(
            text.contains("<NextContinuationToken>t</NextContinuationToken>"),
            "{text}"
        );
        assert!(!text.contains("Marker"), "{text}");

        let del: Delete = from_xml(
            "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Object><Key>a</Key></Object><Object><Key>b</Key></Object><Quiet>true</Quiet></Delete>",
        )
        .unwrap();
        assert!(del.quiet);
        assert_eq!(del.object.len(), 2);
        let done: CompleteMultipartUpload = from_xml(
            "<CompleteMultipartUpload><Part><ETag>\"e1\"</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
        )
        .unwrap();
        assert_eq!(done.part[0].part_number, 1);
        assert!(from_xml::<Delete>("<Delete><Object>").is_err());
    }
}
