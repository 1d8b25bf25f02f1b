// SPDX-License-Identifier: GPL-2.0

//! Kernel samepage merging (KSM).
//!
//! C header: [`include/linux/ksm.h`](srctree/include/linux/ksm.h)

use crate::{
    bindings,
    mm::{
        fault::WpFault,
        folio::{Folio, FolioLockGuard},
    },
    types::NotThreadSafe,
};

/// Why a write fault did not reuse a KSM folio, as the `ksm:ksm_wp_reuse` tracepoint reports
/// it: the check that refused it. The fault copies the folio then.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WpRefusal {
    /// Another page table entry maps the folio too: the copy is correct.
    Mapped = bindings::ksm_wp_reuse_result_KSM_WP_MAPPED,
    /// The folio is in the swap cache and cannot leave it: another swap entry still refers to
    /// its slot (a sharer that has not faulted the page back in), it is under writeback, or
    /// hibernation is writing its image.
    Swapcache = bindings::ksm_wp_reuse_result_KSM_WP_SWAPCACHE,
    /// The folio has no stable node: it is being linked into the stable tree.
    NoStableNode = bindings::ksm_wp_reuse_result_KSM_WP_NO_STABLE_NODE,
    /// The folio is charged to a memory cgroup that is neither the faulting process's nor an
    /// ancestor of it.
    Memcg = bindings::ksm_wp_reuse_result_KSM_WP_MEMCG,
    /// Someone else holds a reference to the folio that only this fault maps.
    Refcount = bindings::ksm_wp_reuse_result_KSM_WP_REFCOUNT,
    /// The folio is locked by someone else.
    Trylock = bindings::ksm_wp_reuse_result_KSM_WP_TRYLOCK,
    /// Freezing the reference count at one failed: a reference was taken meanwhile.
    Freeze = bindings::ksm_wp_reuse_result_KSM_WP_FREEZE,
}

/// Proof that a write fault made a KSM folio the faulting VMA's own anonymous folio: only
/// [`StableKsmFolio::freeze_and_move_anon_rmap`] makes one.
#[must_use = "the folio was reused: tell the caller"]
pub struct Reused(());

/// Returns the outcome of a decision as the `enum ksm_wp_reuse_result` that `do_wp_page()`
/// acts on: `KSM_WP_REUSED` only with the proof that the folio was reused, since the caller then
/// marks the page exclusive and maps it writable.
#[inline]
pub fn wp_reuse_result(outcome: Result<Reused, WpRefusal>) -> u32 {
    match outcome {
        Ok(Reused(())) => bindings::ksm_wp_reuse_result_KSM_WP_REUSED,
        Err(refusal) => refusal as u32,
    }
}

/// A locked, small KSM folio with a stable node, out of the swap cache: a folio that a write
/// fault may take over with [`StableKsmFolio::freeze_and_move_anon_rmap`].
///
/// # Invariants
///
/// For `'a`, `folio` is locked, small, a KSM folio with a stable node, and not in the swap
/// cache. These only change under the folio lock (ksmd sets and clears the stable node,
/// migration replaces it, the swap cache adds and deletes folios, all with the folio locked),
/// so they hold while the lock is held.
pub struct StableKsmFolio<'a> {
    folio: &'a Folio,
    // Borrowed from a `FolioLockGuard`, which stays on its thread.
    _nts: NotThreadSafe,
}

impl<'a> StableKsmFolio<'a> {
    /// Checks, under the lock that `locked` holds, that it is a small KSM folio with a stable
    /// node that is not in the swap cache.
    ///
    /// Fails with [`WpRefusal::Swapcache`] for a folio in the swap cache (take it out first with
    /// [`FolioLockGuard::free_swap`], under the same lock), and with [`WpRefusal::NoStableNode`]
    /// for any other folio: one that is not KSM (or is large, which a KSM folio never is) has no
    /// stable node either.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{folio::Folio, ksm::{StableKsmFolio, WpRefusal}};
    ///
    /// let folio = Folio::alloc(GFP_KERNEL, 0)?;
    /// let locked = folio.trylock().ok_or(EBUSY)?;
    /// assert!(matches!(StableKsmFolio::new(&locked), Err(WpRefusal::NoStableNode)));
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn new(locked: &'a FolioLockGuard<'_>) -> Result<Self, WpRefusal> {
        let folio: &'a Folio = locked;
        if folio.test_swapcache() {
            return Err(WpRefusal::Swapcache);
        }
        if folio.test_large() || !folio.has_stable_node() {
            return Err(WpRefusal::NoStableNode);
        }
        // INVARIANT: Checked above, with the folio lock held for `'a` by `locked`.
        Ok(Self {
            folio,
            _nts: NotThreadSafe,
        })
    }

