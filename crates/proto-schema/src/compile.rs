//! Compiling a tree of `.proto` files into a deterministic `FileDescriptorSet`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use miette::Diagnostic as _;
use prost_reflect::{DescriptorPool, MessageDescriptor};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// One `.proto` file as compiled: its import name (relative to the root, `/`-separated) and
/// its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Import name, e.g. `settlement_transaction.proto`.
    pub name: String,
    /// File contents.
    pub contents: Vec<u8>,
}

/// The result of compiling every `.proto` under a root.
#[derive(Debug, Clone)]
pub struct CompiledSchema {
    root: PathBuf,
    sources: Vec<SourceFile>,
    /// Source locations kept aside when the pool was built without them ([`Self::compile_dir_lean`]).
    locations: Option<std::sync::Arc<Locations>>,
    /// The encoded set and its digest, made on first use: a compatibility check never needs
    /// them, and encoding is half the cost of compiling a large schema.
    encoded: OnceLock<(Vec<u8>, String)>,
    pool: DescriptorPool,
}

impl CompiledSchema {
    /// Compiles every `.proto` file below `root`, with `root` as the only include path.
    ///
    /// Well-known types (`google/protobuf/*.proto`) resolve without protoc. The encoded set
    /// includes imports and leaves out source info, so it is what Druid needs and nothing
    /// more; its bytes depend only on the sources.
    pub fn compile_dir(root: &Path) -> Result<Self> {
        Self::compile_dir_limited(root, DEFAULT_MAX_SOURCE_BYTES)
    }

    /// [`Self::compile_dir`] refusing sources of more than `max_source_bytes` in all (a
    /// compile takes memory in proportion: a 50 MB schema took 6.75 GB).
    pub fn compile_dir_limited(root: &Path, max_source_bytes: u64) -> Result<Self> {
        let names = proto_files(root, max_source_bytes)?;
        if names.is_empty() {
            return Err(Error::NoProtoFiles { root: root.to_owned() });
        }
        let mut compiler = protox::Compiler::new([root]).map_err(|source| Error::Compile {
            location: root.display().to_string(),
            message: source.to_string(),
        })?;
        compiler.include_imports(true).include_source_info(false);
        compiler.open_files(names.iter()).map_err(|err| compile_error(root, &err))?;

        let mut sources = Vec::with_capacity(names.len());
        for name in names {
            let path = root.join(&name);
            let contents = std::fs::read(&path).map_err(|source| Error::Read { path, source })?;
            sources.push(SourceFile { name, contents });
        }
        Ok(Self {
            root: root.to_owned(),
            sources,
            locations: None,
            encoded: OnceLock::new(),
            pool: compiler.descriptor_pool(),
        })
    }

    /// Like [`Self::compile_dir`], but the pool carries no source info: locations are kept in
    /// a compact table instead ([`Self::locate`]). A large schema then takes much less memory;
    /// the compatibility check uses it. Errors are located as with `compile_dir` (the sources
    /// are compiled again the ordinary way to find where).
    pub fn compile_dir_lean(root: &Path) -> Result<Self> {
        let names = proto_files(root, DEFAULT_MAX_SOURCE_BYTES)?;
        if names.is_empty() {
            return Err(Error::NoProtoFiles { root: root.to_owned() });
        }
        let locations = std::rc::Rc::new(std::cell::RefCell::new(Locations::default()));
        let mut resolver = protox::file::ChainFileResolver::new();
        resolver.add(LeanResolver { root: root.to_owned(), locations: locations.clone() });
        resolver.add(protox::file::GoogleFileResolver::new());
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        compiler.include_imports(true).include_source_info(false);
        if compiler.open_files(names.iter()).is_err() {
            // Lean files carry no spans: the ordinary compile says where the error is.
            return Self::compile_dir(root);
        }
        let mut sources = Vec::with_capacity(names.len());
        for name in names {
            let path = root.join(&name);
            let contents = std::fs::read(&path).map_err(|source| Error::Read { path, source })?;
            sources.push(SourceFile { name, contents });
        }
        let pool = compiler.descriptor_pool();
        drop(compiler);
        let locations =
            std::rc::Rc::try_unwrap(locations).map(std::cell::RefCell::into_inner).unwrap_or_default();
        Ok(Self {
            root: root.to_owned(),
            sources,
            locations: Some(std::sync::Arc::new(locations)),
            encoded: OnceLock::new(),
            pool,
        })
    }

