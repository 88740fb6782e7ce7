//! Replays the workflow histories committed under `workflows/tests/histories/` (recorded from
//! real runs with `fetch_history(..).to_json()`) against the current workflow code.

use std::path::PathBuf;

fn histories() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../workflows/tests/histories");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn committed_histories_replay_against_the_current_workflow() {
    let histories = histories();
    assert!(
        histories.len() >= 23,
        "expected the recorded scenarios of all four workflow shapes, found {}",
        histories.len()
    );
    let bytes: Vec<Vec<u8>> = histories.iter().map(|(_, b)| b.clone()).collect();
    let outcomes = longrun_worker::replay::replay_histories(&bytes)
        .await
        .unwrap();
    for ((name, _), outcome) in histories.iter().zip(outcomes) {
        assert!(outcome.is_ok(), "{name} no longer replays: {outcome:?}");
    }
}

/// The check can fail: a history whose recorded commands the code would not issue (here an
/// activity's scheduling event renamed to another activity) is reported.
#[tokio::test]
async fn a_history_that_does_not_match_the_code_is_reported() {
    let (name, bytes) = histories()
        .into_iter()
        .find(|(name, _)| name.contains("calculator"))
        .expect("a calculator history");
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains("\"llm_call\""), "{name} schedules llm_call");
    let tampered = text.replacen("\"llm_call\"", "\"some_other_activity\"", 1);
    let outcomes = longrun_worker::replay::replay_histories(&[tampered.into_bytes()])
        .await
        .unwrap();
    assert!(
        outcomes[0].is_err(),
        "a mismatching history must not replay: {outcomes:?}"
    );
}
