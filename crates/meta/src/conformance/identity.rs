//! Users, access keys, groups, robot tokens, signing keys and the audit log.

use futures_util::future::join_all;

use super::repo;
use crate::MetaError;
use crate::Page;
use crate::identity::{AccessKey, AuditEvent, AuditQuery, IdentityMeta, PolicyTarget, RobotToken, SigningKey, User};

fn user(name: &str, created_at: i64) -> User {
    User {
        id: format!("id-of-{name}"),
        name: name.into(),
        password_hash: Some(format!("$argon2id$v=19$m=19456,t=2,p=1$salt-of-{name}$hash")),
        is_admin: false,
        created_at,
    }
}

fn access_key(id: &str, user: &str, created_at: i64) -> AccessKey {
    AccessKey {
        id: id.into(),
        user: user.into(),
        // Binary, with zero bytes and every byte value.
        sealed_secret: (0..=255u8).rev().chain([0, 0]).collect(),
        active: true,
        created_at,
        last_used_at: None,
    }
}

fn robot_token(id: &str, owner: &str, created_at: i64) -> RobotToken {
    RobotToken {
        id: id.into(),
        name: format!("{id} name"),
        owner: owner.into(),
        secret_hash: format!("$argon2id$hash-of-{id}"),
        scope: r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
        expires_at: created_at + 3600,
        created_at,
    }
}

fn signing_key(kid: &str, created_at: i64) -> SigningKey {
    SigningKey { kid: kid.into(), sealed_private: vec![0, 1, 2, 255, 0], created_at, retired_at: None }
}

fn event(principal: &str, action: &str, at: i64) -> AuditEvent {
    AuditEvent {
        // Ignored by the store.
        id: -7,
        at,
        principal: principal.into(),
        action: action.into(),
        resource: "arn:aws:ecr:local:000000000000:repository/conf-audit".into(),
        source_ip: "192.0.2.1".into(),
        outcome: "allowed".into(),
        status: 200,
        detail: None,
    }
}

fn is_already_exists<T>(result: &crate::Result<T>) -> bool {
    matches!(result, Err(MetaError::AlreadyExists(_)))
}

fn is_not_found<T>(result: &crate::Result<T>) -> bool {
    matches!(result, Err(MetaError::NotFound(_)))
}

/// Users: create, read back, duplicates, password changes, delete.
pub async fn users<S: IdentityMeta>(store: &S) {
    let alice = user("conf-users-alice", 10);
    let bob = User { password_hash: None, is_admin: true, ..user("conf-users-bob", 11) };
    assert_eq!(store.get_user(&alice.name).await.unwrap(), None, "unknown user");
    store.create_user(&bob).await.expect("create_user");
    store.create_user(&alice).await.expect("create_user");
    assert_eq!(store.get_user(&alice.name).await.unwrap(), Some(alice.clone()), "round trip");
    assert_eq!(store.get_user(&bob.name).await.unwrap(), Some(bob.clone()), "round trip without password, admin");

    assert_eq!(store.get_user_by_id(&alice.id).await.unwrap(), Some(alice.clone()), "by id");
    assert_eq!(store.get_user_by_id("id-of-nobody").await.unwrap(), None, "unknown id");

    let again = User { is_admin: true, id: "id-of-another".into(), ..alice.clone() };
    assert!(is_already_exists(&store.create_user(&again).await), "a taken name is AlreadyExists");
    assert_eq!(store.get_user(&alice.name).await.unwrap(), Some(alice.clone()), "a refused create changes nothing");

    let listed: Vec<User> =
        store.list_users().await.unwrap().into_iter().filter(|u| u.name.starts_with("conf-users-")).collect();
    assert_eq!(listed, [alice.clone(), bob.clone()], "list_users is in lexical order");

    store.set_password_hash(&alice.name, Some("$argon2id$new")).await.expect("set_password_hash");
    let changed = store.get_user(&alice.name).await.unwrap().unwrap();
    assert_eq!(changed.password_hash.as_deref(), Some("$argon2id$new"));
    assert_eq!(changed, User { password_hash: Some("$argon2id$new".into()), ..alice.clone() }, "only the hash");
    store.set_password_hash(&alice.name, None).await.expect("clearing the password");
    assert_eq!(store.get_user(&alice.name).await.unwrap().unwrap().password_hash, None);
    assert!(is_not_found(&store.set_password_hash("conf-users-none", Some("x")).await), "unknown user");
    assert_eq!(store.get_user("conf-users-none").await.unwrap(), None, "set_password_hash creates nothing");

    assert!(store.delete_user(&alice.name).await.expect("delete_user"), "delete reports an existing user");
    assert!(!store.delete_user(&alice.name).await.unwrap(), "second delete finds nothing");
    assert!(!store.delete_user("conf-users-none").await.unwrap());
    assert_eq!(store.get_user(&alice.name).await.unwrap(), None);
    assert_eq!(store.get_user_by_id(&alice.id).await.unwrap(), None, "deleted by id too");
    assert!(is_not_found(&store.set_password_hash(&alice.name, None).await), "deleted user");
    let same_id = User { name: "conf-users-other".into(), ..bob.clone() };
    assert!(is_already_exists(&store.create_user(&same_id).await), "an id is never given twice");
    store.create_user(&alice).await.expect("a deleted name can be taken again");
    assert_eq!(store.get_user(&alice.name).await.unwrap(), Some(alice.clone()));
    assert_eq!(store.get_user(&bob.name).await.unwrap(), Some(bob.clone()), "other users are untouched");
}

