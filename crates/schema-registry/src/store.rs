//! [`SchemaStore`]: the minimal object-store contract the registry is written against, with
//! an in-memory and a local-filesystem implementation (S3 is in [`crate::s3`]).
//!
//! Four operations, all on keys relative to the store's root (`schemas/abc123f/manifest.json`):
//! get, create-if-absent, compare-and-swap replace, and paginated listing. There is no delete:
//! nothing the registry writes is ever removed.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

/// An object and the tag that identifies this exact version of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Contents.
    pub bytes: Vec<u8>,
    /// Opaque version tag (an ETag on S3), for [`SchemaStore::put_if_match`].
    pub etag: Etag,
}

/// Opaque version tag of an object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Etag(pub String);

/// One page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    /// Keys under the prefix, sorted.
    pub keys: Vec<String>,
    /// Pass to the next call to continue; `None` on the last page.
    pub next: Option<String>,
}

/// What went wrong in a store call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// `put_if_absent` on a key that exists.
    #[error("`{key}` already exists")]
    AlreadyExists {
        /// The key.
        key: String,
    },
    /// `put_if_match` with a stale tag: someone changed the object in between.
    #[error("`{key}` changed since it was read")]
    PreconditionFailed {
        /// The key.
        key: String,
    },
    /// `put_if_match` on a key that does not exist.
    #[error("`{key}` does not exist")]
    NotFound {
        /// The key.
        key: String,
    },
    /// Another conditional write on the key is in flight (S3's 409); try again.
    #[error("a concurrent write to `{key}` is in progress")]
    Conflict {
        /// The key.
        key: String,
    },
    /// The backend failed (network, permissions, disk).
    #[error("{operation} `{key}` failed")]
    Backend {
        /// `get`, `put`, `list`.
        operation: &'static str,
        /// The key or prefix.
        key: String,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    /// A backend failure of `operation` on `key` (for stores outside this crate too).
    pub fn backend(
        operation: &'static str,
        key: &str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Backend { operation, key: key.to_owned(), source: source.into() }
    }
}

/// Results of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// The object-store contract. Implementations: [`MemoryStore`], [`LocalStore`],
/// [`crate::s3::S3Store`]; one conformance suite runs against all three.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait SchemaStore: Send + Sync + fmt::Debug {
    /// The object at `key`, or `None`.
    async fn get(&self, key: &str) -> StoreResult<Option<Object>>;
    /// Creates `key`; [`StoreError::AlreadyExists`] if it exists (the first body is kept).
    async fn put_if_absent(&self, key: &str, bytes: Vec<u8>) -> StoreResult<Etag>;
    /// Replaces `key` if its tag is still `etag`; [`StoreError::PreconditionFailed`]
    /// otherwise, [`StoreError::NotFound`] if it does not exist.
    async fn put_if_match(&self, key: &str, bytes: Vec<u8>, etag: &Etag) -> StoreResult<Etag>;
    /// Keys starting with `prefix`, sorted, one page at a time (`after` is the previous
    /// page's `next`).
    async fn list(&self, prefix: &str, after: Option<String>) -> StoreResult<ListPage>;
    /// Where the store is, for messages (`s3://bucket/prefix`, `file:///path`).
    fn location(&self) -> String;
}

/// Every key under `prefix`, all pages.
pub async fn list_all(store: &dyn SchemaStore, prefix: &str) -> StoreResult<Vec<String>> {
    let mut keys = Vec::new();
    let mut after = None;
    loop {
        let page = store.list(prefix, after).await?;
        keys.extend(page.keys);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(keys),
        }
    }
}

/// Page size of the in-memory and local stores (S3's own is 1000).
const PAGE: usize = 1000;

/// A store in memory, for tests and dry runs.
#[derive(Debug, Default)]
pub struct MemoryStore {
    objects: Mutex<BTreeMap<String, (Vec<u8>, u64)>>,
    generation: std::sync::atomic::AtomicU64,
    page_size: Option<usize>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store whose listings return `page_size` keys per page (to test paging).
    pub fn with_page_size(page_size: usize) -> Self {
        Self { page_size: Some(page_size.max(1)), ..Self::default() }
    }

    fn next_tag(&self) -> u64 {
        self.generation.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
    }

    /// Overwrites an object without any check: only for tests that simulate tampering.
    pub fn tamper(&self, key: &str, bytes: Vec<u8>) {
        let tag = self.next_tag();
        self.objects.lock().expect("store lock").insert(key.to_owned(), (bytes, tag));
    }
}

