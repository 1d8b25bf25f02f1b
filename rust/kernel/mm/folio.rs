// SPDX-License-Identifier: GPL-2.0

//! Folios: the kernel's unit of memory for mapped pages.
//!
//! A [`Folio`] is borrowed from a C caller, or owned as [`ARef<Folio>`] (a reference, as from
//! [`Folio::alloc`]). [`Folio::trylock`] takes the folio lock as a [`FolioLockGuard`], which
//! unlocks on drop: operations that need the lock are to be reachable from the guard only.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)

use crate::{
    alloc::{AllocError, Flags},
    bindings,
    mm::Mm,
    sync::aref::{ARef, AlwaysRefCounted},
    types::{NotThreadSafe, Opaque},
};
use core::{ops::Deref, ptr::NonNull};

/// A wrapper for the kernel's `struct folio`.
///
/// # Invariants
///
/// The folio is valid (allocated, not freed) for as long as a `&Folio` exists: it is borrowed
/// from a caller that holds a reference of its own, or a mapping (which holds one) under the PTE
/// lock; never only the page cache's or the swap cache's, which go with the folio lock held. Its
/// reference count is non-zero, except while the holder of its only reference has frozen it
/// (`folio_ref_freeze()`): then only that holder uses its `&Folio`, takes no reference and
/// unfreezes the count before anyone else can use one.
#[repr(transparent)]
pub struct Folio(Opaque<bindings::folio>);

// SAFETY: A folio reference may be dropped (`folio_put`) on any thread.
unsafe impl Send for Folio {}
// SAFETY: The methods on `&Folio` are atomic reads or take the folio lock; they can be called
// from several threads at once.
unsafe impl Sync for Folio {}

// SAFETY: `folio_get` and `folio_put` keep the folio alive while the count is non-zero.
unsafe impl AlwaysRefCounted for Folio {
    #[inline]
    fn inc_ref(&self) {
        // SAFETY: By the type invariants, the folio is valid.
        unsafe { bindings::folio_get(self.as_ptr()) };
    }

    #[inline]
    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up its reference, which keeps the folio valid until here.
        unsafe { bindings::folio_put(obj.cast().as_ptr()) };
    }
}

impl Folio {
    /// Allocates a folio of `1 << order` pages.
    #[inline]
    pub fn alloc(flags: Flags, order: u32) -> Result<ARef<Self>, AllocError> {
        // SAFETY: Any flags and order are accepted; a failed allocation returns NULL.
        let ptr = unsafe { bindings::folio_alloc(flags.as_raw(), order) };
        let ptr = NonNull::new(ptr).ok_or(AllocError)?;
        // SAFETY: The allocation gave us the one reference, which the `ARef` now owns.
        Ok(unsafe { ARef::from_raw(ptr.cast()) })
    }

