// SPDX-License-Identifier: GPL-2.0

//! Reuse a KSM folio on a write fault when only the faulting PTE maps it.
//!
//! Linux 5.1 did this in C (52d1e606, "mm: reuse only-pte-mapped KSM page in do_wp_page()");
//! 5.9 removed it while simplifying COW. Without it, every write to a KSM page copies the page,
//! even when no one else maps it any more: ksmd's stable node goes stale only on its next visit.
//!
//! The decision, [`reuse`], is safe code over [`fault`], this file's private view of the fault
//! that `do_wp_page()` is handling: what mm may read of and do to the folio it maps, which is no
//! business of the `kernel` crate's other users.

use fault::{Reused, WpFault, WpRefusal};
use kernel::prelude::*;

/// Decides whether the faulting process may have the KSM folio `fault` maps for itself, and if
/// so makes it the process's own anonymous folio.
///
/// The checks before the folio lock fail fast, the cheapest and most common refusal first; the
/// folio's state that only changes under the lock is checked again under it. A folio in the swap
/// cache is taken out of it under the lock first, if no other swap entry refers to its slot.
fn reuse<'f>(fault: &WpFault<'f>) -> Result<Reused<'f>, WpRefusal> {
    if fault.mapcount() != 1 {
        // Another page table maps the page: the copy is correct, not a lost reuse.
        return Err(WpRefusal::Mapped);
    }
    if !fault.has_stable_node() {
        // ksmd is linking the folio into the stable tree right now.
        return Err(WpRefusal::NoStableNode);
    }
    if !fault.charged_to_faulter() {
        // Charged to a cgroup that is neither ours nor a non-root ancestor of ours: a live
        // sibling tenant's page, into which ksmd merged ours. Reused, it would stay charged to
        // that tenant for as long as we keep it (the memcg does not move charges, and a swap-in
        // charges the memcg recorded with the swap entry again): counted in its memory.current
        // and reclaimed under its memory.max. The copy is charged to us, and frees the tenant's
        // page that no one else maps. Anon reuse has no such rule, but there the program chose
        // to share (fork); here ksmd did, behind the tenants' backs. Moving the charge instead
        // would mean charging under the page table lock, where we cannot reclaim.
        //
        // A page charged to a non-root ancestor is a removed cgroup's (memcg reparents a
        // removed cgroup's folios to its parent), as after a tenant stopped or restarted, where
        // most reuses come from: the ancestor's limits already count ours, as they count the
        // page cache a removed cgroup leaves behind; our own memory.max does not see the page,
        // as it does not see that page cache. The root counts against no limit: only its own
        // tasks take its pages.
        //
        // Checked once, not again under the folio lock, which reparenting does not take: a folio
        // only moves to a removed cgroup's parent, and ours and its ancestors cannot be removed
        // while we are in them. Moving the task to another cgroup meanwhile moves no charge.
        return Err(WpRefusal::Memcg);
    }

    // Our mapping holds one reference, and the swap cache one more if the folio is in it (one
    // per page, and a KSM folio is a single page). Any other is someone else's business with
    // the page (a pin, a pipe, KSM's lookup, migration, an LRU batch of the CPU ksmd ran on):
    // copy. The count must be exactly 1 when it freezes, after the swap cache let go.
    let in_swap_cache = fault.folio().is_swapcache();
    if fault.ref_count() != 1 + i32::from(in_swap_cache) {
        return Err(WpRefusal::Refcount);
    }

    let locked = fault.trylock().ok_or(WpRefusal::Trylock)?;
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
    // Only a folio that was in the swap cache before the lock is freed: `into_anon()` refuses
    // one that went in since (reclaim does it under the folio lock), and one that left it
    // meanwhile fails folio_free_swap() and is looked at again.
    if in_swap_cache && !locked.free_swap() && locked.is_swapcache() {
        return Err(WpRefusal::Swapcache);
    }
    locked.into_anon()
}

/// Called by `__ksm_wp_reuse()` for a KSM folio; returns an `enum ksm_wp_reuse_result`.
///
/// On `KSM_WP_REUSED` the folio is now the faulting VMA's exclusive anonymous folio.
///
/// # Safety
///
/// The caller is `do_wp_page()` handling a fault at `address` in `vma`, a private mapping, with
/// the page table lock held; `folio` is the KSM folio the faulting PTE maps.
#[export]
pub unsafe extern "C" fn ksm_wp_reuse_folio(
    folio: *mut kernel::bindings::folio,
    vma: *mut kernel::bindings::vm_area_struct,
    address: usize,
) -> u32 {
    // SAFETY: The caller's guarantees are those of `WpFault::with`.
    unsafe { WpFault::with(folio, vma, address, reuse) }
}

