//! Every operation of ECR's API (botocore's `ecr` service model, API version 2015-09-21), and those berth
//! implements. An operation in [`ALL`] but not in [`IMPLEMENTED`] answers `UnsupportedOperationException`.
//!
//! The black-box test `ecr_operations_match_botocore` checks [`ALL`] against the installed botocore's model:
//! every operation it has must be here; operations here that it lacks must be in [`NEWER_THAN_BOTOCORE`]
//! (operations ECR added after the botocore release the tests run with).

pub const ALL: [&str; 62] = [
    "BatchCheckLayerAvailability",
    "BatchDeleteImage",
    "BatchGetImage",
    "BatchGetRepositoryScanningConfiguration",
    "CompleteLayerUpload",
    "CreatePullThroughCacheRule",
    "CreateRepository",
    "CreateRepositoryCreationTemplate",
    "DeleteLifecyclePolicy",
    "DeletePullThroughCacheRule",
    "DeleteRegistryPolicy",
    "DeleteRepository",
    "DeleteRepositoryCreationTemplate",
    "DeleteRepositoryPolicy",
    "DeleteSigningConfiguration",
    "DeregisterPullTimeUpdateExclusion",
    "DescribeImageReplicationStatus",
    "DescribeImageScanFindings",
    "DescribeImageSigningStatus",
    "DescribeImages",
    "DescribePullThroughCacheRules",
    "DescribeRegistry",
    "DescribeReplicationBackfillResults",
    "DescribeRepositories",
    "DescribeRepositoryCreationTemplates",
    "GetAccountSetting",
    "GetAuthorizationToken",
    "GetDownloadUrlForLayer",
    "GetLifecyclePolicy",
    "GetLifecyclePolicyPreview",
    "GetRegistryPolicy",
    "GetRegistryScanningConfiguration",
    "GetRepositoryPolicy",
    "GetSigningConfiguration",
    "InitiateLayerUpload",
    "ListImageReferrers",
    "ListImages",
    "ListPullTimeUpdateExclusions",
    "ListReplicationBackfills",
    "ListTagsForResource",
    "PutAccountSetting",
    "PutImage",
    "PutImageScanningConfiguration",
    "PutImageTagMutability",
    "PutLifecyclePolicy",
    "PutRegistryPolicy",
    "PutRegistryScanningConfiguration",
    "PutReplicationConfiguration",
    "PutSigningConfiguration",
    "RegisterPullTimeUpdateExclusion",
    "SetRepositoryPolicy",
    "StartImageScan",
    "StartLifecyclePolicyPreview",
    "StartReplicationBackfill",
    "StopReplicationBackfill",
    "TagResource",
    "UntagResource",
    "UpdateImageStorageClass",
    "UpdatePullThroughCacheRule",
    "UpdateRepositoryCreationTemplate",
    "UploadLayerPart",
    "ValidatePullThroughCacheRule",
];

/// Operations of [`ALL`] that ECR added after the botocore release berth's tests run with (botocore
/// 1.43): their names come from ECR's API reference. Once botocore models them, they leave this list.
pub const NEWER_THAN_BOTOCORE: &[&str] = &[
    "DescribeReplicationBackfillResults",
    "ListReplicationBackfills",
    "StartReplicationBackfill",
    "StopReplicationBackfill",
];

/// The operations `dispatch` implements (listed for the tests).
#[cfg(test)]
pub const IMPLEMENTED: &[&str] = &[
    "BatchCheckLayerAvailability",
    "BatchDeleteImage",
    "BatchGetImage",
    "BatchGetRepositoryScanningConfiguration",
    "CompleteLayerUpload",
    "CreateRepository",
    "CreateRepositoryCreationTemplate",
    "DeleteLifecyclePolicy",
    "DeleteRegistryPolicy",
    "DeleteRepository",
    "DeleteRepositoryCreationTemplate",
    "DeleteRepositoryPolicy",
    "DeleteSigningConfiguration",
    "DeregisterPullTimeUpdateExclusion",
    "DescribeImageScanFindings",
    "DescribeImageSigningStatus",
    "DescribeImages",
    "DescribeRegistry",
    "DescribeRepositories",
    "DescribeRepositoryCreationTemplates",
    "GetAccountSetting",
    "GetAuthorizationToken",
    "GetDownloadUrlForLayer",
    "GetLifecyclePolicy",
    "GetLifecyclePolicyPreview",
    "GetRegistryPolicy",
    "GetRegistryScanningConfiguration",
    "GetRepositoryPolicy",
    "GetSigningConfiguration",
    "InitiateLayerUpload",
    "ListImageReferrers",
    "ListImages",
    "ListPullTimeUpdateExclusions",
    "ListTagsForResource",
    "PutAccountSetting",
    "PutImage",
    "PutImageScanningConfiguration",
    "PutImageTagMutability",
    "PutLifecyclePolicy",
    "PutRegistryPolicy",
    "PutRegistryScanningConfiguration",
    "PutSigningConfiguration",
    "RegisterPullTimeUpdateExclusion",
    "SetRepositoryPolicy",
    "StartImageScan",
    "StartLifecyclePolicyPreview",
    "TagResource",
    "UntagResource",
    "UpdateRepositoryCreationTemplate",
    "UpdateImageStorageClass",
    "UploadLayerPart",
];

/// The berth feature an operation berth does not implement belongs to (named in its error).
pub fn feature_of(operation: &str) -> &'static str {
    let has = |words: &[&str]| words.iter().any(|w| operation.contains(w));
    if has(&["Replication"]) {
        "replication"
    } else if has(&["PullThroughCache"]) {
        "pull-through caching"
    } else {
        "this operation"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unimplemented_operation_names_its_feature() {
        for op in ALL.iter().filter(|op| !IMPLEMENTED.contains(op)) {
            assert_ne!(feature_of(op), "this operation", "{op} needs a feature name");
        }
    }
}
