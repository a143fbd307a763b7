//! The versioned registry, written once above [`SchemaStore`]: immutable versions and
//! channels moved by compare-and-swap with their history. Deploy locks and the deploy
//! history are `deploy-core`'s ledger, kept in the same store.
//!
//! Layout (keys under the store's root):
//!
//! ```text
//! schemas/<version>/content.sha256     the claim: digest of every file, written first
//! schemas/<version>/descriptor.binpb   FileDescriptorSet, imports included
//! schemas/<version>/sources/<name>     the .proto files as compiled
//! schemas/<version>/dimensions.json
//! schemas/<version>/manifest.json      written last: a version exists once this does
//! schemas/<channel>/channel.json       pointer: version, previous, sequence (CAS-updated)
//! history/channels/<channel>/<seq>.json  every pointer a channel has had (append-only)
//! ```
//!
//! Publishing first claims the version with the digest of its content (a conditional
//! create): of two publishers with different content, exactly one claims it and the other
//! is refused before writing anything. A publisher that dies half-way leaves no manifest, so
//! no visible version, and a retry with the same content completes it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::store::{Etag, SchemaStore, StoreError, list_all};
use crate::version::{Channel, PREVIOUS, Version};
use crate::{Error, Result};

const MANIFEST: &str = "manifest.json";
const CLAIM: &str = "content.sha256";
const POINTER: &str = "channel.json";
/// Manifest format written by this version.
pub const MANIFEST_FORMAT: u32 = 1;

/// What a version holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// Full name of the record's message type.
    pub message_type: String,
    /// The encoded FileDescriptorSet.
    pub descriptor_set: Vec<u8>,
    /// `dimensions.json`, byte for byte.
    pub dimensions: Vec<u8>,
    /// The `.proto` files as compiled.
    pub sources: Vec<SourceFile>,
}

/// One `.proto` file of a version: its import name (`/`-separated) and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Import name, e.g. `settlement_transaction.proto`.
    pub name: String,
    /// File contents.
    pub contents: Vec<u8>,
}

impl Bundle {
    /// Files by their path inside the version folder, in publishing order.
    pub fn files(&self) -> Vec<(String, &[u8])> {
        let mut files = vec![
            ("descriptor.binpb".to_owned(), self.descriptor_set.as_slice()),
            ("dimensions.json".to_owned(), self.dimensions.as_slice()),
        ];
        files.extend(
            self.sources
                .iter()
                .map(|source| (format!("sources/{}", source.name), source.contents.as_slice())),
        );
        files
    }

    /// Digest over every file's path and digest: equal iff the contents are equal.
    pub fn content_sha256(&self) -> String {
        content_digest(self.files().iter().map(|(path, bytes)| (path.clone(), sha256(bytes))))
    }

    /// sha256 of the descriptor set, which identifies a live spec's schema.
    pub fn descriptor_sha256(&self) -> String {
        sha256(&self.descriptor_set)
    }
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn content_digest(entries: impl Iterator<Item = (String, String)>) -> String {
    let mut lines: Vec<String> = entries.map(|(path, digest)| format!("{path}\0{digest}\n")).collect();
    lines.sort();
    sha256(lines.concat().as_bytes())
}

/// A file's digest and size in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Lowercase hex sha256.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

/// An explicit, recorded acceptance of a breaking change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    /// Why it is acceptable.
    pub reason: String,
    /// Who accepted it.
    #[serde(default)]
    pub by: Option<String>,
}

/// `manifest.json`: what a version is and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format of this file ([`MANIFEST_FORMAT`]).
    pub format: u32,
    /// The version name.
    pub version: String,
    /// Full name of the record's message type.
    pub message_type: String,
    /// When it was published (RFC 3339).
    pub created_at: String,
    /// Who published it.
    #[serde(default)]
    pub author: Option<String>,
    /// Full git commit it was built from.
    #[serde(default)]
    pub git_commit: Option<String>,
    /// The version it was checked against (what its channel pointed at).
    #[serde(default)]
    pub parent: Option<String>,
    /// Digest of all files (see [`Bundle::content_sha256`]).
    pub content_sha256: String,
    /// Every file with its digest, by path inside the version folder.
    pub files: BTreeMap<String, FileEntry>,
    /// Compatibility report against `parent`, when one was computed.
    #[serde(default)]
    pub compatibility: Option<Value>,
    /// Recorded override of breaking findings.
    #[serde(default)]
    pub breaking_override: Option<Override>,
}

