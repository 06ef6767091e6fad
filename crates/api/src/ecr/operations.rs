//! Every operation of ECR's API (botocore's `ecr` service model, API version 2015-09-21), and those berth
//! implements. An operation in [`ALL`] but not in [`IMPLEMENTED`] answers `UnsupportedOperationException`.

pub const ALL: [&str; 58] = [
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
    "PutReplicationConfiguration",
    "PutSigningConfiguration",
    "RegisterPullTimeUpdateExclusion",
    "SetRepositoryPolicy",
    "StartImageScan",
    "StartLifecyclePolicyPreview",
    "TagResource",
    "UntagResource",
    "UpdateImageStorageClass",
    "UpdatePullThroughCacheRule",
    "UpdateRepositoryCreationTemplate",
    "UploadLayerPart",
    "ValidatePullThroughCacheRule",
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
    "DeleteRegistryPolicy",
    "DeleteRepository",
    "DeleteRepositoryPolicy",
    "DescribeImageScanFindings",
    "DescribeImages",
    "DescribeRegistry",
    "DescribeRepositories",
    "GetAccountSetting",
    "GetAuthorizationToken",
    "GetDownloadUrlForLayer",
    "GetRegistryPolicy",
    "GetRegistryScanningConfiguration",
    "GetRepositoryPolicy",
    "InitiateLayerUpload",
    "ListImageReferrers",
    "ListImages",
    "ListTagsForResource",
    "PutAccountSetting",
    "PutImage",
    "PutImageScanningConfiguration",
    "PutImageTagMutability",
    "PutRegistryPolicy",
    "PutRegistryScanningConfiguration",
    "SetRepositoryPolicy",
    "StartImageScan",
    "TagResource",
    "UntagResource",
    "UploadLayerPart",
];

/// The berth feature an operation berth does not implement belongs to (named in its error).
pub fn feature_of(operation: &str) -> &'static str {
    let has = |words: &[&str]| words.iter().any(|w| operation.contains(w));
    if has(&["Lifecycle"]) {
        "lifecycle policies"
    } else if has(&["Replication"]) {
        "replication"
    } else if has(&["PullThroughCache", "PullTimeUpdateExclusion"]) {
        "pull-through caching"
    } else if has(&["CreationTemplate"]) {
        "repository creation templates"
    } else if has(&["Signing"]) {
        "image signing"
    } else if has(&["StorageClass"]) {
        "archival storage classes"
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
