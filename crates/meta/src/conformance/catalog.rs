//! Catalog data (the public gallery's descriptions) and the gallery's search.

use super::{blob, image, page, repo, tags};
use crate::MetaStore;
use crate::catalog::CatalogData;
use crate::identity::{IdentityMeta, Visibility};
use crate::settings::RepositorySettings;

fn described(description: &str) -> CatalogData {
    CatalogData {
        description: description.into(),
        about_text: format!("About {description}\n\n<b>not markup</b> & more"),
        usage_text: "docker run it".into(),
        architectures: vec!["ARM 64".into(), "x86-64".into()],
        operating_systems: vec!["Linux".into()],
    }
}

/// Catalog data is stored per existing repository, replaced as a whole, kept as written (markup included),
/// and deleted with the repository.
pub async fn catalog_data<S: MetaStore>(store: &S) {
    let r = repo("conf-catalog/data");
    assert!(!store.put_catalog_data(&r, &described("x"), 1).await.unwrap(), "unknown repository");
    assert_eq!(store.catalog_data(&r).await.unwrap(), None);

    // A repository created by a push (no settings row) takes catalog data too.
    store.put_manifest(&image(&r, "conf-catalog data", vec![], 1), &tags(&["v1"])).await.unwrap();
    assert_eq!(store.catalog_data(&r).await.unwrap(), None, "none until set");
    let first = described("A <script>web</script> server");
    assert!(store.put_catalog_data(&r, &first, 2).await.unwrap());
    assert_eq!(store.catalog_data(&r).await.unwrap(), Some(first), "kept as written");
    let second = CatalogData { description: "Second".into(), ..CatalogData::default() };
    assert!(store.put_catalog_data(&r, &second, 3).await.unwrap());
    assert_eq!(store.catalog_data(&r).await.unwrap(), Some(second), "replaced as a whole");
    assert!(store.get_repository(&r).await.unwrap().unwrap().explicit, "setting it makes the repository explicit");

    store.delete_repository(&r, true).await.unwrap();
    assert_eq!(store.catalog_data(&r).await.unwrap(), None, "deleted with the repository");
    store.create_repository(&r, &RepositorySettings::default(), 4).await.unwrap();
    assert_eq!(store.catalog_data(&r).await.unwrap(), None, "a new repository of the same name starts empty");
    store.delete_repository(&r, true).await.unwrap();
}

/// The gallery's search: public repositories that exist, whose name or description contains the text
/// (without case for ASCII letters), in lexical order, paged; private ones never, whatever they describe.
pub async fn public_catalog_search<S: MetaStore + IdentityMeta>(store: &S) {
    let r = |s: &str| repo(&format!("conf-gallery/{s}"));
    let search = async |text: &str, last: Option<&str>, n: u32| -> Vec<String> {
        let all = store.search_public_catalog(text, page(last, n)).await.expect("search_public_catalog");
        all.iter().map(|e| e.name.as_str().to_string()).filter(|n| n.starts_with("conf-gallery/")).collect()
    };
    let (web, db, bare, hidden) = (r("web"), r("database"), r("bare"), r("hidden"));
    let a = blob("conf-gallery a");
    for x in [&web, &db, &bare, &hidden] {
        store.link_blob(x, &a, 1, 1).await.unwrap();
    }
    for x in [&web, &db, &bare] {
        store.set_visibility(x, Visibility::Public, 1).await.unwrap();
    }
    assert!(store.put_catalog_data(&web, &described("Fast HTTP server"), 2).await.unwrap());
    assert!(store.put_catalog_data(&db, &described("A 100% SQL_store"), 2).await.unwrap());
    assert!(store.put_catalog_data(&hidden, &described("Secret HTTP server"), 2).await.unwrap());

    let (webs, dbs, bares) = (web.as_str(), db.as_str(), bare.as_str());
    assert_eq!(search("", None, u32::MAX).await, [bares, dbs, webs], "all public ones, in lexical order");
    assert_eq!(search("http", None, u32::MAX).await, [webs], "by description, without case; not the private one");
    assert_eq!(search("SERVER", None, u32::MAX).await, [webs]);
    assert_eq!(search("datab", None, u32::MAX).await, [dbs], "by name");
    assert_eq!(search("conf-gallery/", None, u32::MAX).await, [bares, dbs, webs]);
    assert_eq!(search("hidden", None, u32::MAX).await, Vec::<String>::new(), "a private repository never");
    assert_eq!(search("secret", None, u32::MAX).await, Vec::<String>::new(), "nor its description");
    assert_eq!(search("100%", None, u32::MAX).await, [dbs], "% is a plain character");
    assert_eq!(search("l_s", None, u32::MAX).await, [dbs], "_ is a plain character");
    assert_eq!(search("0% s", None, u32::MAX).await, [dbs]);
    assert_eq!(search("%", None, u32::MAX).await, [dbs]);
    assert_eq!(search("nothing like it", None, u32::MAX).await, Vec::<String>::new());

    // Paging: strictly after `last`, at most `n`.
    assert_eq!(search("", Some("conf-gallery/"), 2).await, [bares, dbs]);
    assert_eq!(search("", Some(dbs), 2).await, [webs]);
    assert_eq!(search("e", Some(bares), 1).await, [dbs]);

    // The entries carry their catalog data (empty without any).
    let entries = store.search_public_catalog("conf-gallery/", page(Some("conf-gallery/"), 10)).await.unwrap();
    let data: Vec<_> = entries.iter().map(|e| e.data.description.as_str()).collect();
    assert_eq!(data, ["", "A 100% SQL_store", "Fast HTTP server"]);
    assert_eq!(entries[2].data, described("Fast HTTP server"));

    store.set_visibility(&web, Visibility::Private, 3).await.unwrap();
    assert_eq!(search("http", None, u32::MAX).await, Vec::<String>::new(), "private again: gone");
    for x in [&web, &db, &bare, &hidden] {
        store.set_visibility(x, Visibility::Private, 4).await.unwrap();
        store.delete_repository(x, true).await.unwrap();
    }
}