/// Access keys: belong to an existing user, unique ids, activation, use times, delete.
pub async fn access_keys<S: IdentityMeta>(store: &S) {
    let (ann, ben) = ("conf-keys-ann", "conf-keys-ben");
    store.create_user(&user(ann, 1)).await.unwrap();
    store.create_user(&user(ben, 1)).await.unwrap();
    let ann_new = access_key("CONFKEYSANN2", ann, 30);
    let ann_old = access_key("CONFKEYSANN3", ann, 20);
    let ben_key = AccessKey { active: false, last_used_at: Some(5), ..access_key("CONFKEYSBEN1", ben, 10) };

    assert_eq!(store.get_access_key(&ann_new.id).await.unwrap(), None, "unknown key");
    for key in [&ben_key, &ann_new, &ann_old] {
        store.create_access_key(key).await.expect("create_access_key");
    }
    assert_eq!(store.get_access_key(&ann_new.id).await.unwrap(), Some(ann_new.clone()), "round trip");
    assert_eq!(store.get_access_key(&ben_key.id).await.unwrap(), Some(ben_key.clone()), "round trip (inactive)");

    let taken = access_key(&ann_new.id, ben, 40);
    assert!(is_already_exists(&store.create_access_key(&taken).await), "a duplicate id is AlreadyExists");
    assert_eq!(store.get_access_key(&ann_new.id).await.unwrap(), Some(ann_new.clone()), "unchanged");
    let orphan = access_key("CONFKEYSNOBODY", "conf-keys-nobody", 40);
    assert!(is_not_found(&store.create_access_key(&orphan).await), "a key of an unknown user is NotFound");
    assert_eq!(store.get_access_key(&orphan.id).await.unwrap(), None);

    assert_eq!(
        store.list_access_keys(Some(ann)).await.unwrap(),
        [ann_old.clone(), ann_new.clone()],
        "one user's keys, oldest first"
    );
    let all: Vec<AccessKey> =
        store.list_access_keys(None).await.unwrap().into_iter().filter(|k| k.user.starts_with("conf-keys-")).collect();
    assert_eq!(all, [ann_old.clone(), ann_new.clone(), ben_key.clone()], "all keys, by user then oldest first");
    assert_eq!(store.list_access_keys(Some("conf-keys-nobody")).await.unwrap(), [], "unknown user has no keys");

    assert!(store.set_access_key_active(&ann_new.id, false).await.unwrap(), "deactivating an existing key");
    assert!(!store.get_access_key(&ann_new.id).await.unwrap().unwrap().active);
    assert!(store.set_access_key_active(&ann_new.id, false).await.unwrap(), "deactivating again: it exists");
    assert!(store.set_access_key_active(&ann_new.id, true).await.unwrap());
    assert!(store.get_access_key(&ann_new.id).await.unwrap().unwrap().active);
    assert!(!store.set_access_key_active("CONFKEYSNONE", true).await.unwrap(), "unknown key");

    store.touch_access_key(&ann_new.id, 100).await.expect("touch_access_key");
    assert_eq!(store.get_access_key(&ann_new.id).await.unwrap().unwrap().last_used_at, Some(100));
    store.touch_access_key(&ann_new.id, 90).await.unwrap();
    assert_eq!(
        store.get_access_key(&ann_new.id).await.unwrap().unwrap().last_used_at,
        Some(100),
        "last_used_at never moves backwards"
    );
    store.touch_access_key(&ben_key.id, 110).await.unwrap();
    assert_eq!(store.get_access_key(&ben_key.id).await.unwrap().unwrap().last_used_at, Some(110));
    store.touch_access_key("CONFKEYSNONE", 100).await.expect("touching an unknown key is ignored");
    assert_eq!(store.get_access_key("CONFKEYSNONE").await.unwrap(), None, "touch creates nothing");
    let touched = store.get_access_key(&ann_new.id).await.unwrap().unwrap();
    assert_eq!(touched, AccessKey { last_used_at: Some(100), ..ann_new.clone() }, "touch changes only the time");

    assert!(store.delete_access_key(&ann_new.id).await.expect("delete_access_key"));
    assert!(!store.delete_access_key(&ann_new.id).await.unwrap(), "second delete finds nothing");
    assert_eq!(store.get_access_key(&ann_new.id).await.unwrap(), None);
    assert_eq!(store.list_access_keys(Some(ann)).await.unwrap(), std::slice::from_ref(&ann_old));
    assert!(store.get_user(ann).await.unwrap().is_some(), "deleting a key keeps its user");
    store.delete_user(ann).await.unwrap();
    store.delete_user(ben).await.unwrap();
}

