//! The JSON the node serves for the API's wire types, pinned field by field: a change to a type
//! that changes its JSON breaks every wallet and audit tool already deployed.

mod common;

use common::pk;
use serde_json::json;
use testigo_ledger::api::{ConsentView, Consents};
use testigo_ledger::entry::{DataCategory, Purpose};
use testigo_ledger::state::Consent;

fn view() -> ConsentView {
    ConsentView {
        index: 12,
        consent: Consent {
            subject: pk("alice"),
            accessor: Some(pk("acme")),
            categories: vec![DataCategory::Location, DataCategory::CallLog],
            purposes: vec![Purpose::ServiceProvision],
            price: 250,
            valid_from: 1_764_000_000_000,
            valid_until: Some(1_765_000_000_000),
            revoked_at: Some(40),
        },
    }
}

fn b64(label: &str) -> String {
    pk(label).to_base64()
}

/// `GET /v1/accounts/{key}/consents` as served before `ConsentView` reused the state's
/// `Consent`: the same keys, flat, and `null` for an absent option.
#[test]
fn consent_view_json_is_flat_and_unchanged() {
    let served = json!({
        "consents": [
            {
                "index": 12,
                "subject": b64("alice"),
                "accessor": b64("acme"),
                "categories": ["pd:Location", "pd:CallLog"],
                "purposes": ["dpv:ServiceProvision"],
                "price": 250,
                "valid_from": 1_764_000_000_000u64,
                "valid_until": 1_765_000_000_000u64,
                "revoked_at": 40,
            },
            {
                "index": 13,
                "subject": b64("alice"),
                "accessor": null,
                "categories": ["pd:Location", "pd:CallLog"],
                "purposes": ["dpv:ServiceProvision"],
                "price": 250,
                "valid_from": 1_764_000_000_000u64,
                "valid_until": null,
                "revoked_at": null,
            },
        ]
    });
    let mut open = view();
    open.index = 13;
    open.consent.accessor = None;
    open.consent.valid_until = None;
    open.consent.revoked_at = None;
    let consents = Consents {
        consents: vec![view(), open],
        next: None,
    };
    assert_eq!(serde_json::to_value(&consents).unwrap(), served);
    let parsed: Consents = serde_json::from_value(served).unwrap();
    assert_eq!(parsed, consents);
    // A page cut by the cap says where the next starts.
    let cut = Consents {
        next: Some(14),
        ..consents
    };
    let mut with_next = serde_json::to_value(&cut).unwrap();
    assert_eq!(with_next["next"], 14);
    with_next.as_object_mut().unwrap().remove("next");
    assert_eq!(
        with_next,
        serde_json::to_value(&cut.consents)
            .map(|c| json!({"consents": c}))
            .unwrap()
    );
}
