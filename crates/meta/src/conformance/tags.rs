//! `list_tags`: existence, byte order, pagination edge cases.

use super::{ALL, blob, image, page, repo, tags};
use crate::MetaStore;

pub async fn tag_listing<S: MetaStore>(store: &S) {
    let r = repo("conf-tags/app");
    assert_eq!(store.list_tags(&r, ALL).await.unwrap(), None, "unknown repository");

    let a = blob("conf-tags a");
    store.link_blob(&r, &a, 1, 1).await.unwrap();
    let names = ["v1.9", "v1.10", "V2", "latest", "_x", "a", "b", "A-1"];
    let m = image(&r, "conf-tags m", vec![a], 10);
    store.put_manifest(&m, &tags(&names)).await.unwrap();
    let mut expected: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    expected.sort(); // byte order: "A-1" < "V2" < "_x" < "a" < ... < "v1.10" < "v1.9"
    assert_eq!(expected.first().map(String::as_str), Some("A-1"));

    let list = async |last: Option<&str>, n: u32| store.list_tags(&r, page(last, n)).await.unwrap().unwrap();
    assert_eq!(list(None, u32::MAX).await, expected, "all tags, in byte order");
    assert_eq!(list(None, expected.len() as u32).await, expected, "n = count");
    assert_eq!(list(None, 0).await, Vec::<String>::new(), "n = 0");
    assert_eq!(list(None, 3).await, expected[..3], "first page");
    assert_eq!(list(Some("_x"), 2).await, ["a", "b"], "strictly after an existing tag");
    assert_eq!(
        list(Some("ab"), 100).await,
        expected[expected.iter().position(|t| t == "b").unwrap()..],
        "after a missing tag"
    );
    assert_eq!(list(Some("v1.9"), 10).await, Vec::<String>::new(), "after the last tag");
    assert_eq!(list(Some("~"), 10).await, Vec::<String>::new(), "after everything");
    assert_eq!(list(Some(""), 1).await, ["A-1"], "after the empty string is from the start");

    let mut walked = Vec::new();
    let mut last: Option<String> = None;
    loop {
        let batch = list(last.as_deref(), 3).await;
        assert!(batch.len() <= 3);
        let Some(tail) = batch.last() else { break };
        last = Some(tail.clone());
        walked.extend(batch);
    }
    assert_eq!(walked, expected, "paginated walk");

    assert_eq!(store.list_tags(&repo("conf-tags/none"), page(None, 0)).await.unwrap(), None, "unknown, n = 0");
}