/// Groups and memberships: existence checks, idempotence, listings in lexical order, delete.
pub async fn groups<S: IdentityMeta>(store: &S) {
    let (devs, ops) = ("conf-groups-devs", "conf-groups-ops");
    let (ann, ben) = ("conf-groups-ann", "conf-groups-ben");
    store.create_user(&user(ann, 1)).await.unwrap();
    store.create_user(&user(ben, 1)).await.unwrap();

    store.create_group(ops, 10).await.expect("create_group");
    store.create_group(devs, 11).await.expect("create_group");
    assert!(is_already_exists(&store.create_group(devs, 12).await), "a taken group name is AlreadyExists");
    let listed: Vec<String> =
        store.list_groups().await.unwrap().into_iter().filter(|g| g.starts_with("conf-groups-")).collect();
    assert_eq!(listed, [devs, ops], "list_groups is in lexical order");

    assert_eq!(store.members_of(devs).await.unwrap(), Vec::<String>::new(), "a new group has no members");
    store.add_member(devs, ben).await.expect("add_member");
    store.add_member(devs, ann).await.expect("add_member");
    store.add_member(devs, ann).await.expect("add_member is idempotent");
    store.add_member(ops, ann).await.unwrap();
    assert_eq!(store.members_of(devs).await.unwrap(), [ann, ben], "members in lexical order");
    assert_eq!(store.groups_of(ann).await.unwrap(), [devs, ops], "groups in lexical order");
    assert_eq!(store.groups_of(ben).await.unwrap(), [devs]);

    assert!(is_not_found(&store.add_member("conf-groups-none", ann).await), "unknown group");
    assert!(is_not_found(&store.add_member(devs, "conf-groups-nobody").await), "unknown user");
    assert_eq!(store.groups_of("conf-groups-nobody").await.unwrap(), Vec::<String>::new());
    assert_eq!(store.members_of("conf-groups-none").await.unwrap(), Vec::<String>::new());
    assert!(!store.list_groups().await.unwrap().contains(&"conf-groups-none".to_string()), "creates no group");

    assert!(store.remove_member(devs, ben).await.expect("remove_member"), "an existing membership");
    assert!(!store.remove_member(devs, ben).await.unwrap(), "second remove finds nothing");
    assert!(!store.remove_member("conf-groups-none", ann).await.unwrap(), "unknown group");
    assert_eq!(store.members_of(devs).await.unwrap(), [ann]);
    assert_eq!(store.groups_of(ben).await.unwrap(), Vec::<String>::new());
    assert!(store.get_user(ben).await.unwrap().is_some(), "removing a membership keeps the user");

    store.put_policy(&PolicyTarget::Group(devs.into()), r#"{"devs":1}"#, 20).await.unwrap();
    assert!(store.delete_group(devs).await.expect("delete_group"), "delete reports an existing group");
    assert!(!store.delete_group(devs).await.unwrap(), "second delete finds nothing");
    assert!(!store.list_groups().await.unwrap().contains(&devs.to_string()));
    assert_eq!(store.groups_of(ann).await.unwrap(), [ops], "the group's memberships went with it");
    assert_eq!(store.members_of(devs).await.unwrap(), Vec::<String>::new());
    assert_eq!(store.get_policy(&PolicyTarget::Group(devs.into())).await.unwrap(), None, "its policy too");
    assert!(store.get_user(ann).await.unwrap().is_some(), "members survive their group");

    store.create_group(devs, 30).await.expect("a deleted group name can be taken again");
    assert_eq!(store.members_of(devs).await.unwrap(), Vec::<String>::new(), "without the old members");
    assert_eq!(store.get_policy(&PolicyTarget::Group(devs.into())).await.unwrap(), None, "nor the old policy");

    for g in [devs, ops] {
        store.delete_group(g).await.unwrap();
    }
    for u in [ann, ben] {
        store.delete_user(u).await.unwrap();
    }
}

/// Deleting a user removes its access keys, memberships, policy and robot tokens, and nothing else.
pub async fn user_deletion_cascades<S: IdentityMeta>(store: &S) {
    let (gone, stays, group) = ("conf-cascade-gone", "conf-cascade-stays", "conf-cascade-group");
    store.create_user(&user(gone, 1)).await.unwrap();
    store.create_user(&user(stays, 1)).await.unwrap();
    store.create_group(group, 1).await.unwrap();
    store.create_access_key(&access_key("CONFCASCADEGONE", gone, 2)).await.unwrap();
    store.create_access_key(&access_key("CONFCASCADESTAYS", stays, 2)).await.unwrap();
    store.add_member(group, gone).await.unwrap();
    store.add_member(group, stays).await.unwrap();
    store.put_policy(&PolicyTarget::User(gone.into()), r#"{"gone":1}"#, 3).await.unwrap();
    store.put_policy(&PolicyTarget::User(stays.into()), r#"{"stays":1}"#, 3).await.unwrap();
    store.put_policy(&PolicyTarget::Group(group.into()), r#"{"group":1}"#, 3).await.unwrap();
    store.create_robot_token(&robot_token("conf-cascade-gone-1", gone, 4)).await.unwrap();
    store.create_robot_token(&robot_token("conf-cascade-gone-2", gone, 5)).await.unwrap();
    store.create_robot_token(&robot_token("conf-cascade-stays", stays, 4)).await.unwrap();

    assert!(store.delete_user(gone).await.unwrap());
    assert_eq!(store.get_access_key("CONFCASCADEGONE").await.unwrap(), None, "access key deleted with its user");
    assert_eq!(store.list_access_keys(Some(gone)).await.unwrap(), []);
    assert!(!store.list_access_keys(None).await.unwrap().iter().any(|k| k.user == gone));
    assert_eq!(store.groups_of(gone).await.unwrap(), Vec::<String>::new(), "memberships deleted");
    assert_eq!(store.members_of(group).await.unwrap(), [stays]);
    assert_eq!(store.get_policy(&PolicyTarget::User(gone.into())).await.unwrap(), None, "user policy deleted");
    assert_eq!(store.get_robot_token("conf-cascade-gone-1").await.unwrap(), None, "robot tokens deleted");
    assert_eq!(store.get_robot_token("conf-cascade-gone-2").await.unwrap(), None);
    assert_eq!(store.list_robot_tokens(Some(gone)).await.unwrap(), []);

    // Nothing of the other user, nor the group, is touched.
    assert!(store.get_access_key("CONFCASCADESTAYS").await.unwrap().is_some());
    assert_eq!(store.groups_of(stays).await.unwrap(), [group]);
    assert_eq!(store.get_policy(&PolicyTarget::User(stays.into())).await.unwrap().as_deref(), Some(r#"{"stays":1}"#));
    assert_eq!(store.get_policy(&PolicyTarget::Group(group.into())).await.unwrap().as_deref(), Some(r#"{"group":1}"#));
    assert!(store.get_robot_token("conf-cascade-stays").await.unwrap().is_some());

    // A new user of the same name starts with nothing.
    store.create_user(&user(gone, 9)).await.unwrap();
    assert_eq!(store.get_policy(&PolicyTarget::User(gone.into())).await.unwrap(), None);
    assert_eq!(store.groups_of(gone).await.unwrap(), Vec::<String>::new());
    assert_eq!(store.list_access_keys(Some(gone)).await.unwrap(), []);
    assert_eq!(store.list_robot_tokens(Some(gone)).await.unwrap(), []);

    store.delete_group(group).await.unwrap();
    store.delete_user(gone).await.unwrap();
    store.delete_user(stays).await.unwrap();
    assert_eq!(store.get_policy(&PolicyTarget::User(stays.into())).await.unwrap(), None);
    assert_eq!(store.get_robot_token("conf-cascade-stays").await.unwrap(), None);
}

/// Robot tokens: belong to an existing owner, unique ids, listings, delete.
pub async fn robot_tokens<S: IdentityMeta>(store: &S) {
    let (ann, ben) = ("conf-tokens-ann", "conf-tokens-ben");
    store.create_user(&user(ann, 1)).await.unwrap();
    store.create_user(&user(ben, 1)).await.unwrap();
    let ann_new = robot_token("conf-tokens-a1", ann, 30);
    let ann_old = robot_token("conf-tokens-a2", ann, 20);
    let ben_token = robot_token("conf-tokens-b1", ben, 10);

    assert_eq!(store.get_robot_token(&ann_new.id).await.unwrap(), None, "unknown token");
    for t in [&ben_token, &ann_new, &ann_old] {
        store.create_robot_token(t).await.expect("create_robot_token");
    }
    assert_eq!(store.get_robot_token(&ann_new.id).await.unwrap(), Some(ann_new.clone()), "round trip");
    let taken = RobotToken { owner: ben.into(), ..ann_new.clone() };
    assert!(is_already_exists(&store.create_robot_token(&taken).await), "a duplicate id is AlreadyExists");
    assert_eq!(store.get_robot_token(&ann_new.id).await.unwrap(), Some(ann_new.clone()), "unchanged");
    let orphan = robot_token("conf-tokens-orphan", "conf-tokens-nobody", 10);
    assert!(is_not_found(&store.create_robot_token(&orphan).await), "a token of an unknown owner is NotFound");
    assert_eq!(store.get_robot_token(&orphan.id).await.unwrap(), None);

    assert_eq!(
        store.list_robot_tokens(Some(ann)).await.unwrap(),
        [ann_old.clone(), ann_new.clone()],
        "one owner's tokens, oldest first"
    );
    let all: Vec<RobotToken> = store
        .list_robot_tokens(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.owner.starts_with("conf-tokens-"))
        .collect();
    assert_eq!(all, [ann_old.clone(), ann_new.clone(), ben_token.clone()], "all tokens, by owner then oldest first");
    assert_eq!(store.list_robot_tokens(Some("conf-tokens-nobody")).await.unwrap(), []);

    assert!(store.delete_robot_token(&ann_new.id).await.expect("delete_robot_token"));
    assert!(!store.delete_robot_token(&ann_new.id).await.unwrap(), "second delete finds nothing");
    assert_eq!(store.get_robot_token(&ann_new.id).await.unwrap(), None);
    assert_eq!(store.list_robot_tokens(Some(ann)).await.unwrap(), std::slice::from_ref(&ann_old));
    assert!(store.get_user(ann).await.unwrap().is_some(), "deleting a token keeps its owner");
    store.delete_user(ann).await.unwrap();
    store.delete_user(ben).await.unwrap();
}

/// Signing keys: newest first, retirement, pruning of keys retired long enough ago.
///
/// Assumes no other check adds signing keys (pruning and the listing are global).
pub async fn signing_keys<S: IdentityMeta>(store: &S) {
    let mine = async || -> Vec<SigningKey> {
        let all = store.signing_keys().await.expect("signing_keys");
        all.into_iter().filter(|k| k.kid.starts_with("conf-kid-")).collect()
    };
    let old = signing_key("conf-kid-old", 10);
    let mid = signing_key("conf-kid-mid", 20);
    let new = signing_key("conf-kid-new", 30);
    // Added out of order, and two in the same second (the one added last counts as newer).
    let twin_a = signing_key("conf-kid-twin-z", 25);
    let twin_b = signing_key("conf-kid-twin-a", 25);
    for k in [&mid, &old, &new, &twin_a, &twin_b] {
        store.add_signing_key(k).await.expect("add_signing_key");
    }
    assert!(is_already_exists(&store.add_signing_key(&signing_key(&old.kid, 40)).await), "a duplicate kid");
    assert_eq!(
        mine().await,
        [new.clone(), twin_b.clone(), twin_a.clone(), mid.clone(), old.clone()],
        "newest first, round trip"
    );

    assert!(store.retire_signing_key(&old.kid, 100).await.expect("retire_signing_key"));
    assert!(store.retire_signing_key(&mid.kid, 200).await.unwrap());
    assert!(store.retire_signing_key(&mid.kid, 250).await.unwrap(), "retiring again: the key exists");
    assert!(store.retire_signing_key(&twin_a.kid, 300).await.unwrap());
    assert!(!store.retire_signing_key("conf-kid-none", 100).await.unwrap(), "unknown key");
    let retired = |k: &SigningKey, at: i64| SigningKey { retired_at: Some(at), ..k.clone() };
    assert_eq!(
        mine().await,
        [new.clone(), twin_b.clone(), retired(&twin_a, 300), retired(&mid, 200), retired(&old, 100)],
        "retired keys are kept (they still verify), with their first retirement time"
    );

    assert_eq!(store.prune_signing_keys(100).await.expect("prune_signing_keys"), 0, "retired_at = before stays");
    assert_eq!(store.prune_signing_keys(201).await.unwrap(), 2, "keys retired before `before` go");
    assert_eq!(mine().await, [new.clone(), twin_b.clone(), retired(&twin_a, 300)]);
    assert_eq!(store.prune_signing_keys(i64::MAX).await.unwrap(), 1, "unretired keys are never pruned");
    assert_eq!(mine().await, [new.clone(), twin_b.clone()]);
    assert!(!store.retire_signing_key(&old.kid, 400).await.unwrap(), "a pruned key is gone");

    for k in [&new, &twin_b] {
        store.retire_signing_key(&k.kid, 500).await.unwrap();
    }
    assert_eq!(store.prune_signing_keys(501).await.unwrap(), 2);
    assert_eq!(mine().await, []);
}

/// The audit log: ids assigned in order, round trip, paging with `after` and `limit`.
pub async fn audit_log<S: IdentityMeta>(store: &S) {
    let principal = "user/conf-audit";
    // Other checks may append too: look only at this check's events, after what was there before.
    let baseline = store.list_audit(None, u32::MAX).await.expect("list_audit").last().map(|e| e.id);
    let mine = async |after: Option<i64>, limit: u32| -> Vec<AuditEvent> {
        let all = store.list_audit(after, limit).await.expect("list_audit");
        all.into_iter().filter(|e| e.principal == principal).collect()
    };

    store.append_audit(&[]).await.expect("appending nothing");
    let first = event(principal, "berth:CreateUser", 100);
    let second = AuditEvent {
        outcome: "denied".into(),
        status: 403,
        detail: Some("no statement allows berth:DeleteUser".into()),
        ..event(principal, "berth:DeleteUser", 101)
    };
    let third = AuditEvent { outcome: "error".into(), status: u16::MAX, ..event(principal, "ecr:PutImage", 99) };
    store.append_audit(std::slice::from_ref(&first)).await.expect("append_audit");
    store.append_audit(&[second.clone(), third.clone()]).await.expect("append_audit of a batch");

    let got = mine(baseline, u32::MAX).await;
    assert_eq!(got.len(), 3, "every appended event: {got:?}");
    assert!(got.windows(2).all(|w| w[0].id < w[1].id), "oldest first, ids increasing: {got:?}");
    assert!(baseline.is_none_or(|b| got[0].id > b), "ids only increase");
    let without_ids: Vec<AuditEvent> = got.iter().map(|e| AuditEvent { id: -7, ..e.clone() }).collect();
    assert_eq!(
        without_ids,
        [first, second, third],
        "round trip, in append order (not by time); the given id is ignored"
    );
    assert!(got.iter().all(|e| e.id != -7), "ids are assigned by the store");

    assert_eq!(mine(Some(got[0].id), u32::MAX).await, got[1..], "after = an id excludes it");
    assert_eq!(mine(Some(got[2].id), u32::MAX).await, [], "after the last");
    assert_eq!(store.list_audit(baseline, 0).await.unwrap(), [], "limit 0");
    let mut paged = Vec::new();
    let mut after = baseline;
    loop {
        let page = store.list_audit(after, 2).await.unwrap();
        assert!(page.len() <= 2, "at most `limit`");
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        paged.extend(page.into_iter().filter(|e| e.principal == principal));
    }
    assert_eq!(paged, got, "paging with `after` and `limit` sees every event once");
    if baseline.is_none() {
        assert_eq!(store.list_audit(None, u32::MAX).await.unwrap(), got, "None is from the start");
    }
}

/// The audit log filtered (principal, exact action or prefix, resource, outcome, time range) and paged
/// newest first with `before`.
pub async fn audit_search<S: IdentityMeta>(store: &S) {
    let who = "user/conf-audit-search";
    let other = "robot/conf-audit-search";
    let repo_arn = "arn:aws:ecr:local:000000000000:repository/conf-audit-search";
    let at = |principal: &str, action: &str, t: i64, outcome: &str, resource: &str| AuditEvent {
        outcome: outcome.into(),
        resource: resource.into(),
        ..event(principal, action, t)
    };
    store
        .append_audit(&[
            at(who, "berth:CreateUser", 1000, "allowed", "*"),
            at(who, "berth:CreateAccessKey", 1001, "allowed", "*"),
            at(other, "ecr:PutImage", 1002, "allowed", repo_arn),
            at(who, "ecr:BatchGetImage", 1003, "denied", repo_arn),
            at(who, "berth:DeleteUser", 1004, "error", "*"),
        ])
        .await
        .expect("append_audit");
    let search = async |q: AuditQuery| -> Vec<(String, i64)> {
        let q = AuditQuery { limit: if q.limit == 0 { 100 } else { q.limit }, ..q };
        let got = store.search_audit(&q).await.expect("search_audit");
        assert!(got.windows(2).all(|w| w[0].id > w[1].id), "newest first: {got:?}");
        got.into_iter().filter(|e| e.principal.ends_with("conf-audit-search")).map(|e| (e.action, e.at)).collect()
    };
    let mine = |principal: &str| AuditQuery { principal: Some(principal.into()), ..Default::default() };
    let actions = |v: Vec<(String, i64)>| v.into_iter().map(|(a, _)| a).collect::<Vec<_>>();
    assert_eq!(
        actions(search(mine(who)).await),
        ["berth:DeleteUser", "ecr:BatchGetImage", "berth:CreateAccessKey", "berth:CreateUser"],
        "one principal's events, newest first"
    );
    let q = AuditQuery { action: Some("berth:Create".into()), action_prefix: true, ..mine(who) };
    assert_eq!(actions(search(q).await), ["berth:CreateAccessKey", "berth:CreateUser"], "an action prefix");
    let q = AuditQuery { action: Some("berth:Create".into()), ..mine(who) };
    assert_eq!(search(q).await, [], "an exact action matches exactly");
    let q = AuditQuery { resource: Some(repo_arn.into()), ..Default::default() };
    assert_eq!(actions(search(q).await), ["ecr:BatchGetImage", "ecr:PutImage"], "by resource, any principal");
    let q = AuditQuery { outcome: Some("denied".into()), ..mine(who) };
    assert_eq!(actions(search(q).await), ["ecr:BatchGetImage"], "by outcome");
    let q = AuditQuery { since: Some(1001), until: Some(1003), ..Default::default() };
    assert_eq!(actions(search(q).await), ["ecr:PutImage", "berth:CreateAccessKey"], "since <= at < until");
    // Pages of two, newest first, each after the last id of the one before.
    let mut pages = Vec::new();
    let mut before = None;
    loop {
        let q = AuditQuery { before, limit: 2, ..mine(who) };
        let page = store.search_audit(&q).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        pages.push(page.into_iter().map(|e| e.action).collect::<Vec<_>>());
    }
    assert_eq!(
        pages,
        [vec!["berth:DeleteUser", "ecr:BatchGetImage"], vec!["berth:CreateAccessKey", "berth:CreateUser"]],
        "paging with before"
    );
}

/// Users, groups and robot tokens listed a page at a time, in order.
pub async fn identity_pages<S: IdentityMeta>(store: &S) {
    for n in ["conf-page-b", "conf-page-a", "conf-page-c"] {
        store.create_user(&user(n, 1)).await.unwrap();
        store.create_group(&format!("{n}-group"), 1).await.unwrap();
        store.create_robot_token(&robot_token(&format!("{n}-token"), n, 1)).await.unwrap();
    }
    let first = store.list_users_page(Page { last: Some("conf-page-"), n: 2 }).await.unwrap();
    let names: Vec<&str> = first.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["conf-page-a", "conf-page-b"], "users after a name, at most n");
    let rest = store.list_users_page(Page { last: Some("conf-page-b"), n: 2 }).await.unwrap();
    assert_eq!(rest.first().map(|u| u.name.as_str()), Some("conf-page-c"));
    assert_eq!(first[0], store.get_user("conf-page-a").await.unwrap().unwrap(), "whole records");
    let groups = store.list_groups_page(Page { last: Some("conf-page-a-group"), n: 1 }).await.unwrap();
    assert_eq!(groups, ["conf-page-b-group"]);
    assert_eq!(store.list_users_page(Page { last: None, n: 0 }).await.unwrap(), []);
    let tokens = store.list_robot_tokens_page(Page { last: Some("conf-page-a-token"), n: 2 }).await.unwrap();
    let ids: Vec<&str> = tokens.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["conf-page-b-token", "conf-page-c-token"], "tokens by id");
    assert_eq!(tokens[0], store.get_robot_token("conf-page-b-token").await.unwrap().unwrap());
    for n in ["conf-page-a", "conf-page-b", "conf-page-c"] {
        store.delete_user(n).await.unwrap();
        store.delete_group(&format!("{n}-group")).await.unwrap();
    }
}

/// Concurrent identity writes all succeed: appends get distinct ids, users and keys are all created.
pub async fn concurrent_identity_writes<S: IdentityMeta>(store: &S) {
    let principal = "user/conf-concurrent-audit";
    let baseline = store.list_audit(None, u32::MAX).await.unwrap().last().map(|e| e.id);
    let appends = (0..20).map(|i| async move {
        let batch = [event(principal, &format!("a{i}"), i), event(principal, &format!("b{i}"), i)];
        store.append_audit(&batch).await
    });
    for (i, result) in join_all(appends).await.into_iter().enumerate() {
        result.unwrap_or_else(|e| panic!("concurrent append_audit #{i} failed: {e}"));
    }
    let got: Vec<AuditEvent> =
        store.list_audit(baseline, u32::MAX).await.unwrap().into_iter().filter(|e| e.principal == principal).collect();
    assert_eq!(got.len(), 40, "every event of every batch");
    for i in 0..20 {
        let a = got.iter().position(|e| e.action == format!("a{i}")).expect("a");
        let b = got.iter().position(|e| e.action == format!("b{i}")).expect("b");
        assert!(a < b, "a batch keeps its order");
    }

    let creates = (0..20).map(|i| async move {
        let name = format!("conf-concurrent-user-{i:02}");
        store.create_user(&user(&name, i)).await?;
        store.create_access_key(&access_key(&format!("CONFCONCURRENT{i:02}"), &name, i)).await?;
        store.put_policy(&PolicyTarget::Repository(repo(&format!("conf-concurrent/r{i}"))), "{}", i).await
    });
    for (i, result) in join_all(creates).await.into_iter().enumerate() {
        result.unwrap_or_else(|e| panic!("concurrent identity writes #{i} failed: {e}"));
    }
    let duplicate = user("conf-concurrent-user-00", 99);
    let duplicates = (0..10).map(|_| store.create_user(&duplicate));
    assert!(join_all(duplicates).await.iter().all(is_already_exists), "concurrent duplicates all get AlreadyExists");
    for i in 0..20 {
        assert!(store.delete_user(&format!("conf-concurrent-user-{i:02}")).await.unwrap());
    }
}