    /// Borrows a folio from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a folio that stays valid for `'a`: the caller holds a reference of its
    /// own (not the page cache's or the swap cache's), or a mapping of it that cannot go away (the
    /// PTE lock), for that long. Its reference count must not be frozen.
    #[inline]
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::folio) -> &'a Self {
        // SAFETY: `Folio` is a transparent wrapper, and the caller ensures validity for `'a`.
        unsafe { &*ptr.cast() }
    }

    /// Returns the raw `struct folio` pointer.
    #[inline]
    pub fn as_ptr(&self) -> *mut bindings::folio {
        self.0.get()
    }

    /// Returns the page frame number of the folio's first page.
    #[inline]
    pub fn pfn(&self) -> usize {
        // SAFETY: By the type invariants, the folio is valid.
        unsafe { bindings::folio_pfn(self.as_ptr()) }
    }

    // The predicates below that are one read of a word (flags, mapping, count) read it here
    // rather than call the C helper: a GCC-built kernel cannot inline a helper into Rust, and
    // each call cost a KSM write fault 5 to 9 instructions (`make bench`'s stepped fault). They
    // read what the C functions read, as they read it; the `rust_mm_folio` KUnit suite checks
    // each against its C helper. `kernel::sync::atomic::Atomic::load()` would be a helper call
    // too, hence `read_volatile()`, which is what `READ_ONCE()` and `atomic_read()` compile to.

    /// The folio's head page fields (flags, mapping, count), as a raw place.
    #[inline(always)]
    fn fields(&self) -> *mut bindings::folio__bindgen_ty_1__bindgen_ty_1 {
        // SAFETY: By the type invariants, the folio is valid; this only computes an address.
        unsafe { core::ptr::addr_of_mut!((*self.as_ptr()).__bindgen_anon_1.__bindgen_anon_1) }
    }

    /// `folio->flags`, read once, as `test_bit()` reads it.
    #[inline(always)]
    fn flags(&self) -> usize {
        // SAFETY: The folio is valid (type invariants); its flags are an aligned word that others
        // change only with atomic bit operations: a volatile read of it is `READ_ONCE()`.
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*self.fields()).flags.f)) }
    }

    /// Returns the folio's reference count.
    #[inline]
    pub fn ref_count(&self) -> i32 {
        // SAFETY: The folio is valid (type invariants); `folio_ref_count()` is `atomic_read()`,
        // a volatile read of the aligned counter.
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*self.fields())._refcount.counter)) }
    }

    /// Returns how many page table entries map the folio.
    #[inline]
    pub fn mapcount(&self) -> i32 {
        // SAFETY: By the type invariants, the folio is valid.
        unsafe { bindings::folio_mapcount(self.as_ptr()) }
    }

    /// Returns whether this is a KSM folio (merged by ksmd, mapped read-only by all sharers).
    #[inline]
    pub fn test_ksm(&self) -> bool {
        // SAFETY: By the type invariants, the folio is valid.
        unsafe { bindings::folio_test_ksm(self.as_ptr()) }
    }

    /// Returns whether the folio is in the swap cache.
    #[inline]
    pub fn test_swapcache(&self) -> bool {
        // As `folio_test_swapcache()`: PG_swapcache means it only with PG_swapbacked (else the
        // bit is PG_owner_priv_1's other use).
        let f = self.flags();
        f & (1 << bindings::pageflags_PG_swapbacked) != 0
            && f & (1 << bindings::pageflags_PG_swapcache) != 0
    }

    /// Returns whether the folio has more than one page.
    #[inline]
    pub fn test_large(&self) -> bool {
        // `folio_test_large()` is `folio_test_head()`.
        self.flags() & (1 << bindings::pageflags_PG_head) != 0
    }

    /// Returns whether the folio is locked (by anyone).
    #[inline]
    pub fn test_locked(&self) -> bool {
        // SAFETY: By the type invariants, the folio is valid.
        unsafe { bindings::folio_test_locked(self.as_ptr()) }
    }

    /// Returns whether this KSM folio has a stable node, i.e. it is not still being linked into
    /// KSM's stable tree. Always false for a folio that is not KSM.
    #[inline]
    pub fn has_stable_node(&self) -> bool {
        // As `folio_stable_node()`: a KSM folio's mapping, without its flag bits, is its stable
        // node.
        // SAFETY: The folio is valid (type invariants); the mapping is an aligned word, read
        // once as `READ_ONCE()` would, and only compared, never dereferenced.
        let mapping =
            unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*self.fields()).mapping)) };
        let mapping = mapping as usize;
        let flags = bindings::FOLIO_MAPPING_FLAGS as usize;
        mapping & flags == bindings::FOLIO_MAPPING_KSM as usize && mapping & !flags != 0
    }

    /// Returns whether the folio is charged to the memory cgroup of `mm` or to an ancestor of it
    /// (always true when memory cgroups are disabled): a folio of a removed cgroup is charged to
    /// its parent.
    #[inline]
    pub fn memcg_matches(&self, mm: &Mm) -> bool {
        // SAFETY: By the type invariants, the folio is valid; `mm` is valid since it is a
        // reference, and the helper reads `mm->owner` and the folio's memcg under RCU.
        unsafe { bindings::mm_match_folio_memcg(mm.as_raw(), self.as_ptr()) }
    }

    /// Sets the folio's index, its page offset as rmap walks compute it.
    ///
    /// # Safety
    ///
    /// Nobody else may read or write the index meanwhile: the caller holds the folio lock and
    /// has frozen its reference count.
    #[inline]
    pub unsafe fn set_index(&self, index: usize) {
        // SAFETY: By the type invariants, the folio is valid; the caller excludes other
        // accesses. `index` is a field of the folio's first page, behind bindgen's anonymous
        // unions.
        unsafe {
            (*self.as_ptr())
                .__bindgen_anon_1
                .__bindgen_anon_1
                .__bindgen_anon_2
                .index = index
        };
    }

    /// Tries to take the folio lock without sleeping.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::folio::Folio;
    ///
    /// let folio = Folio::alloc(GFP_KERNEL, 0)?;
    /// let guard = folio.trylock().ok_or(EBUSY)?;
    /// assert!(folio.test_locked());
    /// // Held: a second attempt fails.
    /// assert!(folio.trylock().is_none());
    /// drop(guard);
    /// assert!(!folio.test_locked());
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn trylock(&self) -> Option<FolioLockGuard<'_>> {
        // SAFETY: By the type invariants, the folio is valid.
        if unsafe { bindings::folio_trylock(self.as_ptr()) } {
            // INVARIANT: We just took the folio lock.
            Some(FolioLockGuard {
                folio: self,
                _nts: NotThreadSafe,
            })
        } else {
            None
        }
    }
}

