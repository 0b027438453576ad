"""Helpers for the S3 tests: boto3 clients with default settings, clusters with or without keys."""

import hashlib

import boto3
from botocore.config import Config

KEY, SECRET = "testkey", "testsecret"


def client(endpoint, key=KEY, secret=SECRET, **config):
    """A boto3 client as a user makes one: endpoint and keys, nothing else (retries off so failures show)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, **config),
    )


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def error_code(exc_info):
    return exc_info.value.response["Error"]["Code"]


def status(exc_info):
    return exc_info.value.response["ResponseMetadata"]["HTTPStatusCode"]