#[async_trait]
impl SchemaStore for MemoryStore {
    async fn get(&self, key: &str) -> StoreResult<Option<Object>> {
        let objects = self.objects.lock().expect("store lock");
        Ok(objects.get(key).map(|(bytes, tag)| Object { bytes: bytes.clone(), etag: Etag(tag.to_string()) }))
    }

    async fn put_if_absent(&self, key: &str, bytes: Vec<u8>) -> StoreResult<Etag> {
        let tag = self.next_tag();
        let mut objects = self.objects.lock().expect("store lock");
        if objects.contains_key(key) {
            return Err(StoreError::AlreadyExists { key: key.to_owned() });
        }
        objects.insert(key.to_owned(), (bytes, tag));
        Ok(Etag(tag.to_string()))
    }

    async fn put_if_match(&self, key: &str, bytes: Vec<u8>, etag: &Etag) -> StoreResult<Etag> {
        let tag = self.next_tag();
        let mut objects = self.objects.lock().expect("store lock");
        match objects.get_mut(key) {
            None => Err(StoreError::NotFound { key: key.to_owned() }),
            Some((_, current)) if current.to_string() != etag.0 => {
                Err(StoreError::PreconditionFailed { key: key.to_owned() })
            }
            Some(entry) => {
                *entry = (bytes, tag);
                Ok(Etag(tag.to_string()))
            }
        }
    }

    async fn list(&self, prefix: &str, after: Option<String>) -> StoreResult<ListPage> {
        let objects = self.objects.lock().expect("store lock");
        let keys = objects
            .range(prefix.to_owned()..)
            .map(|(key, _)| key)
            .take_while(|key| key.starts_with(prefix))
            .filter(|key| after.as_ref().is_none_or(|after| *key > after))
            .cloned();
        Ok(page(keys, self.page_size.unwrap_or(PAGE)))
    }

    fn location(&self) -> String {
        "memory://".to_owned()
    }
}

fn page(keys: impl Iterator<Item = String>, size: usize) -> ListPage {
    let mut keys: Vec<String> = keys.take(size + 1).collect();
    let next = if keys.len() > size {
        keys.truncate(size);
        keys.last().cloned()
    } else {
        None
    };
    ListPage { keys, next }
}

/// A store in a local directory: the default registry (`file://.registry`).
///
/// Creation writes a temporary file and hard-links it to its name, which fails if the name
/// exists: a reader never sees half a file and two processes cannot both create it. A
/// replace holds an exclusive lock on a sidecar file while it compares the tag (the sha256
/// of the contents) and renames a temporary file over the object. Temporary and lock files
/// start with `.` and never appear in listings. Calls do blocking file I/O on the calling
/// task: registry objects are small, and a lock is held only for one compare and rename.
///
/// The store is confined to its directory: a symbolic link anywhere below the root (a
/// directory, a file, a lock) is refused, never followed. Files are written 0644 and
/// directories 0755 whatever the umask (0600 and 0700 with [`LocalStore::private`]).
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
    private: bool,
}

impl LocalStore {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into(), private: false }
    }

    /// Files and directories readable by their owner only (0600 / 0700).
    #[must_use]
    pub fn private(mut self, private: bool) -> Self {
        self.private = private;
        self
    }

    fn modes(&self) -> (u32, u32) {
        if self.private { (0o600, 0o700) } else { (0o644, 0o755) }
    }

    /// Refuses `path` when it, or a directory between the root and it, is a symbolic link.
    fn confined(&self, key: &str, path: &Path) -> StoreResult<()> {
        let relative = path.strip_prefix(&self.root).unwrap_or(path);
        let mut current = self.root.clone();
        for component in relative.components() {
            current.push(component);
            match std::fs::symlink_metadata(&current) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(StoreError::backend(
                        "resolve",
                        key,
                        format!(
                            "{} is a symbolic link: the registry never follows links inside it (replace it with a real file or directory)",
                            current.display()
                        ),
                    ));
                }
                Ok(_) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(err) => return Err(StoreError::backend("resolve", key, err)),
            }
        }
        Ok(())
    }

    /// Creates the root (when missing) and the directories below it down to `dir`, each
    /// with the store's mode.
    fn make_dirs(&self, dir: &Path) -> std::io::Result<()> {
        let mode = self.modes().1;
        if !self.root.exists() {
            std::fs::create_dir_all(&self.root)?;
            set_mode(&self.root, mode)?;
        }
        let mut current = self.root.clone();
        for component in dir.strip_prefix(&self.root).unwrap_or(Path::new("")).components() {
            current.push(component);
            match std::fs::create_dir(&current) {
                Ok(()) => set_mode(&current, mode)?,
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    fn path(&self, key: &str) -> StoreResult<PathBuf> {
        let valid = !key.is_empty()
            && key.split('/').all(|part| !part.is_empty() && !part.starts_with('.') && part != "..");
        if !valid {
            return Err(StoreError::backend("resolve", key, "keys are relative paths without `.`-names"));
        }
        let path = self.root.join(key);
        self.confined(key, &path)?;
        Ok(path)
    }

    fn temporary(path: &Path) -> PathBuf {
        let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let unique = format!(
            ".{name}.tmp-{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        path.with_file_name(unique)
    }

    fn write_temporary(&self, path: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
        if let Some(parent) = path.parent() {
            self.make_dirs(parent)?;
        }
        let temporary = Self::temporary(path);
        // create_new (O_EXCL) never follows a link at that name.
        let mut file = std::fs::File::create_new(&temporary)?;
        set_file_mode(&file, self.modes().0)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        Ok(temporary)
    }
}

/// chmod, which the umask does not narrow.
#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn set_file_mode(file: &std::fs::File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_file_mode(_: &std::fs::File, _: u32) -> std::io::Result<()> {
    Ok(())
}

/// Opens (creating) a lock file without following a link at its name.
fn open_lock(path: &Path, mode: u32) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NOFOLLOW).mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path)
}

