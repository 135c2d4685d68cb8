//! Files the platform writes outside its database: notices for the print shop, the treasury's
//! exports, keys and audit checkpoints. Those with personal data or secrets are readable by their
//! owner only; those that others pick up appear under their name only once complete.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::AppError;

/// Creates (or empties) a file readable by its owner only.
pub(crate) fn create_private(path: &Path) -> Result<std::fs::File, AppError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .map_err(|e| AppError::BadInput(format!("cannot write {}: {e}", path.display())))
}

/// `path` with `.part` appended: the name a file is written under until it is complete.
pub(crate) fn part_name(path: &Path) -> PathBuf {
    let mut part = path.as_os_str().to_owned();
    part.push(".part");
    PathBuf::from(part)
}

/// Writes `bytes` into a private file under its `.part` name and then gives it its name, so a
/// file with the name is always complete. `durable`: on disk (file and directory entry) before
/// this returns.
pub(crate) fn write_complete(path: &Path, bytes: &[u8], durable: bool) -> Result<(), AppError> {
    let unavailable =
        |e: std::io::Error| AppError::Unavailable(format!("cannot write {}: {e}", path.display()));
    let part = part_name(path);
    let mut file = create_private(&part)?;
    file.write_all(bytes).map_err(unavailable)?;
    if durable {
        file.sync_all().map_err(unavailable)?;
    }
    std::fs::rename(&part, path)
        .map_err(|e| AppError::Unavailable(format!("cannot rename to {}: {e}", path.display())))?;
    if durable
        && let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes a file that did not exist before (never overwrites), readable by the owner only, and
/// makes it durable: for keys. `what` names it in errors.
pub(crate) fn write_new_secret_file(
    path: &Path,
    contents: &str,
    what: &str,
) -> Result<(), AppError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| AppError::Key(format!("cannot create the {what} {}: {e}", path.display())))?;
    file.write_all(contents.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| AppError::Key(format!("cannot write the {what} {}: {e}", path.display())))
}