    /// 1-based line and column of the element at `path` (descriptor.proto field numbers) in
    /// `file`, or of its closest ancestor with a location; `(0, 0)` when unknown.
    pub fn locate(&self, file: &str, path: &[i32]) -> (u32, u32) {
        if let Some(locations) = &self.locations {
            return locations.locate(file, path);
        }
        let Some(descriptor) = self.pool.get_file_by_name(file) else { return (0, 0) };
        let Some(info) = descriptor.file_descriptor_proto().source_code_info.as_ref() else { return (0, 0) };
        let mut best: Option<(usize, (u32, u32))> = None;
        for location in &info.location {
            let depth = location.path.len();
            if best.is_none_or(|(best_depth, _)| depth > best_depth)
                && location.span.len() >= 2
                && path.starts_with(&location.path)
            {
                best = Some((depth, span_start(&location.span)));
            }
        }
        best.map_or((0, 0), |(_, at)| at)
    }

    /// The directory the sources were compiled from.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The `.proto` files under the root, sorted by name.
    pub fn sources(&self) -> &[SourceFile] {
        &self.sources
    }

    /// The encoded `FileDescriptorSet`: every file, imports included, in dependency order,
    /// without source info, extension options kept.
    pub fn descriptor_set(&self) -> &[u8] {
        &self.encoded().0
    }

    /// Lowercase hex sha256 of [`Self::descriptor_set`].
    pub fn sha256(&self) -> &str {
        &self.encoded().1
    }

    fn encoded(&self) -> &(Vec<u8>, String) {
        self.encoded.get_or_init(|| {
            let bytes = encode_without_source_info(&self.pool);
            let digest = hex::encode(Sha256::digest(&bytes));
            (bytes, digest)
        })
    }

    /// Number of files in the descriptor set (sources and imports).
    pub fn file_count(&self) -> usize {
        self.pool.files().len()
    }

    /// The descriptors, with source locations for diagnostics.
    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    /// The message type named `full_name` (`package.Message`), or an error that lists what
    /// the sources define.
    pub fn message(&self, full_name: &str) -> Result<MessageDescriptor> {
        let wanted = full_name.trim_start_matches('.');
        if let Some(message) = self.pool.get_message_by_name(wanted) {
            return Ok(message);
        }
        let own: Vec<String> = self
            .pool
            .all_messages()
            .filter(|message| !message.parent_file().name().starts_with("google/protobuf/"))
            .map(|message| message.full_name().to_owned())
            .collect();
        let suggestion = crate::closest(wanted, own.iter().map(String::as_str));
        Err(Error::UnknownMessage {
            name: wanted.to_owned(),
            root: self.root.clone(),
            suggestion: suggestion.map(str::to_owned),
        })
    }
}

fn span_start(span: &[i32]) -> (u32, u32) {
    (u32::try_from(span[0]).unwrap_or(0) + 1, u32::try_from(span[1]).unwrap_or(0) + 1)
}

/// Source locations of many files in a compact form: every path in one arena.
#[derive(Debug, Default)]
pub struct Locations {
    files: std::collections::HashMap<String, FileLocations>,
}

#[derive(Debug, Default)]
struct FileLocations {
    /// Every location's path, one after the other.
    arena: Vec<i32>,
    /// (start in `arena`, length, line, column).
    entries: Vec<(u32, u16, u32, u32)>,
}

impl Locations {
    fn add(&mut self, file: &str, info: &prost_types::SourceCodeInfo) {
        let entry = self.files.entry(file.to_owned()).or_default();
        for location in info.location.iter().filter(|location| location.span.len() >= 2) {
            let start = u32::try_from(entry.arena.len()).unwrap_or(u32::MAX);
            let length = u16::try_from(location.path.len()).unwrap_or(u16::MAX);
            entry.arena.extend_from_slice(&location.path);
            let (line, column) = span_start(&location.span);
            entry.entries.push((start, length, line, column));
        }
    }