impl Manifest {
    /// sha256 of the descriptor set.
    pub fn descriptor_sha256(&self) -> Option<&str> {
        self.files.get("descriptor.binpb").map(|entry| entry.sha256.as_str())
    }
}

/// Who publishes and why; everything but the content.
#[derive(Debug, Clone, Default)]
pub struct PublishMeta {
    /// Who publishes.
    pub author: Option<String>,
    /// Full git commit.
    pub git_commit: Option<String>,
    /// The version checked against.
    pub parent: Option<Version>,
    /// Compatibility report.
    pub compatibility: Option<Value>,
    /// Override of breaking findings, recorded with the version.
    pub breaking_override: Option<Override>,
}

/// Outcome of [`Registry::publish`].
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// The version's manifest.
    pub manifest: Manifest,
    /// `false` when identical content was already published (a no-op).
    pub created: bool,
}

/// A version read back with every digest checked.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionContents {
    /// The manifest.
    pub manifest: Manifest,
    /// The files.
    pub bundle: Bundle,
}

/// A channel's pointer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelPointer {
    /// The channel.
    pub channel: String,
    /// The version it points at.
    pub version: String,
    /// The version it pointed at before its last move.
    #[serde(default)]
    pub previous: Option<String>,
    /// 1 for the first move, then +1 per move.
    pub sequence: u64,
    /// When it moved (RFC 3339).
    pub moved_at: String,
    /// Who moved it.
    #[serde(default)]
    pub moved_by: Option<String>,
    /// Why (a rollback, an override).
    #[serde(default)]
    pub reason: Option<String>,
}

/// A pointer as read, with the tag a compare-and-swap needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelState {
    /// The pointer.
    pub pointer: ChannelPointer,
    /// Its tag.
    pub etag: Etag,
}

/// A version with the channels pointing at it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionInfo {
    /// Version name.
    pub version: String,
    /// When it was published.
    pub created_at: String,
    /// Message type.
    pub message_type: String,
    /// Git commit.
    pub git_commit: Option<String>,
    /// Descriptor digest.
    pub descriptor_sha256: Option<String>,
    /// Channels pointing at it.
    pub channels: Vec<String>,
    /// Why its manifest could not be read (the version is listed, not usable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// The registry over a store.
#[derive(Debug, Clone)]
pub struct Registry {
    store: Arc<dyn SchemaStore>,
}

fn version_key(version: &Version, file: &str) -> String {
    format!("schemas/{version}/{file}")
}

fn pointer_key(channel: &Channel) -> String {
    format!("schemas/{channel}/{POINTER}")
}

fn history_key(channel: &Channel, sequence: u64) -> String {
    format!("history/channels/{channel}/{sequence:010}.json")
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// A record as the registry writes it: pretty JSON and a final newline.
pub fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("registry records serialise");
    bytes.push(b'\n');
    bytes
}

impl Registry {
    /// A registry over `store`.
    pub fn new(store: Arc<dyn SchemaStore>) -> Self {
        Self { store }
    }

    /// Where it is, for messages.
    pub fn location(&self) -> String {
        self.store.location()
    }

    /// The store underneath (the deploy ledger keeps its records there too).
    pub fn store(&self) -> &Arc<dyn SchemaStore> {
        &self.store
    }

    /// A store failure as this registry's error (names the location).
    pub fn store_error(&self, source: StoreError) -> Error {
        Error::Store { location: self.store.location(), source }
    }

    /// Reads the JSON record at `key` with its tag; `None` when absent, [`Error::Corrupt`]
    /// when it does not parse as `T`.
    pub async fn read_json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<(T, Etag)>> {
        let Some(object) = self.store.get(key).await.map_err(|err| self.store_error(err))? else {
            return Ok(None);
        };
        let value = serde_json::from_slice(&object.bytes)
            .map_err(|err| Error::Corrupt { key: key.to_owned(), message: err.to_string() })?;
        Ok(Some((value, object.etag)))
    }

