//! Users of a workspace beyond its first admin: an operator adds them (`longrun admin user
//! add`), with the checks sign-up applies to the email and the password.

use longrun_store::{Store, StoreError, User, Workspace};

use crate::auth::Role;
use crate::error::ApiError;
use crate::passwords::{self, MAX_PASSWORD_LEN, MIN_PASSWORD_LEN};
use crate::routes::auth::normalise_email;

/// Adds a user with `role` to `workspace`; they sign in with `email` and `password` (the API's
/// login, or the console).
pub async fn add_user(
    store: &Store,
    workspace: &Workspace,
    email: &str,
    password: &str,
    role: Role,
) -> Result<User, ApiError> {
    let email = normalise_email(email)?;
    if password.chars().count() < MIN_PASSWORD_LEN || password.len() > MAX_PASSWORD_LEN {
        return Err(ApiError::invalid(
            "password",
            format!("{MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters"),
        ));
    }
    let password = password.to_string();
    let hash = tokio::task::spawn_blocking(move || passwords::hash(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    store
        .add_user(&workspace.id, &email, &hash, role.as_str())
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ApiError::Conflict {
                code: "user_exists",
                message: format!("{email} already has an account in this workspace"),
            },
            StoreError::LimitReached { limit, .. } => ApiError::Conflict {
                code: "email_limit",
                message: format!("an email may own at most {limit} workspaces' accounts"),
            },
            other => other.into(),
        })
}