    fn locate(&self, file: &str, path: &[i32]) -> (u32, u32) {
        let Some(file) = self.files.get(file) else { return (0, 0) };
        let mut best: Option<(usize, (u32, u32))> = None;
        for &(start, length, line, column) in &file.entries {
            let (start, length) = (start as usize, usize::from(length));
            let location = &file.arena[start..start + length];
            if best.is_none_or(|(depth, _)| length > depth) && path.starts_with(location) {
                best = Some((length, (line, column)));
            }
        }
        best.map_or((0, 0), |(_, at)| at)
    }
}

/// Opens files under the root, parses them, keeps their locations aside and hands protox
/// the descriptor without source info.
struct LeanResolver {
    root: PathBuf,
    locations: std::rc::Rc<std::cell::RefCell<Locations>>,
}

impl protox::file::FileResolver for LeanResolver {
    fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
        let path = self.root.join(name);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(protox::Error::file_not_found(name));
            }
            Err(err) => return Err(protox::Error::new(err)),
        };
        let parsed = protox::file::File::from_source(name, &text)?;
        let mut descriptor = parsed.file_descriptor_proto().clone();
        drop(parsed);
        if let Some(info) = descriptor.source_code_info.take() {
            self.locations.borrow_mut().add(name, &info);
        }
        Ok(protox::file::File::from_file_descriptor_proto(descriptor))
    }
}

/// `FileDescriptorProto.source_code_info`.
const SOURCE_CODE_INFO: u32 = 9;
/// `FileDescriptorSet.file`.
const SET_FILE: u32 = 1;

/// Encodes the pool's files as a `FileDescriptorSet` without their source info, working on
/// the wire format so every other byte (extension options included) is kept as compiled.
fn encode_without_source_info(pool: &DescriptorPool) -> Vec<u8> {
    use prost::encoding::{DecodeContext, WireType, decode_key, encode_key, encode_varint, skip_field};
    let mut set = Vec::new();
    for file in pool.files() {
        let encoded = file.encode_to_vec();
        let mut rest = encoded.as_slice();
        let mut stripped = Vec::with_capacity(encoded.len());
        while !rest.is_empty() {
            let field_start = rest;
            // The pool encoded these bytes itself: they are well formed.
            let (tag, wire_type) = decode_key(&mut rest).expect("pool encodes valid descriptors");
            skip_field(wire_type, tag, &mut rest, DecodeContext::default())
                .expect("pool encodes valid descriptors");
            if tag != SOURCE_CODE_INFO {
                stripped.extend_from_slice(&field_start[..field_start.len() - rest.len()]);
            }
        }
        encode_key(SET_FILE, WireType::LengthDelimited, &mut set);
        encode_varint(stripped.len() as u64, &mut set);
        set.extend_from_slice(&stripped);
    }
    set
}

/// Import names of the `.proto` files below `root`, sorted; hidden directories are skipped.
/// The sources a compile reads by default at most, in bytes (`[schema] max_source_bytes`).
pub const DEFAULT_MAX_SOURCE_BYTES: u64 = 16 * 1024 * 1024;

/// Every `.proto` below `root` (hidden entries skipped), by import name. Symbolic links are
/// refused, not followed: what is published must be the root's own files, never something
/// outside it.
fn proto_files(root: &Path, max_source_bytes: u64) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut total = 0_u64;
    let walker =
        walkdir::WalkDir::new(root).follow_links(false).sort_by_file_name().into_iter().filter_entry(
            |entry| entry.depth() == 0 || !entry.file_name().to_string_lossy().starts_with('.'),
        );
    for entry in walker {
        let entry = entry
            .map_err(|err| Error::Read { path: err.path().unwrap_or(root).to_owned(), source: err.into() })?;
        if entry.file_type().is_symlink() && entry.depth() > 0 {
            return Err(Error::Symlink { path: entry.path().to_owned() });
        }
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|ext| ext == "proto") {
            total += entry
                .metadata()
                .map_err(|err| Error::Read { path: entry.path().to_owned(), source: err.into() })?
                .len();
            if total > max_source_bytes {
                return Err(Error::TooLarge { root: root.to_owned(), limit: max_source_bytes });
            }
            let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
            let name = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            names.push(name);
        }
    }
    Ok(names)
}

