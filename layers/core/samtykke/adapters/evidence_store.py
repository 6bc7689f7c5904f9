"""The evidence bucket: presigned uploads and downloads, reading objects, Object Lock retention, and deletion.

The bucket is versioned, KMS-encrypted, public access blocked, TLS only, with Object Lock in governance mode. Each
evidence file gets its retention date when its check passes (the tenant's `evidence_retention_days`). Deleting a
locked object version takes `s3:BypassGovernanceRetention` (the `evidence:bypass-governance` grant), which only
evidence_check holds: rejected uploads, and what erasure, expiry and imports ask it for through the evidence queue
(`services/evidence.delete_requested`). Every such deletion is logged by key and version, never by content.

S3 error codes never leave this module: a missing object is `None` or `NotFound`, throttling is retryable.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from samtykke.adapters import aws
from samtykke.adapters.errors import error_code, translate_aws_errors
from samtykke.domain.errors import NotFound, RetryableError
from samtykke.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

MISSING_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})
S3_BUSY_CODES = frozenset({"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "503", "500"})
READ_CHUNK = 1024 * 1024


class ObjectMissing(NotFound):
    code = "object_missing"


@contextmanager
def s3_errors() -> Iterator[None]:
    try:
        with translate_aws_errors():
            yield
    except ClientError as exc:
        code = error_code(exc)
        if code in MISSING_CODES:
            raise ObjectMissing("No such object") from exc
        if code in S3_BUSY_CODES:
            raise RetryableError("The evidence store is busy; retry shortly", code="throttled") from exc
        raise
    except BotoCoreError as exc:  # connection errors, read timeouts
        raise RetryableError("The evidence store could not be reached; retry shortly", code="throttled") from exc


class EvidenceStore:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    # --- presigned URLs ----------------------------------------------------------------------------------

    def presign_put(
        self,
        key: str,
        *,
        content_type: str,
        size: int,
        sha256_b64: str,
        expires_in: int,
        retain_until: datetime | None = None,
    ) -> tuple[str, dict[str, str]]:
        """A PUT URL that signs Content-Type, Content-Length and the SHA-256 (S3 refuses any other file),
        and the headers to send with it. `retain_until` also signs the object's own governance retention, which
        overrides the bucket's default (a file that must not outlive its processing)."""
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "ContentType": content_type,
            "ContentLength": size,
            "ChecksumSHA256": sha256_b64,
            # S3 wants an integrity header on every upload to an Object Lock bucket (default retention included).
            "ChecksumAlgorithm": "SHA256",
        }
        headers = {
            "Content-Type": content_type,
            "x-amz-checksum-sha256": sha256_b64,
            "x-amz-sdk-checksum-algorithm": "SHA256",
        }
        if retain_until is not None:
            until = retain_until.astimezone(UTC).replace(microsecond=0)
            params |= {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": until}
            headers |= {
                "x-amz-object-lock-mode": "GOVERNANCE",
                "x-amz-object-lock-retain-until-date": until.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        url = aws.s3().generate_presigned_url("put_object", Params=params, ExpiresIn=expires_in)
        return url, headers

    def presign_get(self, key: str, *, version_id: str | None, expires_in: int, filename: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            params["VersionId"] = version_id
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return aws.s3().generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)

    # --- reading -----------------------------------------------------------------------------------------

    def head(self, key: str, version_id: str | None = None) -> dict[str, Any] | None:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            params["VersionId"] = version_id
        try:
            with s3_errors():
                result = aws.s3().head_object(**params)
        except ObjectMissing:
            return None
        return dict(result)

    def read(self, key: str, version_id: str | None, *, limit: int) -> bytes:
        """At most `limit` bytes of the object, from its start."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "Range": f"bytes=0-{max(limit - 1, 0)}"}
        if version_id:
            params["VersionId"] = version_id
        with s3_errors():
            body = aws.s3().get_object(**params)["Body"]
            try:
                return body.read(limit)
            finally:
                body.close()

    def stream(self, key: str, version_id: str | None, *, start: int = 0) -> Iterator[bytes]:
        """The object's bytes from `start` on, in chunks; stop iterating to stop reading."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            params["VersionId"] = version_id
        if start:
            params["Range"] = f"bytes={start}-"
        with s3_errors():
            body = aws.s3().get_object(**params)["Body"]
        try:
            while True:
                with s3_errors():
                    chunk = body.read(READ_CHUNK)
                if not chunk:
                    return
                yield chunk
        finally:
            body.close()

    # --- writing -----------------------------------------------------------------------------------------

    def put(
        self, key: str, body: bytes, *, content_type: str, retain_days: int, mode: str = "GOVERNANCE"
    ) -> str | None:
        """Stores a generated object (a big export, an audit file) with a retention in `mode`; its version id."""
        until = datetime.now(UTC) + timedelta(days=retain_days)
        with s3_errors():
            result = aws.s3().put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                ChecksumAlgorithm="SHA256",
                ObjectLockMode=mode,  # type: ignore[arg-type]
                ObjectLockRetainUntilDate=until,
            )
        return result.get("VersionId")

    def lock(self, key: str, version_id: str | None, until: datetime) -> None:
        """Sets the object version's governance retention; the bypass lets a tenant's shorter period win."""
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "Retention": {"Mode": "GOVERNANCE", "RetainUntilDate": until},
            "BypassGovernanceRetention": True,
        }
        if version_id:
            params["VersionId"] = version_id
        with s3_errors():
            aws.s3().put_object_retention(**params)

    # --- deleting (governance bypass) --------------------------------------------------------------------

    def destroy(self, key: str, *, reason: str, version_id: str | None = None) -> int:
        """Deletes the key's every version and delete marker (or just `version_id`), locked or not. How many."""
        if version_id is not None:
            versions: list[ObjectIdentifierTypeDef] = [{"Key": key, "VersionId": version_id}]
            return self._delete(versions, reason)
        return self.destroy_prefix(key, reason=reason, exact=True)

    def destroy_prefix(self, prefix: str, *, reason: str, exact: bool = False) -> int:
        """Deletes every version of every object under `prefix` (or of exactly the key `prefix`)."""
        return sum(self._delete(versions, reason) for versions in self._version_pages(prefix, exact=exact))

    def count_versions(self, prefix: str) -> int:
        """How many object versions and delete markers are under `prefix` (a listing: no bypass needed)."""
        return sum(len(versions) for versions in self._version_pages(prefix, exact=False))

    def _version_pages(self, prefix: str, *, exact: bool) -> Iterator[list[ObjectIdentifierTypeDef]]:
        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        while True:
            with s3_errors():
                page = aws.s3().list_object_versions(**request)
            yield [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
                if not exact or v["Key"] == prefix
            ]
            if not page.get("IsTruncated"):
                return
            request["KeyMarker"] = page.get("NextKeyMarker")
            request["VersionIdMarker"] = page.get("NextVersionIdMarker")

    def _delete(self, versions: list[ObjectIdentifierTypeDef], reason: str) -> int:
        deleted = 0
        for start in range(0, len(versions), 1000):
            batch = versions[start : start + 1000]
            with s3_errors():
                result = aws.s3().delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": batch, "Quiet": True},
                    BypassGovernanceRetention=True,
                )
            errors = result.get("Errors", [])
            if errors:
                logger.warning("Evidence deletion incomplete", extra={"reason": reason, "failed": len(errors)})
                raise RetryableError("Some evidence objects could not be deleted; retry", code="deletion_incomplete")
            for version in batch:
                logger.info(
                    "Evidence object version deleted with governance bypass",
                    extra={"key": version["Key"], "version_id": version.get("VersionId"), "reason": reason},
                )
            deleted += len(batch)
        return deleted
