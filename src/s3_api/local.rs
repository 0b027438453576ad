//! Bucket operations of a lone target, answered from its own store.

use crate::s3::bucket::{Buckets, PageSourceFor};
use crate::s3::error::S3Error;
use crate::s3::list::{Entry, PageAsk, PageResult};
use crate::service::TargetContext;
use crate::store::{ListRequest, Props, UploadInfo};

/// A target's store as the S3 bucket layer sees it.
pub struct LocalBuckets<'a>(pub &'a TargetContext);

impl PageSourceFor for LocalBuckets<'_> {
    async fn bucket_page(&self, bucket: &str, ask: PageAsk<'_>) -> PageResult {
        let PageAsk { prefix, after, n } = ask;
        let page = self
            .0
            .store
            .list(
                bucket,
                ListRequest {
                    prefix: prefix.to_string(),
                    after: after.to_string(),
                    page_size: n,
                    props: Props {
                        size: true,
                        etag: true,
                        ..Props::default()
                    },
                    ..ListRequest::default()
                },
            )
            .await?;
        let more = !page.next_after.is_empty();
        let entries = page
            .entries
            .into_iter()
            .map(|e| Entry {
                key: e.name,
                size: e.size,
                mtime_ns: e.mtime_ns,
                etag: e.etag,
            })
            .collect();
        Ok((entries, more))
    }
}

impl Buckets for LocalBuckets<'_> {
    async fn list_buckets(&self) -> Result<Vec<(String, i64)>, S3Error> {
        Ok(self
            .0
            .store
            .list_buckets()
            .into_iter()
            .map(|(n, i)| (n, i.created_ns))
            .collect())
    }

    async fn create_bucket(&self, bucket: &str) -> Result<(), S3Error> {
        Ok(self.0.store.create_bucket(bucket).await?)
    }

    async fn destroy_bucket(&self, bucket: &str) -> Result<(), S3Error> {
        Ok(self.0.store.destroy_bucket(bucket).await?)
    }

    async fn head_bucket(&self, bucket: &str) -> Result<(), S3Error> {
        Ok(self.0.store.require_bucket(bucket)?)
    }

    async fn list_uploads(&self, bucket: &str) -> Result<Vec<UploadInfo>, S3Error> {
        Ok(self.0.store.list_uploads(bucket).await?)
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), S3Error> {
        match self.0.store.delete(bucket, key).await {
            Ok(()) | Err(crate::store::Error::ObjectNotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
