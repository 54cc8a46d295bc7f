use super::*;

async fn stores() -> Vec<(&'static str, Store)> {
    let mut out = Vec::new();
    for (name, url) in testing::backends().await {
        let store = Store::connect(&url).await.expect("connect");
        store.migrate().await.expect("migrate");
        out.push((name, store));
    }
    out
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: name.into(),
        email: Some(format!("{name}@example.com")),
        full_name: None,
        password_hash: "h".into(),
    }
}

#[tokio::test]
async fn users_roles_and_scopes() {
    for (backend, store) in stores().await {
        let alice = store
            .create_user(DEFAULT_TENANT, &new_user("alice"))
            .await
            .expect("create");
        assert!(
            matches!(
                store.create_user(DEFAULT_TENANT, &new_user("alice")).await,
                Err(StoreError::Conflict("user"))
            ),
            "{backend}"
        );
        assert_eq!(
            store
                .user_by_username(DEFAULT_TENANT, "alice")
                .await
                .expect("get")
                .id,
            alice.id
        );
        assert!(matches!(
            store.user_by_username(DEFAULT_TENANT, "bob").await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.user(DEFAULT_TENANT, "nope").await,
            Err(StoreError::NotFound)
        ));

        store
            .create_role(DEFAULT_TENANT, "reader", Some("Reads"))
            .await
            .expect("role");
        store
            .create_role(DEFAULT_TENANT, "writer", None)
            .await
            .expect("role");
        store
            .grant_scope(DEFAULT_TENANT, "reader", "items:read")
            .await
            .expect("scope");
        store
            .grant_scope(DEFAULT_TENANT, "reader", "items:read")
            .await
            .expect("idempotent");
        store
            .grant_scope(DEFAULT_TENANT, "writer", "items:write")
            .await
            .expect("scope");
        store
            .grant_scope(DEFAULT_TENANT, "writer", "items:read")
            .await
            .expect("scope");
        assert!(
            store
                .user_scopes(&alice.id)
                .await
                .expect("scopes")
                .is_empty()
        );
        store
            .grant_role(DEFAULT_TENANT, &alice.id, "reader")
            .await
            .expect("grant");
        store
            .grant_role(DEFAULT_TENANT, &alice.id, "writer")
            .await
            .expect("grant");
        assert_eq!(
            store.user_scopes(&alice.id).await.expect("scopes"),
            ["items:read", "items:write"],
            "{backend}"
        );
        store
            .revoke_role(DEFAULT_TENANT, &alice.id, "writer")
            .await
            .expect("revoke");
        assert_eq!(
            store.user_scopes(&alice.id).await.expect("scopes"),
            ["items:read"]
        );
        assert_eq!(
            store.user_roles(&alice.id).await.expect("roles"),
            ["reader"]
        );

        store
            .set_disabled(DEFAULT_TENANT, &alice.id, true)
            .await
            .expect("disable");
        assert!(
            store
                .user(DEFAULT_TENANT, &alice.id)
                .await
                .expect("get")
                .disabled
        );
        store
            .upgrade_password_hash(&alice.id, "not the old one", "x")
            .await
            .expect("no-op");
        assert_eq!(
            store
                .user(DEFAULT_TENANT, &alice.id)
                .await
                .expect("get")
                .password_hash,
            "h"
        );
        store
            .upgrade_password_hash(&alice.id, "h", "h2")
            .await
            .expect("upgrade");
        assert_eq!(
            store
                .user(DEFAULT_TENANT, &alice.id)
                .await
                .expect("get")
                .password_hash,
            "h2"
        );
    }
}

#[tokio::test]
async fn a_refresh_token_is_consumed_exactly_once_and_reuse_kills_the_family() {
    for (backend, store) in stores().await {
        let user = store
            .create_user(DEFAULT_TENANT, &new_user("carol"))
            .await
            .expect("user");
        let token = |family: &str| RefreshToken {
            id: new_id(),
            tenant_id: DEFAULT_TENANT.into(),
            family_id: family.into(),
            user_id: user.id.clone(),
            scope: "items:read".into(),
            expires_at: now() + 3600,
            client_id: None,
        };
        store
            .insert_refresh_token("hash-1", &token("fam"))
            .await
            .expect("insert");
        store
            .insert_refresh_token("hash-2", &token("fam"))
            .await
            .expect("insert");
        // Eight requests race with the same token: exactly one wins.
        let mut racers = Vec::new();
        for _ in 0..8 {
            let store = store.clone();
            racers.push(tokio::spawn(async move {
                store.consume_refresh_token("hash-1").await
            }));
        }
        let mut fresh = 0;
        for racer in racers {
            if let Consumed::Fresh(_) = racer.await.expect("join").expect("consume") {
                fresh += 1;
            }
        }
        assert_eq!(fresh, 1, "{backend}");
        // The replays revoked the family: its other token is dead too.
        assert!(
            matches!(
                store
                    .consume_refresh_token("hash-2")
                    .await
                    .expect("consume"),
                Consumed::Reused(_)
            ),
            "{backend}"
        );
        assert!(matches!(
            store
                .consume_refresh_token("unknown")
                .await
                .expect("consume"),
            Consumed::Invalid
        ));
        let mut expired = token("fam2");
        expired.expires_at = now() - 1;
        store
            .insert_refresh_token("hash-3", &expired)
            .await
            .expect("insert");
        assert!(matches!(
            store
                .consume_refresh_token("hash-3")
                .await
                .expect("consume"),
            Consumed::Invalid
        ));
    }
}

