use rathaus_store::StoreError;

/// Errors of use cases, sorted by what the caller should do about them.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input is wrong; the message says what and where. Nothing was changed.
    #[error("{0}")]
    BadInput(String),
    /// The named thing does not exist (or is not visible to the caller).
    #[error("{0}")]
    NotFound(String),
    /// The signed-in person's role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// The change collides with another one; the caller may reload and retry.
    #[error("{0}")]
    Conflict(String),
    /// A dependency (database, key file) is not usable; nothing was changed.
    #[error("{0}")]
    Unavailable(String),
    /// Too much work at once: refused before anything was changed; the caller may retry after
    /// a moment (HTTP 503 with `Retry-After`).
    #[error("the service is busy; please retry in a moment")]
    Overloaded,
    /// Refusing to run with a key that does not fit the data.
    #[error("{0}")]
    Key(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// Process exit code for the CLI: 2 for bad input and unknown objects, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            AppError::BadInput(_) | AppError::NotFound(_) => 2,
            _ => 1,
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => AppError::Unavailable(m),
            StoreError::Overloaded => AppError::Overloaded,
            StoreError::Conflict(m) => AppError::Conflict(m),
            StoreError::NotFound => AppError::NotFound("not found".into()),
            StoreError::Key(m) => AppError::Key(m),
            StoreError::Migration(m) => AppError::Unavailable(m),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<rathaus_crypto::CryptoError> for AppError {
    fn from(e: rathaus_crypto::CryptoError) -> Self {
        AppError::Internal(e.to_string())
    }
}
