//! What `read_result` accepts from a server's action result: a record that is tanto's, for
//! this key, whose values are the ones their digests name.

use std::time::Duration;

use super::lookup::read_result;
use super::proto::protobuf::Any;
use super::proto::re;
use super::wire::RECORD_TYPE;
use crate::artifact::Artifact;
use crate::cache::key::KeyRecord;
use crate::cache::store::ActionResult;
use crate::digest::Digest;

/// A server's action result holding `record` as tanto's record.
fn found(record: &ActionResult) -> re::ActionResult {
    re::ActionResult {
        execution_metadata: Some(re::ExecutedActionMetadata {
            worker: "tanto".into(),
            auxiliary_metadata: vec![Any {
                type_url: RECORD_TYPE.into(),
                value: serde_json::to_vec(record).expect("encodes"),
            }],
        }),
        ..Default::default()
    }
}

#[test]
fn a_value_that_is_not_the_one_its_digest_names_is_refused() {
    let value = Artifact::Value(serde_json::json!("3 files; v1"));
    let result = ActionResult::new(
        KeyRecord::new("ci::report", "code"),
        &[value],
        Duration::ZERO,
    );
    let key = result.key.digest();
    let (record, wires) = read_result(&found(&result), &key, 1 << 20).expect("sound");
    assert_eq!(record.outputs[0].value, result.outputs[0].value);
    assert!(wires.is_empty(), "a value travels in the record");

    // The same record with another value under the digest its dependents are keyed by.
    let mut forged = result.clone();
    forged.outputs[0].value = Some(serde_json::json!("EVIL v666"));
    assert_eq!(
        read_result(&found(&forged), &key, 1 << 20).map(|_| ()),
        Err("output 0's value does not match its digest".to_owned())
    );
    forged.outputs[0].value = None;
    assert!(read_result(&found(&forged), &key, 1 << 20).is_err());
    // Another key's record is refused too.
    assert_eq!(
        read_result(&found(&result), &Digest::of(b"other"), 1 << 20).map(|_| ()),
        Err("its record belongs to another key".to_owned())
    );
}

#[test]
fn a_result_that_says_its_action_failed_is_refused() {
    let value = Artifact::Value(serde_json::json!(1));
    let result = ActionResult::new(KeyRecord::new("ci::n", "code"), &[value], Duration::ZERO);
    let key = result.key.digest();
    let mut failed = found(&result);
    failed.exit_code = 1;
    assert_eq!(
        read_result(&failed, &key, 1 << 20).map(|_| ()),
        Err("it says its action failed (exit code 1)".to_owned())
    );
}
