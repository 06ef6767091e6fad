//! ARNs: how berth names principals and resources in policies, the way ECR and IAM do.

use berth_oci::RepositoryName;

/// The account and region berth presents itself as (configurable so existing policies carry over).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// 12-digit account id.
    pub id: String,
    pub region: String,
}

impl Account {
    /// `arn:aws:ecr:REGION:ACCOUNT:repository/NAME`
    pub fn repository_arn(&self, repo: &RepositoryName) -> String {
        format!("arn:aws:ecr:{}:{}:repository/{}", self.region, self.id, repo)
    }

    /// The resource of registry-wide actions (the catalog, registry policy, account settings).
    pub fn registry_arn(&self) -> String {
        format!("arn:aws:ecr:{}:{}:registry", self.region, self.id)
    }

    /// `arn:aws:iam::ACCOUNT:user/NAME`
    pub fn user_arn(&self, user: &str) -> String {
        format!("arn:aws:iam::{}:user/{}", self.id, user)
    }

    /// `arn:aws:iam::ACCOUNT:role/robot/NAME`: a robot token, as pull time update exclusions name it.
    pub fn robot_arn(&self, robot: &str) -> String {
        format!("arn:aws:iam::{}:role/robot/{}", self.id, robot)
    }

    /// `arn:aws:iam::ACCOUNT:group/NAME`
    pub fn group_arn(&self, group: &str) -> String {
        format!("arn:aws:iam::{}:group/{}", self.id, group)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns() {
        let a = Account { id: "123456789012".into(), region: "us-east-1".into() };
        assert_eq!(
            a.repository_arn(&"team/app".parse().unwrap()),
            "arn:aws:ecr:us-east-1:123456789012:repository/team/app"
        );
        assert_eq!(a.user_arn("alice"), "arn:aws:iam::123456789012:user/alice");
    }
}