    /// Makes the folio the faulting VMA's own anonymous folio again, if it is the folio `fault`
    /// maps and that mapping holds the only reference to it.
    ///
    /// Freezes the reference count at 1 (fails, changing nothing, if anyone else holds a
    /// reference: a GUP pin, KSM's lookup, migration), then moves the anon rmap to the VMA, sets
    /// the index to the anon page offset of the faulting address, and unfreezes. These steps are
    /// one operation: KSM's lookup, `ksm_get_folio()`, takes a frozen count on a folio out of
    /// the swap cache for a stale stable node and frees the node, so once frozen the folio
    /// must not keep pointing at it. Nothing of the stable node may be touched after this
    /// succeeds; it consumes `self` since the folio is not KSM any more.
    ///
    /// Fails with [`WpRefusal::Freeze`], with nothing changed, if the freeze failed; and, with a
    /// warning, if the folio is not the one `fault` maps or the VMA has no `anon_vma`, which
    /// `do_wp_page()` never asks.
    // Always inlined: called once per reuse, and a call of its own cost the fault 33
    // instructions (`make bench`'s stepped fault).
    #[inline(always)]
    pub fn freeze_and_move_anon_rmap(self, fault: &WpFault<'_>) -> Result<Reused, WpRefusal> {
        let folio = self.folio.as_ptr();
        let vma = fault.vma().as_ptr();
        if crate::warn_on!(folio != fault.folio().as_ptr()) {
            return Err(WpRefusal::Freeze);
        }
        // SAFETY: `vma` is the faulting VMA, valid while its lock is held for the fault
        // (invariants of `WpFault`). A VMA that maps an anonymous folio has its `anon_vma` set
        // for good: only the VMA's teardown, under its write lock, clears it. It is read once,
        // as `READ_ONCE()` would, since another fault may set it in a VMA that maps none.
        let anon_vma = unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*vma).anon_vma)) };
        if crate::warn_on!(anon_vma.is_null()) {
            return Err(WpRefusal::Freeze);
        }
        // SAFETY: `vma` is valid as above; the function only reads it.
        let index = unsafe { bindings::linear_anon_page_index(vma, fault.address()) };
        // SAFETY: By the type invariants of `Folio`, the folio is valid.
        if !unsafe { bindings::folio_ref_freeze(folio, 1) } {
            return Err(WpRefusal::Freeze);
        }
        // From here on there is no way back (see above): no early return until unfrozen.
        //
        // The one reference was the faulting PTE's, under the page table lock held for `fault`,
        // so that PTE is the folio's only mapping and the swap cache holds none.
        //
        // SAFETY: The folio is locked (type invariants), anonymous (KSM) and frozen, so nobody
        // else can look it up or map it; `vma` maps it and has an `anon_vma` (checked above).
        unsafe { bindings::folio_move_anon_rmap(folio, vma) };
        // SAFETY: The folio is locked and frozen: nobody else reads or writes its index now.
        unsafe { self.folio.set_index(index) };
        // SAFETY: We froze the count at 1 above.
        unsafe { bindings::folio_ref_unfreeze(folio, 1) };
        Ok(Reused(()))
    }
}

impl WpFault<'_> {
    /// Drains this CPU's LRU batches (`lru_add_drain()`), dropping the references that the
    /// folios waiting in them hold.
    ///
    /// It takes the batches' local lock, which interrupt context must not: a fault is handled
    /// in task context, which this fault proves. It does not sleep, so the page table lock may
    /// be held.
    #[cfg(CONFIG_KSM_WP_REUSE)]
    #[inline]
    pub fn drain_lru_batches(&self) {
        // SAFETY: We run in task context (see above); the function takes no arguments.
        unsafe { bindings::ksm_wp_reuse_lru_add_drain() };
    }
}

#[macros::kunit_tests(rust_mm_ksm)]
mod tests {
    use super::*;
    use crate::alloc::{flags::GFP_KERNEL, AllocError};

    /// The freeze is only reachable through `StableKsmFolio::new()`, which refuses a folio that
    /// is not KSM and leaves it as it was.
    #[test]
    fn stable_ksm_folio_refuses_folio_that_is_not_ksm() -> Result<(), AllocError> {
        for order in [0, 2] {
            let folio = Folio::alloc(GFP_KERNEL, order)?;
            let pfn = folio.pfn();
            {
                let locked = folio.trylock().ok_or(AllocError)?;
                assert_eq!(
                    StableKsmFolio::new(&locked).err(),
                    Some(WpRefusal::NoStableNode)
                );
                assert!(locked.test_locked());
            }
            assert_eq!(folio.ref_count(), 1);
            assert_eq!(folio.mapcount(), 0);
            assert_eq!(folio.pfn(), pfn);
            assert!(!folio.test_ksm());
            assert!(!folio.has_stable_node());
            assert!(!folio.test_swapcache());
            assert!(!folio.test_locked());
        }
        Ok(())
    }
}