    /// Publishes `bundle` as `version`. Identical content already published is a no-op;
    /// different content under an existing (or half-published) version is refused.
    pub async fn publish(&self, version: &Version, bundle: &Bundle, meta: PublishMeta) -> Result<Published> {
        let content = bundle.content_sha256();
        if let Some(existing) = self.manifest(version).await? {
            return if existing.content_sha256 == content {
                // "Nothing to do" only when what is stored is what the manifest says.
                self.get(version).await?;
                Ok(Published { manifest: existing, created: false })
            } else {
                Err(Self::conflict(version, &existing.files, bundle))
            };
        }
        // Claim the version with the content digest; the first claim wins.
        match self.store.put_if_absent(&version_key(version, CLAIM), content.clone().into_bytes()).await {
            Ok(_) => {}
            Err(StoreError::AlreadyExists { .. }) => {
                let claimed = self
                    .store
                    .get(&version_key(version, CLAIM))
                    .await
                    .map_err(|err| self.store_error(err))?;
                let claimed = claimed.map(|object| String::from_utf8_lossy(&object.bytes).trim().to_owned());
                if claimed.as_deref() != Some(content.as_str()) {
                    return Err(Error::VersionConflict {
                        version: version.to_string(),
                        detail: "another publisher claimed it with different content".into(),
                    });
                }
                // Ours: an earlier attempt stopped half-way; carry on.
            }
            Err(err) => return Err(self.store_error(err)),
        }
        let mut files = BTreeMap::new();
        for (path, bytes) in bundle.files() {
            let digest = sha256(bytes);
            let key = version_key(version, &path);
            match self.store.put_if_absent(&key, bytes.to_vec()).await {
                Ok(_) => {}
                Err(StoreError::AlreadyExists { .. }) => self.check_existing(version, &path, &digest).await?,
                Err(err) => return Err(self.store_error(err)),
            }
            files.insert(path, FileEntry { sha256: digest, size: bytes.len() as u64 });
        }
        let manifest = Manifest {
            format: MANIFEST_FORMAT,
            version: version.to_string(),
            message_type: bundle.message_type.clone(),
            created_at: now().to_string(),
            author: meta.author,
            git_commit: meta.git_commit,
            parent: meta.parent.map(|parent| parent.to_string()),
            content_sha256: content,
            files,
            compatibility: meta.compatibility,
            breaking_override: meta.breaking_override,
        };
        match self.store.put_if_absent(&version_key(version, MANIFEST), to_json(&manifest)).await {
            Ok(_) => Ok(Published { manifest, created: true }),
            Err(StoreError::AlreadyExists { .. }) => {
                // A concurrent publisher of the same content finished first.
                let existing = self.manifest(version).await?.ok_or_else(|| Error::Corrupt {
                    key: version_key(version, MANIFEST),
                    message: "vanished after it was created".into(),
                })?;
                if existing.content_sha256 == manifest.content_sha256 {
                    Ok(Published { manifest: existing, created: false })
                } else {
                    Err(Self::conflict(version, &existing.files, bundle))
                }
            }
            Err(err) => Err(self.store_error(err)),
        }
    }

    /// A file already in place must be the one we would write.
    async fn check_existing(&self, version: &Version, path: &str, digest: &str) -> Result<()> {
        let key = version_key(version, path);
        let existing = self.store.get(&key).await.map_err(|err| self.store_error(err))?;
        let actual = existing.map(|object| sha256(&object.bytes)).unwrap_or_default();
        if actual == digest {
            Ok(())
        } else {
            Err(Error::Digest {
                version: version.to_string(),
                file: path.to_owned(),
                expected: digest.to_owned(),
                actual,
            })
        }
    }

    fn conflict(version: &Version, existing: &BTreeMap<String, FileEntry>, bundle: &Bundle) -> Error {
        let ours: BTreeMap<String, String> =
            bundle.files().into_iter().map(|(path, bytes)| (path, sha256(bytes))).collect();
        let mut differing: Vec<&str> = ours
            .iter()
            .filter(|(path, digest)| existing.get(*path).is_none_or(|entry| entry.sha256 != **digest))
            .map(|(path, _)| path.as_str())
            .chain(existing.keys().filter(|path| !ours.contains_key(*path)).map(String::as_str))
            .collect();
        differing.sort_unstable();
        differing.dedup();
        Error::VersionConflict {
            version: version.to_string(),
            detail: format!("it was published with other content (differs: {})", differing.join(", ")),
        }
    }

    /// The manifest of `version`, or `None` when it was never (completely) published.
    pub async fn manifest(&self, version: &Version) -> Result<Option<Manifest>> {
        Ok(self.read_json::<Manifest>(&version_key(version, MANIFEST)).await?.map(|(manifest, _)| manifest))
    }

