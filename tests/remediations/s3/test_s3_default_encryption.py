from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.errors import ConfigurationError, InvalidKey, VerifyFailed
from tests.helpers import default_encryption

KEY = "ServerSideEncryptionConfiguration"



@pytest.mark.parametrize("how", ["alias", "arn", "id", "alias_arn"])
def test_encrypts_with_the_customer_key_however_it_is_named(
        s3: Any, build: Any, kms_key: str, how: str) -> None:
    s3.create_bucket(Bucket="plain")
    key_id = kms_key.split("/")[-1]
    name = {"alias": "alias/phi-data", "arn": kms_key, "id": key_id,
            "alias_arn": "arn:aws:kms:us-east-1:123456789012:alias/phi-data"}[how]
    rem = build("s3_default_encryption", "plain", env_key=name)
    plan = rem.plan()
    rem.apply(plan)
    rem.verify(plan)
    rule = default_encryption(s3, "plain")["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms",
                                                          "KMSMasterKeyID": kms_key}
    assert rule["BucketKeyEnabled"] is True


def test_policy_parameter_overrides_the_environment_key(s3: Any, build: Any,
                                                        kms_key: str) -> None:
    s3.create_bucket(Bucket="plain")
    rem = build("s3_default_encryption", "plain", env_key="alias/nope",
                kms_key="alias/phi-data")
    assert rem.plan().after[KEY]["Rules"][0]["ApplyServerSideEncryptionByDefault"][
        "KMSMasterKeyID"] == kms_key


def test_aes256_is_replaced_and_rolled_back_exactly(s3: Any, build: Any, kms_key: str) -> None:
    s3.create_bucket(Bucket="aes")
    aes = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                      "BucketKeyEnabled": False}]}
    s3.put_bucket_encryption(Bucket="aes", ServerSideEncryptionConfiguration=aes)
    rem = build("s3_default_encryption", "aes", env_key="alias/phi-data")
    plan = rem.plan()
    rem.apply(plan)
    assert default_encryption(s3, "aes")["Rules"][0]["ApplyServerSideEncryptionByDefault"][
        "SSEAlgorithm"] == "aws:kms"
    rem.rollback(plan)
    assert default_encryption(s3, "aes")["Rules"][0]["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"}


def test_rollback_of_unencrypted_bucket_deletes_the_configuration(
        s3: Any, build: Any, kms_key: str) -> None:
    s3.create_bucket(Bucket="plain")
    rem = build("s3_default_encryption", "plain", env_key=kms_key)
    plan = rem.plan()
    rem.apply(plan)
    rem.rollback(plan)
    assert default_encryption(s3, "plain") is None


def test_kms_bucket_with_named_key_is_left_alone(s3: Any, build: Any, kms_key: str) -> None:
    s3.create_bucket(Bucket="kms-bucket")
    s3.put_bucket_encryption(Bucket="kms-bucket", ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                               "KMSMasterKeyID": "arn:aws:kms:us-east-1:"
                                               "123456789012:key/other"}}]})
    assert build("s3_default_encryption", "kms-bucket", env_key=kms_key).plan().is_noop


def test_missing_key_setting_fails_with_the_reason(s3: Any, build: Any) -> None:
    s3.create_bucket(Bucket="plain")
    with pytest.raises(ConfigurationError, match="REMEDIATION_KMS_KEY"):
        build("s3_default_encryption", "plain").plan()
    assert default_encryption(s3, "plain") is None


def test_unknown_key_fails(s3: Any, build: Any, kms_key: str) -> None:
    s3.create_bucket(Bucket="plain")
    with pytest.raises(InvalidKey, match="NotFoundException"):
        build("s3_default_encryption", "plain", env_key="alias/does-not-exist").plan()


def test_disabled_key_fails(s3: Any, build: Any, kms_key: str) -> None:
    boto3.client("kms", region_name="us-east-1").disable_key(KeyId=kms_key.split("/")[-1])
    s3.create_bucket(Bucket="plain")
    with pytest.raises(InvalidKey, match="Disabled"):
        build("s3_default_encryption", "plain", env_key=kms_key).plan()
    assert default_encryption(s3, "plain") is None


def test_asymmetric_key_fails(s3: Any, build: Any, aws: None) -> None:
    kms = boto3.client("kms", region_name="us-east-1")
    arn = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket="plain")
    with pytest.raises(InvalidKey, match="not a symmetric key"):
        build("s3_default_encryption", "plain", env_key=arn).plan()


def test_key_in_another_region_fails(s3: Any, build: Any, aws: None) -> None:
    arn = boto3.client("kms", region_name="eu-west-1").create_key()["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket="plain")
    with pytest.raises(InvalidKey):
        build("s3_default_encryption", "plain", env_key=arn).plan()


def test_verify_reports_a_change_that_did_not_stick(s3: Any, build: Any, kms_key: str) -> None:
    s3.create_bucket(Bucket="plain")
    rem = build("s3_default_encryption", "plain", env_key=kms_key)
    plan = rem.plan()
    rem.apply(plan)
    s3.delete_bucket_encryption(Bucket="plain")
    with pytest.raises(VerifyFailed):
        rem.verify(plan)