#[tokio::test]
async fn items_belong_to_their_owner() {
    for (backend, store) in stores().await {
        let a = store
            .create_user(DEFAULT_TENANT, &new_user("dave"))
            .await
            .expect("user");
        let b = store
            .create_user(DEFAULT_TENANT, &new_user("erin"))
            .await
            .expect("user");
        let item = store
            .create_item(DEFAULT_TENANT, &a.id, "pen", Some("blue"))
            .await
            .expect("item");
        assert_eq!(
            store
                .items(DEFAULT_TENANT, &a.id)
                .await
                .expect("list")
                .len(),
            1
        );
        assert!(
            store
                .items(DEFAULT_TENANT, &b.id)
                .await
                .expect("list")
                .is_empty()
        );
        assert!(
            matches!(
                store.item(DEFAULT_TENANT, &b.id, &item.id).await,
                Err(StoreError::NotFound)
            ),
            "{backend}"
        );
        assert!(matches!(
            store
                .update_item(DEFAULT_TENANT, &b.id, &item.id, "x", None)
                .await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.delete_item(DEFAULT_TENANT, &b.id, &item.id).await,
            Err(StoreError::NotFound)
        ));
        let updated = store
            .update_item(DEFAULT_TENANT, &a.id, &item.id, "pencil", None)
            .await
            .expect("update");
        assert_eq!(
            (updated.title.as_str(), updated.description),
            ("pencil", None)
        );
        store
            .delete_item(DEFAULT_TENANT, &a.id, &item.id)
            .await
            .expect("delete");
        assert!(
            store
                .items(DEFAULT_TENANT, &a.id)
                .await
                .expect("list")
                .is_empty()
        );
    }
}

#[tokio::test]
async fn every_change_that_decides_a_key_moves_the_credential_revision() {
    for (backend, store) in stores().await {
        let mut last = store.credential_revision().await.expect("revision");
        let mut moved = |now: i64, what: &str| {
            assert!(now > last, "{backend}: {what} did not move the revision");
            last = now;
        };
        let user = store
            .create_user(DEFAULT_TENANT, &new_user("kim"))
            .await
            .expect("user");
        store
            .create_role(DEFAULT_TENANT, "auditor", None)
            .await
            .expect("role");
        store
            .grant_scope(DEFAULT_TENANT, "auditor", "items:read")
            .await
            .expect("scope");
        moved(
            store.credential_revision().await.expect("rev"),
            "grant_scope",
        );
        store
            .grant_role(DEFAULT_TENANT, &user.id, "auditor")
            .await
            .expect("grant");
        moved(
            store.credential_revision().await.expect("rev"),
            "grant_role",
        );
        store
            .revoke_role(DEFAULT_TENANT, &user.id, "auditor")
            .await
            .expect("revoke");
        moved(
            store.credential_revision().await.expect("rev"),
            "revoke_role",
        );
        store
            .set_disabled(DEFAULT_TENANT, &user.id, true)
            .await
            .expect("disable");
        moved(
            store.credential_revision().await.expect("rev"),
            "set_disabled",
        );
        let key = ApiKey {
            id: "00112233445566aa".into(),
            tenant_id: DEFAULT_TENANT.into(),
            name: "k".into(),
            owner_user_id: Some(user.id.clone()),
            owner_client_id: None,
            digest: "d".into(),
            scopes: vec!["items:read".into()],
            expires_at: None,
            created_at: 0,
            last_used_at: None,
            revoked_at: None,
            owner_disabled: false,
        };
        store.create_api_key(&key).await.expect("key");
        store
            .revoke_api_key(DEFAULT_TENANT, &key.id)
            .await
            .expect("revoke key");
        moved(
            store.credential_revision().await.expect("rev"),
            "revoke_api_key",
        );
        // A change that finds nothing to change rolls back, announcement included.
        let unchanged = store.credential_revision().await.expect("rev");
        assert!(store.revoke_api_key(DEFAULT_TENANT, &key.id).await.is_err());
        assert_eq!(store.credential_revision().await.expect("rev"), unchanged);
        store
            .delete_user(DEFAULT_TENANT, &user.id)
            .await
            .expect("delete");
        moved(
            store.credential_revision().await.expect("rev"),
            "delete_user",
        );
        let client = Client {
            id: "cl_revision".into(),
            tenant_id: DEFAULT_TENANT.into(),
            name: "c".into(),
            secret_digest: None,
            grant_types: vec!["password".into()],
            scopes: Vec::new(),
            created_at: 0,
        };
        store.create_client(&client).await.expect("client");
        store
            .delete_client(DEFAULT_TENANT, &client.id)
            .await
            .expect("delete client");
        moved(
            store.credential_revision().await.expect("rev"),
            "delete_client",
        );
    }
}
