//! Reading forms that may carry files: each file goes straight from the request into a temporary
//! file in the data directory, never whole into memory.
//!
//! A request that brings a file needs one of the node's upload slots (`uploads_in_flight`) for as
//! long as it runs, and each file takes one of the client's upload tokens. A refusal stops reading
//! at once; files staged so far are deleted when the refused form is dropped, so nothing stays.

use std::net::IpAddr;
use std::time::Duration;

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};
use rathaus_app::uploads::{StagedFile, StagingFile};
use rathaus_domain::service::FormInput;
use tokio::sync::OwnedSemaphorePermit;

use crate::AppState;
use crate::ratelimit::Class;

/// A posted form: its text fields, and the files it carried, staged on disk.
pub(crate) struct UploadForm {
    pub input: FormInput,
    pub files: Vec<StagedFile>,
    /// The upload slot, released when the form (and with it every staged file) is dropped.
    _slot: Option<OwnedSemaphorePermit>,
}

/// Why a form with files was not read to the end.
#[derive(Debug)]
pub(crate) enum UploadRefusal {
    /// The request itself is broken or too large.
    Status(StatusCode),
    /// Every upload slot of the node is taken.
    Busy,
    /// This client has uploaded too much lately; the next token comes after the wait.
    TooMany(Duration),
    /// Writing the temporary file failed (disk full?).
    Failed(std::io::Error),
}

/// Reads a urlencoded or multipart form; files are staged as they arrive.
pub(crate) async fn read_upload_form(
    state: &AppState,
    client: Option<IpAddr>,
    request: Request,
) -> Result<UploadForm, UploadRefusal> {
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    // Only files may be large: text, in a plain form or beside the files, stays within the
    // limit of every other form (the route's larger limit exists for the files alone).
    let text_limit = state.web.max_body_bytes;
    if !is_multipart {
        let too_large = |_| UploadRefusal::Status(StatusCode::PAYLOAD_TOO_LARGE);
        let bytes = axum::body::to_bytes(request.into_body(), text_limit)
            .await
            .map_err(too_large)?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| UploadRefusal::Status(StatusCode::BAD_REQUEST))?;
        return Ok(UploadForm {
            input: FormInput::new(pairs),
            files: Vec::new(),
            _slot: None,
        });
    }
    let mut text_left = text_limit;
    let status = |e: axum::extract::multipart::MultipartError| UploadRefusal::Status(e.status());
    let mut mp = Multipart::from_request(request, &())
        .await
        .map_err(|e| UploadRefusal::Status(e.status()))?;
    let mut slot = None;
    let mut pairs = Vec::new();
    let mut files = Vec::new();
    while let Some(mut field) = mp.next_field().await.map_err(status)? {
        let name = field.name().unwrap_or("").to_owned();
        let Some(file_name) = field.file_name().map(str::to_owned) else {
            let mut text = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(status)? {
                text_left = text_left
                    .checked_sub(chunk.len())
                    .ok_or(UploadRefusal::Status(StatusCode::PAYLOAD_TOO_LARGE))?;
                text.extend_from_slice(&chunk);
            }
            let text = String::from_utf8(text)
                .map_err(|_| UploadRefusal::Status(StatusCode::BAD_REQUEST))?;
            pairs.push((name, text));
            continue;
        };
        // An empty file input is sent with neither name nor content: no file, no slot taken.
        let mut staging: Option<StagingFile> = None;
        if !file_name.is_empty() {
            admit(state, client, &mut slot)?;
            staging = Some(stage(state, &name, &file_name).await?);
        }
        while let Some(chunk) = field.chunk().await.map_err(status)? {
            if chunk.is_empty() {
                continue;
            }
            let file = match &mut staging {
                Some(f) => f,
                None => {
                    admit(state, client, &mut slot)?;
                    staging.insert(stage(state, &name, &file_name).await?)
                }
            };
            file.write(&chunk).await.map_err(UploadRefusal::Failed)?;
        }
        if let Some(file) = staging {
            files.push(file.finish().await.map_err(UploadRefusal::Failed)?);
        }
    }
    Ok(UploadForm {
        input: FormInput::new(pairs),
        files,
        _slot: slot,
    })
}

/// One more file from this request: a slot for the request (first file only) and a token of
/// the client's upload budget.
fn admit(
    state: &AppState,
    client: Option<IpAddr>,
    slot: &mut Option<OwnedSemaphorePermit>,
) -> Result<(), UploadRefusal> {
    if slot.is_none() {
        *slot = Some(state.limits.upload_slot().ok_or(UploadRefusal::Busy)?);
    }
    state
        .limits
        .check(Class::Upload, client)
        .map_err(UploadRefusal::TooMany)
}

async fn stage(
    state: &AppState,
    field: &str,
    file_name: &str,
) -> Result<StagingFile, UploadRefusal> {
    state
        .app
        .stage_upload(field, file_name)
        .await
        .map_err(UploadRefusal::Failed)
}
