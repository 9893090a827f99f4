//! Replay of a generated log reproduces the live state and every state root bit for bit, and
//! stops, naming the leaf, at anything that breaks the log.

mod common;

use common::generator::{Generator, seed};
use common::{ORIGIN, key};
use testigo_ledger::Hash;
use testigo_ledger::entry::{Body, StateRoot, sign_body};
use testigo_ledger::map::{MapError, StateMap as _};
use testigo_ledger::state::{Rejection, ReplayCause, replay};

fn generated(n: usize) -> Generator {
    let mut g = Generator::new(seed());
    g.run(n);
    g.f.state_root();
    g
}

#[test]
fn replay_reproduces_every_state_root_and_the_state() {
    let g = generated(3_000);
    let leaves =
        g.f.leaves
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, l)| (i as u64, l));
    let outcome = replay(leaves).expect("the generated log replays");
    assert_eq!(&outcome.state, g.f.state(), "seed {}", g.seed);
    let live: Vec<(u64, Hash)> =
        g.f.leaves
            .iter()
            .enumerate()
            .filter_map(|(i, l)| match l.decode_body() {
                Ok(Body::StateRoot(b)) => Some((i as u64, b.map_root)),
                _ => None,
            })
            .collect();
    assert!(live.len() > 10);
    assert_eq!(outcome.state_roots, live, "seed {}", g.seed);
    assert_eq!(outcome.state.check_invariants(), Ok(()));
    // Only the last StateRoot's map version is kept: a replay's memory does not grow with the log.
    let latest = outcome.map.latest_version().unwrap().unwrap();
    assert_eq!(outcome.map.root(latest).unwrap(), live.last().unwrap().1);
    assert!(matches!(
        outcome.map.root(0),
        Err(MapError::VersionPruned { .. })
    ));
}

#[test]
fn replay_stops_at_a_forged_state_root() {
    let g = generated(400);
    let mut leaves = g.f.leaves.clone();
    let last = leaves.len() - 1;
    let forged = sign_body(
        ORIGIN,
        &key("operator"),
        &Body::StateRoot(StateRoot {
            as_of: last as u64,
            map_root: Hash([1; 32]),
        }),
    )
    .sequenced(leaves[last].sequenced_at);
    leaves[last] = forged;
    let err = replay(leaves.into_iter().enumerate().map(|(i, l)| (i as u64, l))).unwrap_err();
    assert_eq!(err.index, last as u64);
    assert!(
        matches!(err.rejection(), Some(Rejection::StateRootMismatch { .. })),
        "{err}"
    );
}

#[test]
fn replay_stops_at_a_bad_signature_and_at_a_gap() {
    let g = generated(600);
    let mut leaves = g.f.leaves.clone();
    let bad = leaves.len() / 2;
    leaves[bad].signature[10] ^= 4;
    let err = replay(
        leaves
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, l)| (i as u64, l)),
    )
    .unwrap_err();
    assert_eq!(err.index, bad as u64);
    assert!(
        matches!(err.rejection(), Some(Rejection::BadSignature { .. })),
        "{err}"
    );

    let gap =
        g.f.leaves
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, l)| (i as u64, l))
            .filter(|(i, _)| *i != 5);
    let err = replay(gap).unwrap_err();
    assert!(
        matches!(
            err.cause,
            ReplayCause::OutOfSequence {
                expected: 5,
                got: 6
            }
        ),
        "{err}"
    );
}
