//! For tests that read a rendered PDF back as a reader would: poppler's `pdftotext` and
//! `pdftoppm`, zbar's `zbarimg`. Where a tool is not installed such a check is skipped with a
//! note; `RATHAUS_TEST_REQUIRE_PDF_TOOLS=1` (set by `scripts/test.sh`, so in CI) makes a missing
//! tool a failure instead, so that the checks cannot quietly stop running.

use std::path::Path;
use std::process::Command;

/// The variable that turns a missing tool into a failure.
pub const REQUIRE_PDF_TOOLS: &str = "RATHAUS_TEST_REQUIRE_PDF_TOOLS";

/// A command for `tool` (`pdftotext`, `pdftoppm`, `zbarimg`) when it is on the `PATH`; `None`,
/// with a note on stderr, when it is not. Panics instead when `RATHAUS_TEST_REQUIRE_PDF_TOOLS=1`.
pub fn pdf_tool(tool: &str) -> Option<Command> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(tool))
            .find(|path| is_executable(path))
    });
    if let Some(path) = found {
        return Some(Command::new(path));
    }
    let package = match tool {
        "zbarimg" => "zbar-tools",
        _ => "poppler-utils",
    };
    if std::env::var(REQUIRE_PDF_TOOLS).as_deref() == Ok("1") {
        // Tests only: a required tool that is missing fails the test that needs it.
        #[allow(clippy::panic)]
        {
            panic!(
                "{REQUIRE_PDF_TOOLS}=1 but `{tool}` is not on the PATH (apt-get install {package})"
            );
        }
    }
    eprintln!(
        "NOTE: `{tool}` not found (apt-get install {package}); the check that needs it is skipped"
    );
    None
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}
