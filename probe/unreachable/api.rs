// SPDX-License-Identifier: GPL-2.0

//! Must not build: the reference and map counts, the index, the swap slot and the KSM reuse
//! types are mm's, kept private to `mm/ksm_wp_reuse.rs`, not the `kernel` crate's to offer.

use kernel::mm::folio::Folio;
use kernel::mm::ksm::StableKsmFolio;

/// Every line is an error.
pub fn reach(folio: &Folio) {
    let _ = folio.ref_count();
    let _ = folio.mapcount();
    if let Some(locked) = folio.trylock() {
        let _ = locked.free_swap();
        let _ = StableKsmFolio::new(&locked);
    }
    // SAFETY: It is not: this is what must not build.
    unsafe { folio.set_index(0) };
}