/// Makes a new directory entry (a link or a rename) durable: without it, a crash after the
/// call returns can lose the entry although the file's bytes were synced.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(parent) => std::fs::File::open(parent)?.sync_all(),
        None => Ok(()),
    }
}

static TEMP_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn tag_of(bytes: &[u8]) -> Etag {
    Etag(hex::encode(Sha256::digest(bytes)))
}

#[async_trait]
impl SchemaStore for LocalStore {
    async fn get(&self, key: &str) -> StoreResult<Option<Object>> {
        let path = self.path(key)?;
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(Object { etag: tag_of(&bytes), bytes })),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(StoreError::backend("get", key, err)),
        }
    }

    async fn put_if_absent(&self, key: &str, bytes: Vec<u8>) -> StoreResult<Etag> {
        let path = self.path(key)?;
        let temporary =
            self.write_temporary(&path, &bytes).map_err(|err| StoreError::backend("put", key, err))?;
        let linked = std::fs::hard_link(&temporary, &path);
        let _ = std::fs::remove_file(&temporary);
        match linked {
            Ok(()) => {
                sync_parent(&path).map_err(|err| StoreError::backend("put", key, err))?;
                Ok(tag_of(&bytes))
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(StoreError::AlreadyExists { key: key.to_owned() })
            }
            Err(err) => Err(StoreError::backend("put", key, err)),
        }
    }

    async fn put_if_match(&self, key: &str, bytes: Vec<u8>, etag: &Etag) -> StoreResult<Etag> {
        let path = self.path(key)?;
        let failed = |err| StoreError::backend("put", key, err);
        let lock_path = path.with_file_name(format!(
            ".{}.lock",
            path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default()
        ));
        if let Some(parent) = path.parent() {
            self.make_dirs(parent).map_err(failed)?;
        }
        self.confined(key, &lock_path)?;
        let lock = open_lock(&lock_path, self.modes().0).map_err(failed)?;
        lock.lock().map_err(failed)?;
        let current = match std::fs::read(&path) {
            Ok(current) => current,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound { key: key.to_owned() });
            }
            Err(err) => return Err(failed(err)),
        };
        if tag_of(&current) != *etag {
            return Err(StoreError::PreconditionFailed { key: key.to_owned() });
        }
        let temporary = self.write_temporary(&path, &bytes).map_err(failed)?;
        std::fs::rename(&temporary, &path).map_err(|err| {
            let _ = std::fs::remove_file(&temporary);
            failed(err)
        })?;
        sync_parent(&path).map_err(failed)?;
        // The lock is released when `lock` is dropped.
        Ok(tag_of(&bytes))
    }

    async fn list(&self, prefix: &str, after: Option<String>) -> StoreResult<ListPage> {
        if !self.root.exists() {
            return Ok(ListPage::default());
        }
        let mut keys = Vec::new();
        for entry in walkdir::WalkDir::new(&self.root)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|entry| entry.depth() == 0 || !entry.file_name().to_string_lossy().starts_with('.'))
        {
            let entry = entry.map_err(|err| StoreError::backend("list", prefix, err))?;
            if !entry.file_type().is_file() {
                continue;
            }
            let relative = entry.path().strip_prefix(&self.root).unwrap_or(entry.path());
            let key = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            if key.starts_with(prefix) && after.as_ref().is_none_or(|after| key > *after) {
                keys.push(key);
            }
        }
        keys.sort();
        Ok(page(keys.into_iter(), PAGE))
    }

    fn location(&self) -> String {
        format!("file://{}", self.root.display())
    }
}