/// Turns a protox error into `path:line:col: message`, reading the file to place the span.
fn compile_error(root: &Path, err: &protox::Error) -> Error {
    let mut message = err.to_string();
    if let Some(help) = err.help() {
        let _ = write!(message, " ({help})");
    }
    let Some(file) = err.file() else {
        return Error::Compile { location: root.display().to_string(), message };
    };
    let path = root.join(file);
    let offset = err.labels().and_then(|mut labels| labels.next()).map(|label| label.offset());
    let location = match (offset, std::fs::read_to_string(&path)) {
        (Some(offset), Ok(text)) => {
            let (line, column) = line_column(&text, offset);
            format!("{}:{line}:{column}", path.display())
        }
        _ => path.display().to_string(),
    };
    Error::Compile { location, message }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn compiles_nested_files_with_well_known_imports() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "a/v1/a.proto",
            "syntax = \"proto3\";\npackage a.v1;\nimport \"google/protobuf/timestamp.proto\";\nimport \"b.proto\";\nmessage A { google.protobuf.Timestamp at = 1; b.B b = 2; }\n",
        );
        write(dir.path(), "b.proto", "syntax = \"proto3\";\npackage b;\nmessage B { string x = 1; }\n");
        write(dir.path(), ".hidden/c.proto", "this is not protobuf");
        write(dir.path(), "buf.yaml", "version: v2\n");
        let compiled = CompiledSchema::compile_dir(dir.path()).unwrap();
        let names: Vec<_> = compiled.sources().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a/v1/a.proto", "b.proto"]);
        assert_eq!(compiled.file_count(), 3);
        assert!(compiled.message("a.v1.A").is_ok());
        let again = CompiledSchema::compile_dir(dir.path()).unwrap();
        assert_eq!(compiled.descriptor_set(), again.descriptor_set());
        assert_eq!(compiled.sha256().len(), 64);
        // The same set protox encodes itself (source info left out, extension options kept).
        let mut protox = protox::Compiler::new([dir.path()]).unwrap();
        protox.include_imports(true).include_source_info(false);
        protox.open_files(["a/v1/a.proto", "b.proto"]).unwrap();
        let theirs = protox.encode_file_descriptor_set();
        assert_eq!(
            prost_types::FileDescriptorSet::decode(compiled.descriptor_set()).unwrap(),
            prost_types::FileDescriptorSet::decode(theirs.as_slice()).unwrap()
        );
    }

    #[test]
    fn syntax_errors_carry_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "bad.proto", "syntax = \"proto3\";\n\nmessage A {\n  string x = ;\n}\n");
        let err = CompiledSchema::compile_dir(dir.path()).unwrap_err();
        let text = err.to_string();
        let expected = format!("{}:4:14: ", dir.path().join("bad.proto").display());
        assert!(text.starts_with(&expected), "{text}");
    }

    #[test]
    fn unresolved_types_are_located_too() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "bad.proto", "syntax = \"proto3\";\nmessage A {\n  Missing m = 1;\n}\n");
        let err = CompiledSchema::compile_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("bad.proto:3:3: "), "{err}");
        assert!(err.contains("Missing"), "{err}");
    }

    #[test]
    fn unknown_message_suggests_the_closest_name() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.proto", "syntax = \"proto3\";\npackage p;\nmessage Settlement {}\n");
        let compiled = CompiledSchema::compile_dir(dir.path()).unwrap();
        let err = compiled.message("p.Setlement").unwrap_err().to_string();
        assert!(err.contains("did you mean `p.Settlement`"), "{err}");
    }

    #[test]
    fn an_empty_root_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(CompiledSchema::compile_dir(dir.path()), Err(Error::NoProtoFiles { .. })));
    }

    #[test]
    fn symlinks_are_refused_and_size_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(
            outside.path().join("secret.proto"),
            "syntax = \"proto3\"; message S { string key = 1; }",
        )
        .unwrap();
        std::fs::write(dir.path().join("a.proto"), "syntax = \"proto3\"; message A { string id = 1; }")
            .unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("linked")).unwrap();
        let err = CompiledSchema::compile_dir(dir.path()).unwrap_err();
        assert!(matches!(err, Error::Symlink { .. }), "{err:?}");
        assert!(err.to_string().contains("linked"), "{err}");
        std::fs::remove_file(dir.path().join("linked")).unwrap();
        let err = CompiledSchema::compile_dir_limited(dir.path(), 10).unwrap_err();
        assert!(matches!(err, Error::TooLarge { limit: 10, .. }), "{err:?}");
        assert!(CompiledSchema::compile_dir(dir.path()).is_ok());
    }
}