    /// Reads `version` back, checking every file against the manifest's digests.
    pub async fn get(&self, version: &Version) -> Result<VersionContents> {
        let manifest = self
            .manifest(version)
            .await?
            .ok_or_else(|| Error::UnknownVersion { version: version.to_string() })?;
        let mut descriptor_set = None;
        let mut dimensions = None;
        let mut sources = Vec::new();
        for (path, entry) in &manifest.files {
            let key = version_key(version, path);
            let object =
                self.store.get(&key).await.map_err(|err| self.store_error(err))?.ok_or_else(|| {
                    Error::Digest {
                        version: version.to_string(),
                        file: path.clone(),
                        expected: entry.sha256.clone(),
                        actual: "missing".into(),
                    }
                })?;
            let actual = sha256(&object.bytes);
            if actual != entry.sha256 || object.bytes.len() as u64 != entry.size {
                return Err(Error::Digest {
                    version: version.to_string(),
                    file: path.clone(),
                    expected: entry.sha256.clone(),
                    actual,
                });
            }
            match path.as_str() {
                "descriptor.binpb" => descriptor_set = Some(object.bytes),
                "dimensions.json" => dimensions = Some(object.bytes),
                other => {
                    if let Some(name) = other.strip_prefix("sources/") {
                        sources.push(SourceFile { name: name.to_owned(), contents: object.bytes });
                    }
                }
            }
        }
        let missing = |file: &str| Error::Corrupt {
            key: version_key(version, MANIFEST),
            message: format!("lists no {file}"),
        };
        let bundle = Bundle {
            message_type: manifest.message_type.clone(),
            descriptor_set: descriptor_set.ok_or_else(|| missing("descriptor.binpb"))?,
            dimensions: dimensions.ok_or_else(|| missing("dimensions.json"))?,
            sources,
        };
        // The files each match their entry; together they must also be the content the
        // version was claimed with (an entry added to or dropped from the manifest shows here).
        let content = bundle.content_sha256();
        if content != manifest.content_sha256 {
            return Err(Error::Digest {
                version: version.to_string(),
                file: MANIFEST.to_owned(),
                expected: manifest.content_sha256.clone(),
                actual: content,
            });
        }
        Ok(VersionContents { manifest, bundle })
    }

