//! Every operation reads O(log n) stored hashes in exactly one call, on a 1,000,000-leaf tree.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng as _, SeedableRng as _};
use testigo_ledger::merkle::{
    CountingReader, MemoryStore, consistency_proof, inclusion_proof, integrate, root,
};
use testigo_ledger::verify::{consistency_proof_len, inclusion_proof_len};
use testigo_ledger::{Blake3, Hash, TreeHasher};

const N: u64 = 1_000_000;

fn million_leaf_store() -> MemoryStore {
    let mut store = MemoryStore::new();
    let leaves: Vec<Hash> = (0..N).map(|i| Blake3.hash_leaf(&i.to_be_bytes())).collect();
    for batch in leaves.chunks(50_000) {
        store.append(&Blake3, batch).unwrap();
    }
    store
}

fn ceil_log2(n: u64) -> u64 {
    u64::from(64 - n.saturating_sub(1).leading_zeros())
}

/// The budget the brief sets: at most 2·⌈log2 n⌉ + 2 ids per proof.
fn budget(size: u64) -> u64 {
    2 * ceil_log2(size) + 2
}

#[test]
fn proofs_and_roots_read_logarithmically_many_ids_in_one_call() {
    let store = million_leaf_store();
    let reader = CountingReader::new(&store);
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut max_ids = (0, 0);

    let mut sizes: Vec<u64> = (0..40).map(|_| 1 + rng.next_u64() % N).collect();
    sizes.extend([
        1,
        2,
        3,
        255,
        256,
        257,
        (1 << 19) - 1,
        1 << 19,
        (1 << 19) + 1,
        N - 1,
        N,
    ]);
    for &size in &sizes {
        reader.reset();
        root(&Blake3, &reader, size).unwrap();
        assert_eq!(reader.calls(), 1, "root({size}) calls");
        assert_eq!(
            reader.ids_read(),
            u64::from(size.count_ones()),
            "root({size}) ids"
        );

        let mut indices: Vec<u64> = (0..50).map(|_| rng.next_u64() % size).collect();
        indices.extend([0, size / 2, size - 1, size.saturating_sub(2)]);
        for index in indices {
            reader.reset();
            let proof = inclusion_proof(&Blake3, &reader, index, size).unwrap();
            assert_eq!(proof.len(), inclusion_proof_len(index, size));
            assert_eq!(reader.calls(), 1, "inclusion {index} in {size}: calls");
            assert!(
                reader.ids_read() <= budget(size),
                "inclusion {index} in {size}: ids"
            );
            max_ids.0 = max_ids.0.max(reader.ids_read());
        }

        let mut froms: Vec<u64> = (0..50).map(|_| 1 + rng.next_u64() % size).collect();
        froms.extend([1, size / 2, size - 1]);
        for from in froms.into_iter().filter(|&from| from > 0 && from < size) {
            reader.reset();
            let proof = consistency_proof(&Blake3, &reader, from, size).unwrap();
            assert_eq!(proof.len(), consistency_proof_len(from, size));
            assert_eq!(reader.calls(), 1, "consistency {from} to {size}: calls");
            assert!(
                reader.ids_read() <= budget(size),
                "consistency {from} to {size}: ids"
            );
            max_ids.1 = max_ids.1.max(reader.ids_read());
        }
    }
    // 2·⌈log2 1,000,000⌉ + 2 = 42; report what was actually needed.
    println!(
        "most ids read: inclusion {}, consistency {}",
        max_ids.0, max_ids.1
    );
}

#[test]
fn integrate_reads_only_the_right_edge_in_one_call() {
    let store = million_leaf_store();
    let reader = CountingReader::new(&store);
    let leaf = Blake3.hash_leaf(b"one more");

    let out = integrate(&Blake3, &reader, N, &[leaf]).unwrap();
    assert_eq!(reader.calls(), 1);
    assert_eq!(reader.ids_read(), u64::from(N.count_ones()));
    assert!(reader.ids_read() <= ceil_log2(N));
    // One leaf after 1,000,000 (…01000000 in binary) completes no subtree: one write.
    assert_eq!(out.writes.len(), 1);

    reader.reset();
    let batch = vec![leaf; 1000];
    let out = integrate(&Blake3, &reader, N, &batch).unwrap();
    assert_eq!(
        (reader.calls(), reader.ids_read()),
        (1, u64::from(N.count_ones()))
    );
    assert_eq!(out.new_size, N + 1000);
    // Each completed subtree is written once: leaves plus their carries.
    let carries = (N..N + 1000)
        .map(|i| u64::from((i + 1).trailing_zeros()))
        .sum::<u64>();
    assert_eq!(out.writes.len() as u64, 1000 + carries);
}
