// SPDX-License-Identifier: GPL-2.0

//! Reuse a KSM folio on a write fault when only the faulting PTE maps it.
//!
//! Linux 5.1 did this in C (52d1e606, "mm: reuse only-pte-mapped KSM page in do_wp_page()");
//! 5.9 removed it while simplifying COW. Without it, every write to a KSM page copies the page,
//! even when no one else maps it any more: ksmd's stable node goes stale only on its next visit.

use kernel::mm::{
    fault::WpFault,
    ksm::{wp_reuse_result, Reused, StableKsmFolio, WpRefusal},
};
use kernel::prelude::*;

/// Decides whether the faulting process may have the KSM folio `fault` maps for itself, and if
/// so makes it the process's own anonymous folio.
///
/// The checks before the folio lock fail fast, the cheapest and most common refusal first; the
/// folio's state that only changes under the lock is checked again under it. A folio in the swap
/// cache is taken out of it under the lock first, if no other swap entry refers to its slot.
fn reuse(fault: &WpFault<'_>) -> Result<Reused, WpRefusal> {
    let folio = fault.folio();

    if folio.mapcount() != 1 {
        // Another page table maps the page: the copy is correct, not a lost reuse.
        return Err(WpRefusal::Mapped);
    }
    if !folio.has_stable_node() {
        // ksmd is linking the folio into the stable tree right now.
        return Err(WpRefusal::NoStableNode);
    }
    if !folio.memcg_matches(fault.vma().mm()) {
        // Charged to a sibling or other live cgroup: reuse would bill that tenant for the
        // faulting process's private memory, the copy is charged to the faulting process. A
        // folio of a removed cgroup is charged to its parent, which matches when the parent is
        // our cgroup or an ancestor of it. Checked once, not again under the folio lock, which
        // reparenting does not take: a folio only moves to a removed cgroup's parent, and ours
        // and its ancestors cannot be removed while we are in them. Moving the task to another
        // cgroup meanwhile moves no charge: the folio stays billed where it was.
        return Err(WpRefusal::Memcg);
    }

    // Our mapping holds one reference, and the swap cache one more if the folio is in it (one
    // per page, and a KSM folio is a single page). One more may be this CPU's LRU batch: ksmd
    // marks every page it merges accessed, which batches an activation and leaves PG_lru set,
    // so the flag does not tell. Drain it and look again; another CPU's batch cannot be drained
    // here. The count must be exactly 1 when it freezes, after the swap cache let go.
    let in_swap_cache = folio.test_swapcache();
    let own = 1 + i32::from(in_swap_cache);
    let refs = folio.ref_count();
    if refs != own {
        if refs != own + 1 {
            return Err(WpRefusal::Refcount);
        }
        fault.drain_lru_batches();
        if folio.ref_count() != own {
            return Err(WpRefusal::Refcount);
        }
    }

    let locked = folio.trylock().ok_or(WpRefusal::Trylock)?;
    // A KSM folio faulted back in from the swap cache keeps its slot there: do_swap_page()
    // frees it at once only on a SWP_SYNCHRONOUS_IO device, for an mlocked page or with swap
    // full, else on a write to an exclusive page, and a KSM page never is one. Free it, as
    // wp_can_reuse_anon_folio() does, unless another swap entry still refers to it (a sharer
    // that has not faulted the page back in will read it from the swap cache: copy). A later
    // refusal copies the folio with its slot freed, which is harmless, as there.
    //
    // KSM's lookup spins on a frozen folio only while it sees it in the swap cache (migration
    // freezes those, and they stay KSM); otherwise it takes the node for stale. Either is safe
    // here, so the lookup needs no barrier: folio_free_swap() clears the flag before the
    // freeze, and a lookup that still sees the flag spins until the unfreeze; its
    // folio_try_get() then succeeds, fully ordered, and finds the mapping moved: stale too.
    //
    // Only a folio that was in the swap cache before the lock is freed: StableKsmFolio::new()
    // refuses one that went in since (reclaim does it under the folio lock), and one that left
    // it meanwhile fails folio_free_swap() and is looked at again.
    if in_swap_cache && !locked.free_swap() && locked.test_swapcache() {
        return Err(WpRefusal::Swapcache);
    }
    let stable = StableKsmFolio::new(&locked)?;
    // KSM's lookup (ksm_get_folio()) peeks at the folio without a reference: the frozen count
    // tells it the stable node is stale, so it frees the node rather than hand the folio out.
    stable.freeze_and_move_anon_rmap(fault)
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
    wp_reuse_result(reuse(&fault))
}
