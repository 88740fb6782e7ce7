//! Users of a workspace beyond its first admin: an operator adds them (`longrun admin user
//! add`), with the checks sign-up applies to the email and the password.

use longrun_store::{Store, User, Workspace};

use crate::auth::Role;
use crate::error::ApiError;
use crate::routes::auth::{EMAIL_LIMIT, new_password_hash, normalise_email};

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
    let hash = new_password_hash(password.to_string()).await?;
    store
        .add_user(&workspace.id, &email, &hash, role.as_str())
        .await
        .map_err(|e| {
            let taken = format!("{email} already has an account in this workspace");
            ApiError::creation(e, ("user_exists", taken), EMAIL_LIMIT)
        })
}
