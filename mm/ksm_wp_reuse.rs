// SPDX-License-Identifier: GPL-2.0

//! Reuse a KSM folio on a write fault when only the faulting PTE maps it.
//!
//! Linux 5.1 did this in C (52d1e606, "mm: reuse only-pte-mapped KSM page in do_wp_page()");
//! 5.9 removed it while simplifying COW. Without it, every write to a KSM page copies the page,
//! even when no one else maps it any more: ksmd's stable node goes stale only on its next visit.

use kernel::mm::{
    fault::WpFault,
    folio::{lru_add_drain, Folio},
    ksm::WpReuse,
    Mm,
};
use kernel::prelude::*;

/// The checks of the folio's state that can only change under the folio lock: made once
/// without it to fail fast, and again under it to be sure.
fn check_locked_state(folio: &Folio, mm: &Mm) -> Result<(), WpReuse> {
    if folio.test_swapcache() {
        // The swap slot still refers to the folio; reuse would leave it behind.
        return Err(WpReuse::Swapcache);
    }
    if !folio.has_stable_node() {
        // ksmd is linking the folio into the stable tree right now.
        return Err(WpReuse::NoStableNode);
    }
    if !folio.charged_to(mm) {
        // Reuse would hand the faulting process memory billed to another cgroup, beyond its own
        // memory.max; a copy is charged to its own.
        return Err(WpReuse::Memcg);
    }
    Ok(())
}

/// Decides whether the faulting process may have the KSM folio `fault` maps for itself, and if
/// so makes it the process's own anonymous folio.
fn reuse(fault: &WpFault<'_>) -> Result<(), WpReuse> {
    let folio = fault.folio();
    let mm = fault.vma().mm();

    if folio.test_large() {
        return Err(WpReuse::Large);
    }
    check_locked_state(folio, mm)?;

    // Our mapping holds one reference; a folio not on the LRU may sit in this CPU's LRU batch,
    // which holds another. Drain it only if that could leave our reference the last one.
    let maybe_in_lru_cache = !folio.test_lru();
    if folio.ref_count() > 1 + i32::from(maybe_in_lru_cache) {
        return Err(WpReuse::Refcount);
    }
    if maybe_in_lru_cache {
        lru_add_drain();
    }
    if folio.ref_count() != 1 {
        return Err(WpReuse::Refcount);
    }

    let locked = folio.trylock().ok_or(WpReuse::Trylock)?;
    check_locked_state(&locked, mm)?;
    // KSM's lookup (ksm_get_folio()) peeks at the folio without a reference: the frozen count
    // tells it the stable node is stale, so it frees the node rather than hand the folio out.
    if !locked.freeze_and_move_anon_rmap(fault) {
        return Err(WpReuse::Freeze);
    }
    Ok(())
}

/// Called by `do_wp_page()` for a KSM folio; returns a `enum ksm_wp_reuse_result`.
///
/// On `KSM_WP_REUSED` the folio is now the faulting VMA's exclusive anonymous folio.
///
/// # Safety
///
/// `vmf` is the fault `do_wp_page()` is handling on a private mapping, with the page table lock
/// held; `folio` is the folio the faulting PTE maps.
#[export]
pub unsafe extern "C" fn ksm_wp_reuse_folio(
    vmf: *const kernel::bindings::vm_fault,
    folio: *mut kernel::bindings::folio,
) -> u32 {
    // SAFETY: The caller's guarantees are those of `WpFault::from_raw`.
    let fault = unsafe { WpFault::from_raw(vmf, folio) };
    match reuse(&fault) {
        Ok(()) => WpReuse::Reused.into(),
        Err(refusal) => refusal.into(),
    }
}