/// A locked folio; unlocks it when dropped.
///
/// # Invariants
///
/// This guard owns the folio lock of `folio`.
#[must_use = "the folio unlocks when the guard is dropped"]
pub struct FolioLockGuard<'a> {
    folio: &'a Folio,
    // The folio lock is a bit lock: unlock it on the thread that took it.
    _nts: NotThreadSafe,
}

impl Deref for FolioLockGuard<'_> {
    type Target = Folio;

    #[inline]
    fn deref(&self) -> &Folio {
        self.folio
    }
}

impl FolioLockGuard<'_> {
    /// Takes the folio out of the swap cache and frees its swap slots if no swap entry refers
    /// to them any more (`folio_free_swap()`): no page table or shmem mapping still holds one,
    /// the folio is not under writeback and hibernation is not writing its image. The data then
    /// lives in the folio only, which is marked dirty. Returns whether it did so: false for a
    /// folio that is not in the swap cache, and false, harmlessly, when a swap count dropped to
    /// zero only just now.
    ///
    /// The swap cache's references to the folio go with it. It does not sleep (it takes the
    /// swap cluster's spinlock), so the page table lock may be held.
    ///
    /// Not `#[inline]`: modules call the kernel crate's symbol, `folio_free_swap()` is not
    /// exported to them.
    pub fn free_swap(&self) -> bool {
        #[cfg(CONFIG_SWAP)]
        {
            // SAFETY: By the type invariants, we hold the folio lock, which the function
            // requires; the lock also keeps the swap device of a folio in its swap cache from
            // going (swapoff must take it to empty the cache). The references it drops are the
            // swap cache's, never the one that keeps `self.folio` valid (type invariants of
            // `Folio`: the borrower's own reference, or a mapping's).
            unsafe { bindings::folio_free_swap(self.folio.as_ptr()) }
        }
        #[cfg(not(CONFIG_SWAP))]
        false
    }
}

impl Drop for FolioLockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: By the type invariants, we hold the folio lock.
        unsafe { bindings::folio_unlock(self.folio.as_ptr()) };
    }
}

#[macros::kunit_tests(rust_mm_folio)]
mod tests {
    use super::*;
    use crate::alloc::flags::GFP_KERNEL;

    #[test]
    fn fresh_folio_predicates() -> Result<(), AllocError> {
        let folio = Folio::alloc(GFP_KERNEL, 0)?;
        assert!(!folio.test_ksm());
        assert!(!folio.test_swapcache());
        assert!(!folio.test_large());
        assert!(!folio.test_locked());
        assert!(!folio.has_stable_node());
        assert_eq!(folio.mapcount(), 0);
        assert!(folio.pfn() != 0);

        let large = Folio::alloc(GFP_KERNEL, 2)?;
        assert!(large.test_large());
        Ok(())
    }

    #[test]
    fn ref_count_follows_references() -> Result<(), AllocError> {
        let folio = Folio::alloc(GFP_KERNEL, 0)?;
        assert_eq!(folio.ref_count(), 1);
        let second = folio.clone();
        assert_eq!(folio.ref_count(), 2);
        let third = ARef::from(&*second);
        assert_eq!(folio.ref_count(), 3);
        drop(second);
        assert_eq!(folio.ref_count(), 2);
        drop(third);
        assert_eq!(folio.ref_count(), 1);
        Ok(())
    }

    #[test]
    fn trylock_contends_and_guard_unlocks() -> Result<(), AllocError> {
        let folio = Folio::alloc(GFP_KERNEL, 0)?;
        {
            let guard = folio.trylock();
            assert!(guard.is_some());
            assert!(folio.test_locked());
            // The lock is held: a second trylock fails and changes nothing.
            assert!(folio.trylock().is_none());
            assert!(folio.test_locked());
        }
        assert!(!folio.test_locked());
        assert!(folio.trylock().is_some());
        assert!(!folio.test_locked());
        Ok(())
    }

