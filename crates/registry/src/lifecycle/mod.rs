//! Lifecycle policies as ECR defines them: the document ([`policy`]: parsed and validated), the evaluator
//! ([`evaluate`]: pure, time passed in), the use cases that store policies, preview them and run them
//! ([`run`]), and the jobs that run them daily and on demand ([`jobs`]).

pub mod evaluate;
pub mod jobs;
pub mod policy;
mod run;
#[cfg(test)]
mod tests;

pub use evaluate::{Candidate, Verdict, evaluate};
pub use jobs::{LIFECYCLE_JOB, LifecyclePayload, LifecycleSchedule, PREVIEW_JOB, PreviewHandler, lifecycle_job};
pub use policy::{Action, LifecyclePolicy, PolicyError, StorageClass};
pub(crate) use run::valid as validate_policy;
pub use run::{Expiry, LifecycleRun, Preview, PreviewStatus, PreviewedImage, Transition};
