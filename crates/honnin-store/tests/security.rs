#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Operators, API tokens and sessions, on every backend.

use honnin_store::StoreError;
use honnin_store::security::{self, OperatorRow};
use honnin_testkit::{backends, now};

fn operator(id: &str) -> OperatorRow {
    OperatorRow {
        id: id.into(),
        display_name: format!("Operator {id}"),
        role: "registry-clerk".into(),
        municipality: Some("131016".into()),
        agency: None,
        password_hash: Some("$argon2id$stub".into()),
        totp_secret: None,
        disabled: false,
        created_at: now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_round_trip_and_are_unique() {
    for db in backends().await {
        let name = db.name;
        let mut conn = db.store.conn().await.unwrap();
        security::insert_operator(&mut conn, &operator("bob"))
            .await
            .unwrap();
        security::insert_operator(&mut conn, &operator("alice"))
            .await
            .unwrap();
        let err = security::insert_operator(&mut conn, &operator("bob"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{name}: {err}");
        assert!(err.is_unique_violation());

        let bob = security::get_operator(&mut conn, "bob")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(bob, operator("bob"), "{name}");
        assert!(
            security::get_operator(&mut conn, "carol")
                .await
                .unwrap()
                .is_none()
        );
        let ids: Vec<String> = security::list_operators(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.id)
            .collect();
        assert_eq!(ids, ["alice", "bob"], "{name}");
        assert_eq!(security::count_operators(&mut conn).await.unwrap(), 2);

        assert!(
            security::set_disabled(&mut conn, "bob", true)
                .await
                .unwrap()
        );
        assert!(
            !security::set_disabled(&mut conn, "nobody", true)
                .await
                .unwrap()
        );
        assert!(
            security::get_operator(&mut conn, "bob")
                .await
                .unwrap()
                .unwrap()
                .disabled,
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_sessions_can_be_revoked_and_ended() {
    for db in backends().await {
        let name = db.name;
        let mut conn = db.store.conn().await.unwrap();
        security::insert_token(&mut conn, "h1", "bob", "ci", now())
            .await
            .unwrap();
        security::insert_token(&mut conn, "h2", "bob", "laptop", now())
            .await
            .unwrap();
        assert_eq!(
            security::token_operator(&mut conn, "h1")
                .await
                .unwrap()
                .as_deref(),
            Some("bob"),
            "{name}"
        );
        assert_eq!(
            security::token_operator(&mut conn, "zz").await.unwrap(),
            None
        );
        assert_eq!(
            security::revoke_tokens_of(&mut conn, "bob", now())
                .await
                .unwrap(),
            2,
            "{name}"
        );
        assert_eq!(
            security::token_operator(&mut conn, "h1").await.unwrap(),
            None,
            "{name}: revoked token works"
        );
        assert_eq!(
            security::revoke_tokens_of(&mut conn, "bob", now())
                .await
                .unwrap(),
            0
        );

        security::insert_session(&mut conn, "s1", "bob", now())
            .await
            .unwrap();
        let s = security::get_session(&mut conn, "s1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (s.operator.as_str(), s.created_at, s.last_seen, s.ended),
            ("bob", now(), now(), false),
            "{name}"
        );
        let later = now()
            .checked_add(jiff::SignedDuration::from_mins(5))
            .unwrap();
        security::touch_session(&mut conn, "s1", later)
            .await
            .unwrap();
        assert_eq!(
            security::get_session(&mut conn, "s1")
                .await
                .unwrap()
                .unwrap()
                .last_seen,
            later,
            "{name}"
        );
        security::end_session(&mut conn, "s1", later).await.unwrap();
        let s = security::get_session(&mut conn, "s1")
            .await
            .unwrap()
            .unwrap();
        assert!(s.ended, "{name}");
        // An ended session is not touched any more.
        let much_later = later
            .checked_add(jiff::SignedDuration::from_mins(5))
            .unwrap();
        security::touch_session(&mut conn, "s1", much_later)
            .await
            .unwrap();
        assert_eq!(
            security::get_session(&mut conn, "s1")
                .await
                .unwrap()
                .unwrap()
                .last_seen,
            later,
            "{name}"
        );
        assert!(
            security::get_session(&mut conn, "s2")
                .await
                .unwrap()
                .is_none()
        );
    }
}