    /// Every published version, oldest first, with the channels pointing at it.
    pub async fn list(&self) -> Result<Vec<VersionInfo>> {
        let keys = list_all(self.store.as_ref(), "schemas/").await.map_err(|err| self.store_error(err))?;
        let mut channels: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut versions = Vec::new();
        for key in &keys {
            let parts: Vec<&str> = key.split('/').collect();
            match parts.as_slice() {
                ["schemas", name, MANIFEST] => versions.push((*name).to_owned()),
                ["schemas", name, POINTER] => {
                    let channel = Channel::parse(name)?;
                    if let Some(state) = self.channel(&channel).await? {
                        channels.entry(state.pointer.version).or_default().push(channel.to_string());
                    }
                }
                _ => {}
            }
        }
        let mut infos = Vec::with_capacity(versions.len());
        for name in versions {
            let version = Version::parse(&name)?;
            // One damaged version must not hide the others (nor stop every deploy).
            let manifest = match self.manifest(&version).await {
                Ok(Some(manifest)) => manifest,
                Ok(None) => continue,
                Err(err @ (Error::Corrupt { .. } | Error::Digest { .. })) => {
                    infos.push(VersionInfo {
                        channels: channels.remove(&name).unwrap_or_default(),
                        version: name,
                        created_at: String::new(),
                        message_type: String::new(),
                        git_commit: None,
                        descriptor_sha256: None,
                        unreadable: Some(err.to_string()),
                    });
                    continue;
                }
                Err(err) => return Err(err),
            };
            infos.push(VersionInfo {
                unreadable: None,
                descriptor_sha256: manifest.descriptor_sha256().map(str::to_owned),
                channels: channels.remove(&name).unwrap_or_default(),
                version: name,
                created_at: manifest.created_at,
                message_type: manifest.message_type,
                git_commit: manifest.git_commit,
            });
        }
        infos.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.version.cmp(&b.version)));
        Ok(infos)
    }

    /// The names of every published version, sorted, from one listing (no manifest read):
    /// what a plan remembers to notice a version published after it.
    pub async fn version_names(&self) -> Result<Vec<String>> {
        let keys = list_all(self.store.as_ref(), "schemas/").await.map_err(|err| self.store_error(err))?;
        let mut names: Vec<String> = keys
            .iter()
            .filter_map(|key| match key.split('/').collect::<Vec<_>>().as_slice() {
                ["schemas", name, MANIFEST] => Some((*name).to_owned()),
                _ => None,
            })
            .collect();
        names.sort();
        Ok(names)
    }

    /// The version whose descriptor set has this sha256, if any (to name a live spec).
    pub async fn find_by_descriptor(&self, descriptor_sha256: &str) -> Result<Option<VersionInfo>> {
        Ok(self
            .list()
            .await?
            .into_iter()
            .rev()
            .find(|info| info.descriptor_sha256.as_deref() == Some(descriptor_sha256)))
    }

    /// A channel's pointer and tag, `None` before its first move.
    pub async fn channel(&self, channel: &Channel) -> Result<Option<ChannelState>> {
        Ok(self
            .read_json::<ChannelPointer>(&pointer_key(channel))
            .await?
            .map(|(pointer, etag)| ChannelState { pointer, etag }))
    }

    /// Moves `channel` to `version` from wherever it is now.
    pub async fn promote(
        &self,
        channel: &Channel,
        version: &Version,
        by: Option<&str>,
        reason: Option<&str>,
    ) -> Result<ChannelPointer> {
        let base = self.channel(channel).await?;
        self.promote_from(channel, base.as_ref(), version, by, reason).await
    }

    /// Moves `channel` to `version` if it still is at `base` (`None`: never moved); a
    /// concurrent move makes this fail with [`Error::ChannelMoved`]. Moving to the version
    /// it already points at changes nothing.
    pub async fn promote_from(
        &self,
        channel: &Channel,
        base: Option<&ChannelState>,
        version: &Version,
        by: Option<&str>,
        reason: Option<&str>,
    ) -> Result<ChannelPointer> {
        if self.manifest(version).await?.is_none() {
            return Err(Error::UnknownVersion { version: version.to_string() });
        }
        if let Some(base) = base {
            if base.pointer.version == version.as_str() {
                return Ok(base.pointer.clone());
            }
            // Repair a history record a crashed move did not write.
            self.record_history(channel, &base.pointer).await?;
        }
        let pointer = ChannelPointer {
            channel: channel.to_string(),
            version: version.to_string(),
            previous: base.map(|base| base.pointer.version.clone()),
            sequence: base.map_or(1, |base| base.pointer.sequence + 1),
            moved_at: now().to_string(),
            moved_by: by.map(str::to_owned),
            reason: reason.map(str::to_owned),
        };
        let key = pointer_key(channel);
        let written = match base {
            None => self.store.put_if_absent(&key, to_json(&pointer)).await,
            Some(base) => self.store.put_if_match(&key, to_json(&pointer), &base.etag).await,
        };
        match written {
            Ok(_) => {}
            Err(
                StoreError::AlreadyExists { .. }
                | StoreError::PreconditionFailed { .. }
                | StoreError::Conflict { .. },
            ) => {
                let now_at = self.channel(channel).await?.map(|state| state.pointer.version);
                return Err(Error::ChannelMoved {
                    channel: channel.to_string(),
                    expected: base.map(|base| base.pointer.version.clone()),
                    found: now_at,
                });
            }
            Err(err) => return Err(self.store_error(err)),
        }
        self.record_history(channel, &pointer).await?;
        Ok(pointer)
    }

    async fn record_history(&self, channel: &Channel, pointer: &ChannelPointer) -> Result<()> {
        match self.store.put_if_absent(&history_key(channel, pointer.sequence), to_json(pointer)).await {
            Ok(_) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
            Err(err) => Err(self.store_error(err)),
        }
    }

    /// Every pointer `channel` has had, oldest first.
    pub async fn channel_history(&self, channel: &Channel) -> Result<Vec<ChannelPointer>> {
        let prefix = format!("history/channels/{channel}/");
        let keys = list_all(self.store.as_ref(), &prefix).await.map_err(|err| self.store_error(err))?;
        let mut moves = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some((pointer, _)) = self.read_json::<ChannelPointer>(&key).await? {
                moves.push(pointer);
            }
        }
        Ok(moves)
    }

    /// Resolves a reference: a version name, a channel (`stable`), or a channel's previous
    /// version (`previous-stable`).
    pub async fn resolve(&self, reference: &str) -> Result<Version> {
        if let Some(channel) = reference.strip_prefix(PREVIOUS) {
            let channel = Channel::parse(channel)?;
            let state = self
                .channel(&channel)
                .await?
                .ok_or_else(|| Error::EmptyChannel { channel: channel.to_string() })?;
            let previous =
                state.pointer.previous.ok_or_else(|| Error::NoPrevious { channel: channel.to_string() })?;
            return Version::parse(&previous);
        }
        if let Ok(channel) = Channel::parse(reference)
            && let Some(state) = self.channel(&channel).await?
        {
            return Version::parse(&state.pointer.version);
        }
        let version = Version::parse(reference)?;
        if self.manifest(&version).await?.is_none() {
            return Err(Error::UnknownVersion { version: version.to_string() });
        }
        Ok(version)
    }
}