mod fault {
    //! The write-protect fault `do_wp_page()` is handling on a KSM folio, and what mm may do to
    //! that folio under its locks. Private to this file: the reference and map counts, the
    //! memcg, the swap slot and the rmap are mm's, not the `kernel` crate's to offer.

    use core::marker::PhantomData;
    use kernel::{
        bindings,
        mm::{
            folio::{Folio, FolioLockGuard},
            virt::VmaRef,
        },
        types::NotThreadSafe,
    };

    /// Why a write fault did not reuse a KSM folio, as the `ksm:ksm_wp_reuse` tracepoint
    /// reports it: the check that refused it. The fault copies the folio then.
    #[repr(u32)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(super) enum WpRefusal {
        /// Another page table entry maps the folio too: the copy is correct.
        Mapped = bindings::ksm_wp_reuse_result_KSM_WP_MAPPED,
        /// The folio is in the swap cache and cannot leave it: another swap entry still refers
        /// to its slot (a sharer that has not faulted the page back in), it is under writeback,
        /// or hibernation is writing its image.
        Swapcache = bindings::ksm_wp_reuse_result_KSM_WP_SWAPCACHE,
        /// The folio has no stable node: it is being linked into the stable tree.
        NoStableNode = bindings::ksm_wp_reuse_result_KSM_WP_NO_STABLE_NODE,
        /// The folio is charged to a memory cgroup that is neither the faulting process's nor
        /// an ancestor of it.
        Memcg = bindings::ksm_wp_reuse_result_KSM_WP_MEMCG,
        /// Someone else holds a reference to the folio that only this fault maps.
        Refcount = bindings::ksm_wp_reuse_result_KSM_WP_REFCOUNT,
        /// The folio is locked by someone else.
        Trylock = bindings::ksm_wp_reuse_result_KSM_WP_TRYLOCK,
        /// Freezing the reference count at one failed: a reference was taken meanwhile.
        Freeze = bindings::ksm_wp_reuse_result_KSM_WP_FREEZE,
    }

    /// Makes `'f` invariant: a fault's lifetime can be neither shortened nor lengthened into
    /// another's.
    type Brand<'f> = PhantomData<fn(&'f ()) -> &'f ()>;

    /// A write-protect fault on a KSM folio in a private mapping, as `do_wp_page()` handles
    /// it: a write (or an unshare request) hit a present, read-only PTE that maps the folio.
    ///
    /// It runs in atomic context, with the page table lock held; nothing reachable from it
    /// sleeps or takes that lock. `'f` is this fault's own: [`WpFault::with`] makes a new one
    /// for each fault, so that what a fault yields ([`Reused`]) is good for that fault alone.
    ///
    /// # Invariants
    ///
    /// For `'f`: the mmap or VMA read lock of `vma` is held, the page table lock of the faulting
    /// PTE is held by this thread, and that PTE maps `folio`, an anonymous folio, at `address`
    /// in `vma`, which therefore has an `anon_vma`.
    pub(super) struct WpFault<'f> {
        vma: &'f VmaRef,
        folio: &'f Folio,
        address: usize,
        _brand: Brand<'f>,
        // The page table lock is a spinlock held by this thread.
        _nts: NotThreadSafe,
    }

    impl WpFault<'_> {
        /// Runs `decide` on the fault that `do_wp_page()` is handling, under a lifetime of its
        /// own, and returns its outcome as the `enum ksm_wp_reuse_result` that `do_wp_page()`
        /// acts on: `KSM_WP_REUSED` only with this fault's proof that the folio was reused, since
        /// the caller then marks the page exclusive and maps it writable.
        ///
        /// # Safety
        ///
        /// The caller is `do_wp_page()` handling a write-protect fault at `address` in `vma`, a
        /// private mapping, with the page table lock of the faulting PTE held by this thread
        /// until this returns; `folio` is the anonymous folio that the locked PTE maps.
        #[inline]
        pub(super) unsafe fn with(
            folio: *mut bindings::folio,
            vma: *mut bindings::vm_area_struct,
            address: usize,
            decide: impl for<'f> FnOnce(&WpFault<'f>) -> Result<Reused<'f>, WpRefusal>,
        ) -> u32 {
            // INVARIANT: The caller holds the locks; the PTE maps `folio` at `address`.
            let fault = WpFault {
                // SAFETY: A fault runs with the mmap or VMA read lock held, for longer than this.
                vma: unsafe { VmaRef::from_raw(vma) },
                // SAFETY: The locked PTE maps `folio`, so it stays valid until we return. Its
                // count is never frozen while Rust runs: whoever else freezes an anon folio has
                // unmapped it first, which our PTE lock prevents, and `ksm_folio_to_anon()`
                // unfreezes it before it returns.
                folio: unsafe { Folio::from_raw(folio) },
                address,
                _brand: PhantomData,
                _nts: NotThreadSafe,
            };
            match decide(&fault) {
                Ok(Reused { .. }) => bindings::ksm_wp_reuse_result_KSM_WP_REUSED,
                Err(refusal) => refusal as u32,
            }
        }
    }

    impl<'f> WpFault<'f> {
        /// The folio the faulting PTE maps.
        #[inline]
        pub(super) fn folio(&self) -> &'f Folio {
            self.folio
        }

        /// Returns how many page table entries map the folio.
        #[inline]
        pub(super) fn mapcount(&self) -> i32 {
            // SAFETY: By the type invariants of `Folio`, the folio is valid.
            unsafe { bindings::folio_mapcount(self.folio.as_ptr()) }
        }

        /// Returns the folio's reference count.
        #[inline]
        pub(super) fn ref_count(&self) -> i32 {
            // SAFETY: By the type invariants of `Folio`, the folio is valid.
            unsafe { bindings::folio_ref_count(self.folio.as_ptr()) }
        }

        /// Returns whether the folio is a KSM folio with a stable node, i.e. not one that ksmd
        /// is still linking into the stable tree.
        #[inline]
        pub(super) fn has_stable_node(&self) -> bool {
            has_stable_node(self.folio)
        }

        /// Returns whether the folio is charged to the memory cgroup of the faulting mm or to a
        /// non-root ancestor of it (always true when memory cgroups are disabled).
        #[inline]
        pub(super) fn charged_to_faulter(&self) -> bool {
            let mm = self.vma.mm().as_raw();
            // SAFETY: The folio is valid (type invariants of `Folio`), and so is the mm of a VMA
            // whose lock is held; the helper reads `mm->owner` and the folio's memcg under RCU.
            unsafe { bindings::mm_match_folio_memcg(mm, self.folio.as_ptr()) }
        }

        /// Tries to take the folio lock without sleeping.
        #[inline]
        pub(super) fn trylock(&self) -> Option<LockedFaultFolio<'_, 'f>> {
            // INVARIANT: `guard` locks this fault's folio.
            Some(LockedFaultFolio {
                fault: self,
                guard: self.folio.trylock()?,
            })
        }
    }

    /// The folio of a [`WpFault`], locked; unlocked when dropped.
    ///
    /// # Invariants
    ///
    /// `guard` holds the lock of `fault`'s folio.
    pub(super) struct LockedFaultFolio<'a, 'f> {
        fault: &'a WpFault<'f>,
        guard: FolioLockGuard<'f>,
    }

    impl core::ops::Deref for LockedFaultFolio<'_, '_> {
        type Target = Folio;

        #[inline]
        fn deref(&self) -> &Folio {
            &self.guard
        }
    }

    impl<'f> LockedFaultFolio<'_, 'f> {
        /// Takes the folio out of the swap cache and frees its swap slot if no swap entry
        /// refers to it any more (`folio_free_swap()`): no page table or shmem mapping still
        /// holds one, the folio is not under writeback and hibernation is not writing its
        /// image. The data then lives in the folio only, which is marked dirty; zswap's copy
        /// and the memcg's swap charge go with the slot. Returns whether it did so: false for a
        /// folio that is not in the swap cache, and false, harmlessly, when a swap count dropped
        /// to zero only just now. It does not sleep (it takes the swap cluster's spinlock).
        #[inline]
        pub(super) fn free_swap(&self) -> bool {
            #[cfg(CONFIG_SWAP)]
            {
                // SAFETY: We hold the folio lock (type invariants), which the function requires;
                // it also keeps the swap device of a folio in its swap cache from going (swapoff
                // must take it to empty the cache). The references it drops are the swap
                // cache's, not the faulting PTE's that keeps the folio valid.
                unsafe { bindings::folio_free_swap(self.guard.as_ptr()) }
            }
            #[cfg(not(CONFIG_SWAP))]
            false
        }

        /// Makes the folio the faulting VMA's own anonymous folio again, if it is still a KSM
        /// folio with a stable node, out of the swap cache, and the faulting PTE holds the
        /// only reference to it; then unlocks it.
        ///
        /// Fails with [`WpRefusal::Swapcache`] for a folio in the swap cache (take it out first
        /// with [`LockedFaultFolio::free_swap`]), with [`WpRefusal::NoStableNode`] for one that
        /// is not a KSM folio with a stable node, and with [`WpRefusal::Freeze`] if anyone else
        /// holds a reference; in each case nothing changed.
        #[inline]
        pub(super) fn into_anon(self) -> Result<Reused<'f>, WpRefusal> {
            stable_ksm(&self.guard)?;
            let fault = self.fault;
            // SAFETY: The folio is locked (type invariants), and `stable_ksm()` found it a KSM
            // folio (small) with a stable node out of the swap cache, which only changes under
            // that lock. The faulting PTE maps it in `vma`, which has an `anon_vma`, under the page
            // table lock, and both locks are held for the fault (type invariants of `WpFault`).
            let moved = unsafe {
                bindings::ksm_folio_to_anon(fault.folio.as_ptr(), fault.vma.as_ptr(), fault.address)
            };
            if !moved {
                return Err(WpRefusal::Freeze);
            }
            Ok(Reused {
                _fault: PhantomData,
                _nts: NotThreadSafe,
            })
        }
    }

    /// Proof that a fault's folio was made the faulting VMA's own anonymous folio: only
    /// [`LockedFaultFolio::into_anon`] makes one, and only [`WpFault::with`] for the same fault
    /// takes it. Its lifetime is its fault's (invariant, and new for each fault), and it stays
    /// on its thread, so no other fault can claim it.
    #[must_use = "the folio was reused: tell the caller"]
    pub(super) struct Reused<'f> {
        _fault: Brand<'f>,
        _nts: NotThreadSafe,
    }

    /// Returns whether `folio` is a KSM folio with a stable node: `folio_stable_node()`.
    fn has_stable_node(folio: &Folio) -> bool {
        // SAFETY: By the type invariants of `Folio`, the folio is valid; the node is only
        // compared, never dereferenced.
        !unsafe { bindings::folio_stable_node(folio.as_ptr()) }.is_null()
    }

    /// Checks, under the lock `locked` holds, that its folio is a KSM folio with a stable node,
    /// out of the swap cache: what `ksm_folio_to_anon()` needs (a KSM folio is always small:
    /// ksmd merges small folios only). These only change under the folio lock (ksmd sets and
    /// clears the stable node, migration replaces it, the swap cache adds and deletes folios,
    /// all with the folio locked), so they hold while it is held.
    fn stable_ksm(locked: &FolioLockGuard<'_>) -> Result<(), WpRefusal> {
        if locked.is_swapcache() {
            return Err(WpRefusal::Swapcache);
        }
        if !has_stable_node(locked) {
            return Err(WpRefusal::NoStableNode);
        }
        Ok(())
    }

    #[kernel::prelude::kunit_tests(ksm_wp_reuse)]
    mod tests {
        use super::*;
        use kernel::alloc::{flags::GFP_KERNEL, AllocError};

        /// `ksm_folio_to_anon()` is only reached through `stable_ksm()`, which refuses a
        /// folio that is not KSM and leaves it as it was.
        #[test]
        fn stable_ksm_refuses_folio_that_is_not_ksm() -> Result<(), AllocError> {
            for order in [0, 2] {
                let folio = Folio::alloc(GFP_KERNEL, order)?;
                let pfn = folio.pfn();
                {
                    let locked = folio.trylock().ok_or(AllocError)?;
                    assert_eq!(stable_ksm(&locked), Err(WpRefusal::NoStableNode));
                    assert!(locked.is_locked());
                }
                assert_eq!(folio.pfn(), pfn);
                assert!(!folio.is_ksm());
                assert!(!has_stable_node(&folio));
                assert!(!folio.is_swapcache());
                assert!(!folio.is_locked());
            }
            Ok(())
        }
    }
}
