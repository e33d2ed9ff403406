//! The REAPI v2, ByteStream and `google.rpc` messages tanto sends and reads, written for prost
//! by hand from their `.proto` files (remote-apis' `remote_execution.proto` and googleapis'
//! `bytestream.proto` and `status.proto`, Apache-2.0), so no generated crate and no `protoc`.
//!
//! Field numbers and types are the protos' own, so encodings are byte for byte those of
//! generated code. A message tanto only sends or only reads keeps the fields it uses: prost
//! skips the others on decoding. The folder messages (`Directory` and its nodes) keep every
//! field, since a `Tree`'s children are found again by the digest of their re-encoding.

#![allow(missing_docs, unreachable_pub)]

/// `build.bazel.remote.execution.v2`.
pub mod re {
    use prost::Message;

    /// `DigestFunction.Value.SHA256`, the only digest function tanto speaks.
    pub const SHA256: i32 = 1;

    #[derive(Clone, PartialEq, Eq, Hash, Message)]
    pub struct Digest {
        #[prost(string, tag = "1")]
        pub hash: String,
        #[prost(int64, tag = "2")]
        pub size_bytes: i64,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct Action {
        #[prost(message, optional, tag = "1")]
        pub command_digest: Option<Digest>,
        #[prost(message, optional, tag = "2")]
        pub input_root_digest: Option<Digest>,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct Command {
        #[prost(string, repeated, tag = "1")]
        pub arguments: Vec<String>,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct Directory {
        #[prost(message, repeated, tag = "1")]
        pub files: Vec<FileNode>,
        #[prost(message, repeated, tag = "2")]
        pub directories: Vec<DirectoryNode>,
        #[prost(message, repeated, tag = "3")]
        pub symlinks: Vec<SymlinkNode>,
        #[prost(message, optional, tag = "5")]
        pub node_properties: Option<NodeProperties>,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct NodeProperty {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct NodeProperties {
        #[prost(message, repeated, tag = "1")]
        pub properties: Vec<NodeProperty>,
        #[prost(message, optional, tag = "2")]
        pub mtime: Option<super::protobuf::Timestamp>,
        #[prost(message, optional, tag = "3")]
        pub unix_mode: Option<super::protobuf::UInt32Value>,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct FileNode {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, optional, tag = "2")]
        pub digest: Option<Digest>,
        #[prost(bool, tag = "4")]
        pub is_executable: bool,
        #[prost(message, optional, tag = "6")]
        pub node_properties: Option<NodeProperties>,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct DirectoryNode {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, optional, tag = "2")]
        pub digest: Option<Digest>,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct SymlinkNode {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub target: String,
        #[prost(message, optional, tag = "4")]
        pub node_properties: Option<NodeProperties>,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct Tree {
        #[prost(message, optional, tag = "1")]
        pub root: Option<Directory>,
        #[prost(message, repeated, tag = "2")]
        pub children: Vec<Directory>,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct ActionResult {
        #[prost(message, repeated, tag = "2")]
        pub output_files: Vec<OutputFile>,
        #[prost(message, repeated, tag = "3")]
        pub output_directories: Vec<OutputDirectory>,
        /// The action's exit code: tanto shares only results of steps that succeeded (0).
        #[prost(int32, tag = "4")]
        pub exit_code: i32,
        #[prost(message, optional, tag = "6")]
        pub stdout_digest: Option<Digest>,
        #[prost(message, optional, tag = "8")]
        pub stderr_digest: Option<Digest>,
        #[prost(message, optional, tag = "9")]
        pub execution_metadata: Option<ExecutedActionMetadata>,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct OutputFile {
        #[prost(string, tag = "1")]
        pub path: String,
        #[prost(message, optional, tag = "2")]
        pub digest: Option<Digest>,
        #[prost(bool, tag = "4")]
        pub is_executable: bool,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct OutputDirectory {
        #[prost(string, tag = "1")]
        pub path: String,
        #[prost(message, optional, tag = "3")]
        pub tree_digest: Option<Digest>,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct ExecutedActionMetadata {
        #[prost(string, tag = "1")]
        pub worker: String,
        #[prost(message, repeated, tag = "11")]
        pub auxiliary_metadata: Vec<super::protobuf::Any>,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct GetActionResultRequest {
        #[prost(string, tag = "1")]
        pub instance_name: String,
        #[prost(message, optional, tag = "2")]
        pub action_digest: Option<Digest>,
        #[prost(int32, tag = "6")]
        pub digest_function: i32,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct UpdateActionResultRequest {
        #[prost(string, tag = "1")]
        pub instance_name: String,
        #[prost(message, optional, tag = "2")]
        pub action_digest: Option<Digest>,
        #[prost(message, optional, tag = "3")]
        pub action_result: Option<ActionResult>,
        #[prost(int32, tag = "5")]
        pub digest_function: i32,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct FindMissingBlobsRequest {
        #[prost(string, tag = "1")]
        pub instance_name: String,
        #[prost(message, repeated, tag = "2")]
        pub blob_digests: Vec<Digest>,
        #[prost(int32, tag = "3")]
        pub digest_function: i32,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct FindMissingBlobsResponse {
        #[prost(message, repeated, tag = "2")]
        pub missing_blob_digests: Vec<Digest>,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct BatchUpdateBlobsRequest {
        #[prost(string, tag = "1")]
        pub instance_name: String,
        #[prost(message, repeated, tag = "2")]
        pub requests: Vec<UpdateBlob>,
        #[prost(int32, tag = "5")]
        pub digest_function: i32,
    }

    /// `BatchUpdateBlobsRequest.Request`: one blob, uncompressed.
    #[derive(Clone, PartialEq, Message)]
    pub struct UpdateBlob {
        #[prost(message, optional, tag = "1")]
        pub digest: Option<Digest>,
        #[prost(bytes = "vec", tag = "2")]
        pub data: Vec<u8>,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct BatchUpdateBlobsResponse {
        #[prost(message, repeated, tag = "1")]
        pub responses: Vec<UpdatedBlob>,
    }

    /// `BatchUpdateBlobsResponse.Response`.
    #[derive(Clone, PartialEq, Message)]
    pub struct UpdatedBlob {
        #[prost(message, optional, tag = "1")]
        pub digest: Option<Digest>,
        #[prost(message, optional, tag = "2")]
        pub status: Option<super::rpc::Status>,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct BatchReadBlobsRequest {
        #[prost(string, tag = "1")]
        pub instance_name: String,
        #[prost(message, repeated, tag = "2")]
        pub digests: Vec<Digest>,
        #[prost(int32, tag = "4")]
        pub digest_function: i32,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct BatchReadBlobsResponse {
        #[prost(message, repeated, tag = "1")]
        pub responses: Vec<ReadBlob>,
    }

    /// `BatchReadBlobsResponse.Response`; a compressed answer (`compressor`, tag 4) is
    /// never asked for.
    #[derive(Clone, PartialEq, Message)]
    pub struct ReadBlob {
        #[prost(message, optional, tag = "1")]
        pub digest: Option<Digest>,
        #[prost(bytes = "vec", tag = "2")]
        pub data: Vec<u8>,
        #[prost(message, optional, tag = "3")]
        pub status: Option<super::rpc::Status>,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct GetCapabilitiesRequest {
        #[prost(string, tag = "1")]
        pub instance_name: String,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct ServerCapabilities {
        #[prost(message, optional, tag = "1")]
        pub cache_capabilities: Option<CacheCapabilities>,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct CacheCapabilities {
        #[prost(int32, repeated, tag = "1")]
        pub digest_functions: Vec<i32>,
        #[prost(message, optional, tag = "2")]
        pub action_cache_update_capabilities: Option<ActionCacheUpdateCapabilities>,
        #[prost(int64, tag = "4")]
        pub max_batch_total_size_bytes: i64,
        #[prost(int64, tag = "8")]
        pub max_cas_blob_size_bytes: i64,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct ActionCacheUpdateCapabilities {
        #[prost(bool, tag = "1")]
        pub update_enabled: bool,
    }
}

/// `google.bytestream`.
pub mod bytestream {
    use prost::Message;

    #[derive(Clone, PartialEq, Message)]
    pub struct ReadRequest {
        #[prost(string, tag = "1")]
        pub resource_name: String,
        #[prost(int64, tag = "2")]
        pub read_offset: i64,
        #[prost(int64, tag = "3")]
        pub read_limit: i64,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct ReadResponse {
        #[prost(bytes = "vec", tag = "10")]
        pub data: Vec<u8>,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct WriteRequest {
        #[prost(string, tag = "1")]
        pub resource_name: String,
        #[prost(int64, tag = "2")]
        pub write_offset: i64,
        #[prost(bool, tag = "3")]
        pub finish_write: bool,
        #[prost(bytes = "vec", tag = "10")]
        pub data: Vec<u8>,
    }

    #[derive(Clone, PartialEq, Message)]
    pub struct WriteResponse {
        #[prost(int64, tag = "1")]
        pub committed_size: i64,
    }
}

/// `google.rpc`.
pub mod rpc {
    use prost::Message;

    /// A status inside a batch answer; its `details` are skipped.
    #[derive(Clone, PartialEq, Message)]
    pub struct Status {
        #[prost(int32, tag = "1")]
        pub code: i32,
        #[prost(string, tag = "2")]
        pub message: String,
    }
}

/// `google.protobuf`: the well-known types the messages above hold.
pub mod protobuf {
    use prost::Message;

    #[derive(Clone, PartialEq, Message)]
    pub struct Any {
        #[prost(string, tag = "1")]
        pub type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        pub value: Vec<u8>,
    }

    #[derive(Clone, PartialEq, Eq, Message)]
    pub struct Timestamp {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }

    #[derive(Clone, PartialEq, Eq, Message)]
    pub struct UInt32Value {
        #[prost(uint32, tag = "1")]
        pub value: u32,
    }
}