    /// Sets `folio`'s flags word and mapping to raw values for `check`, then puts both back.
    ///
    /// # Safety
    ///
    /// `folio` was just allocated by the caller, which holds its only reference, and it is on no
    /// list (LRU, swap cache, page cache): no other code looks at it through a reference, so the
    /// plain writes race with nothing that acts on them, and it is freed with its own flags and
    /// a NULL mapping as the allocator wants. Walkers by PFN may see the raw state meanwhile, or
    /// for good if `check` aborts the test and the folio leaks: `/proc/kpageflags` only tests
    /// its bits, and compaction and memory offlining pass over a page that is neither on the LRU
    /// nor a movable_ops page (a typed page), so none dereferences the made-up mapping.
    unsafe fn with_raw_state(
        folio: &Folio,
        flags: usize,
        mapping: usize,
        check: impl FnOnce(&Folio),
    ) {
        let fields = folio.fields();
        // SAFETY: The folio is valid, and no one else writes or acts on these words (see above).
        let (old_flags, old_mapping) = unsafe {
            let old = ((*fields).flags.f, (*fields).mapping);
            (*fields).flags.f = flags;
            (*fields).mapping = mapping as *mut bindings::address_space;
            old
        };
        check(folio);
        // SAFETY: As above.
        unsafe {
            (*fields).flags.f = old_flags;
            (*fields).mapping = old_mapping;
        }
    }

    // The C helpers that the predicates reading a word themselves stand for.
    fn c_test_large(f: &Folio) -> bool {
        // SAFETY: `f` is valid (type invariants of `Folio`).
        unsafe { bindings::folio_test_large(f.as_ptr()) }
    }
    fn c_ref_count(f: &Folio) -> i32 {
        // SAFETY: `f` is valid (type invariants of `Folio`).
        unsafe { bindings::folio_ref_count(f.as_ptr()) }
    }
    fn c_test_swapcache(f: &Folio) -> bool {
        // SAFETY: `f` is valid (type invariants of `Folio`).
        unsafe { bindings::folio_test_swapcache(f.as_ptr()) }
    }
    fn c_has_stable_node(f: &Folio) -> bool {
        // SAFETY: `f` is valid (type invariants of `Folio`); the node is only compared.
        !unsafe { bindings::folio_stable_node(f.as_ptr()) }.is_null()
    }

    /// The predicates that read a word themselves answer as the C helpers they stand for, on
    /// every combination of the bits and mapping values they look at.
    #[test]
    fn predicates_read_what_the_c_helpers_read() -> Result<(), AllocError> {
        let swapbacked = 1usize << bindings::pageflags_PG_swapbacked;
        let swapcache = 1usize << bindings::pageflags_PG_swapcache;
        let ksm = bindings::FOLIO_MAPPING_KSM as usize;
        let anon = bindings::FOLIO_MAPPING_ANON as usize;
        // A stable node's address, never dereferenced by either side: only compared.
        let node = 0x1000usize;

        for order in [0, 2] {
            let folio = Folio::alloc(GFP_KERNEL, order)?;
            assert_eq!(folio.test_large(), c_test_large(&folio));
            assert_eq!(folio.test_large(), order > 0);
            assert_eq!(folio.ref_count(), c_ref_count(&folio));
            let second = folio.clone();
            assert_eq!(folio.ref_count(), c_ref_count(&folio));
            drop(second);
            if order > 0 {
                // KSM and the swap cache of a KSM folio: small folios only.
                continue;
            }
            let base = folio.flags();
            for bits in [0, swapbacked, swapcache, swapbacked | swapcache] {
                for mapping in [0, anon, ksm, node, node | anon, node | ksm] {
                    let check = |f: &Folio| {
                        assert_eq!(f.test_swapcache(), c_test_swapcache(f));
                        assert_eq!(f.test_swapcache(), bits == swapbacked | swapcache);
                        assert_eq!(f.has_stable_node(), c_has_stable_node(f));
                        assert_eq!(f.has_stable_node(), mapping == node | ksm);
                    };
                    // SAFETY: `folio` was allocated above and was put on no list; `second`,
                    // its only other reference, is gone.
                    unsafe { with_raw_state(&folio, base | bits, mapping, check) };
                }
            }
            assert!(!folio.test_swapcache() && !folio.has_stable_node());
        }
        Ok(())
    }

    /// A folio that is not in the swap cache has no swap slot to free: `free_swap()` says so and
    /// leaves the folio, its lock and its references as they were.
    #[test]
    fn free_swap_outside_swap_cache_changes_nothing() -> Result<(), AllocError> {
        let folio = Folio::alloc(GFP_KERNEL, 0)?;
        {
            let guard = folio.trylock().ok_or(AllocError)?;
            assert!(!guard.free_swap());
            assert!(guard.test_locked());
            assert!(!guard.test_swapcache());
            assert_eq!(guard.ref_count(), 1);
        }
        assert!(!folio.test_locked());
        Ok(())
    }
}
