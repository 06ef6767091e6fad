//! The first administrator.

use berth_auth::secret::{self, Secret};
use berth_meta::identity::User;

use crate::{Identity, IdentityError, Result};

pub const ADMIN: &str = "admin";

impl Identity {
    /// Creates user `admin` if it does not exist: with `password`, or a generated one that is returned (to be
    /// shown once). With `access_key`, also makes sure that key exists for `admin`.
    pub async fn bootstrap_admin(
        &self,
        password: Option<&Secret>,
        access_key: Option<(&str, &Secret)>,
    ) -> Result<Option<Secret>> {
        let mut generated = None;
        if self.meta.get_user(ADMIN).await?.is_none() {
            let pass = match password {
                Some(p) => p.clone(),
                None => {
                    let p = secret::random_password(24);
                    generated = Some(p.clone());
                    p
                }
            };
            let hash =
                berth_auth::password::hash_password(pass.expose()).map_err(|e| IdentityError::Crypto(e.to_string()))?;
            let admin = User {
                id: berth_auth::secret::new_id(),
                name: ADMIN.into(),
                password_hash: Some(hash),
                is_admin: true,
                created_at: self.clock_now(),
            };
            match self.meta.create_user(&admin).await {
                // Another node bootstrapped first.
                Ok(()) | Err(berth_meta::MetaError::AlreadyExists(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if let Some((id, secret)) = access_key
            && self.meta.get_access_key(id).await?.is_none()
        {
            self.store_access_key(ADMIN, id, secret).await?;
        }
        Ok(generated)
    }
}
