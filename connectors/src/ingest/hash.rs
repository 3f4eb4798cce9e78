//! The SHA-256 of the file being loaded, computed beside the load.

use super::IngestError;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use taskifai_engine::Error;

/// The SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// The hash on a blocking thread, then its result.
pub(super) enum Hashing {
    Running(tokio::task::JoinHandle<std::io::Result<String>>),
    Done(String),
}

impl Hashing {
    pub(super) fn start(path: PathBuf) -> Self {
        Self::Running(tokio::task::spawn_blocking(move || sha256_file(&path)))
    }

    pub(super) async fn wait(&mut self, file: &str) -> Result<&str, IngestError> {
        if let Self::Running(task) = self {
            let sha = task
                .await
                .map_err(|e| Error::Internal(e.to_string()))?
                .map_err(|e| IngestError::Io(file.to_owned(), e))?;
            *self = Self::Done(sha);
        }
        Ok(self.known().expect("done"))
    }

    pub(super) fn ready(&self) -> bool {
        match self {
            Self::Running(task) => task.is_finished(),
            Self::Done(_) => true,
        }
    }

    pub(super) fn known(&self) -> Option<&str> {
        match self {
            Self::Running(_) => None,
            Self::Done(sha) => Some(sha),
        }
    }
}
