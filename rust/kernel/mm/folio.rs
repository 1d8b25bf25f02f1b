// SPDX-License-Identifier: GPL-2.0

//! Folios: the kernel's unit of memory for mapped pages.
//!
//! A [`Folio`] is borrowed from a C caller, or owned as [`ARef<Folio>`] (a reference, as from
//! [`Folio::alloc`]). [`Folio::trylock`] takes the folio lock as a [`FolioLockGuard`], which
//! unlocks on drop; operations that need the lock are only reachable from the guard.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)

use crate::{
    alloc::{AllocError, Flags},
    bindings,
    mm::{fault::WpFault, Mm},
    sync::aref::{ARef, AlwaysRefCounted},
    types::{NotThreadSafe, Opaque},
};
use core::{ops::Deref, ptr::NonNull};

/// A wrapper for the kernel's `struct folio`.
///
/// # Invariants
///
/// The folio is valid (allocated, not freed) for as long as a `&Folio` exists: it is borrowed
/// from a caller that holds it (a mapping under the PTE lock, or a reference).
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
    /// `ptr` must point to a folio that stays valid for `'a`: the caller holds a reference, or a
    /// mapping of it that cannot go away (the PTE lock), for that long.
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

    /// Returns the folio's reference count.
    #[inline]
    pub fn ref_count(&self) -> i32 {
        // SAFETY: By the type invariants, the folio is valid.
        unsafe { bindings::folio_ref_count(self.as_ptr()) }
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
        // SAFETY: By the type invariants, the folio is valid.
        unsafe { bindings::folio_test_swapcache(self.as_ptr()) }
    }

    /// Returns whether the folio is on an LRU list (and so in no CPU's LRU batch for addition).
    #[inline]
    pub fn test_lru(&self) -> bool {
        // SAFETY: By the type invariants, the folio is valid.
        unsafe { bindings::folio_test_lru(self.as_ptr()) }
    }

    /// Returns whether the folio has more than one page.
    #[inline]
    pub fn test_large(&self) -> bool {
        // SAFETY: By the type invariants, the folio is valid.
        unsafe { bindings::folio_test_large(self.as_ptr()) }
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
        // SAFETY: By the type invariants, the folio is valid. The stable node is only compared
        // with NULL, never dereferenced.
        !unsafe { bindings::folio_stable_node(self.as_ptr()) }.is_null()
    }

    /// Returns whether the folio is charged to the memory cgroup that a fault by `mm` would
    /// charge (always true when memory cgroups are disabled).
    #[inline]
    pub fn charged_to(&self, mm: &Mm) -> bool {
        // SAFETY: By the type invariants, the folio is valid; `mm` is valid since it is a
        // reference, and the helper reads `mm->owner` under RCU.
        unsafe { bindings::folio_memcg_charged_to_mm(self.as_ptr(), mm.as_raw()) }
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

    /// Takes the folio lock, sleeping until it is free.
    #[inline]
    pub fn lock(&self) -> FolioLockGuard<'_> {
        // SAFETY: By the type invariants, the folio is valid.
        unsafe { bindings::folio_lock(self.as_ptr()) };
        // INVARIANT: We just took the folio lock.
        FolioLockGuard {
            folio: self,
            _nts: NotThreadSafe,
        }
    }
}

/// Drains this CPU's LRU batches, dropping the references that folios waiting in them hold.
///
/// Does not sleep: it may be called under a spinlock such as the PTE lock.
#[inline]
pub fn lru_add_drain() {
    // SAFETY: Always safe to call.
    unsafe { bindings::lru_add_drain() };
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

impl Drop for FolioLockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: By the type invariants, we hold the folio lock.
        unsafe { bindings::folio_unlock(self.folio.as_ptr()) };
    }
}

impl FolioLockGuard<'_> {
    /// Makes the folio that `fault` maps the faulting VMA's own anonymous folio again, if the
    /// faulting mapping holds the only reference to it.
    ///
    /// Freezes the reference count at 1 (fails, changing nothing, if anyone else holds a
    /// reference: a GUP pin, KSM's lookup, migration), then moves the anon rmap to the VMA, sets
    /// the index to the anon page offset of the faulting address, and unfreezes. These steps are
    /// one operation: once the count was frozen, KSM's lookup may have taken this folio's stable
    /// node for stale and freed it, so the folio must not keep pointing at it. Nothing of the
    /// stable node may be touched after this returns `true`.
    ///
    /// Returns `false`, with nothing changed, if the folio is not the one `fault` maps or the
    /// freeze failed.
    #[inline]
    pub fn freeze_and_move_anon_rmap(&self, fault: &WpFault<'_>) -> bool {
        let folio = self.folio.as_ptr();
        if folio != fault.folio().as_ptr() {
            return false;
        }
        let vma = fault.vma().as_ptr();
        // SAFETY: `vma` is the faulting VMA, valid under the locks `WpFault` holds.
        let index = unsafe { bindings::linear_anon_page_index(vma, fault.address()) };
        // SAFETY: By the type invariants, the folio is valid and locked.
        if !unsafe { bindings::folio_ref_freeze(folio, 1) } {
            return false;
        }
        // From here on there is no way back (see above): no early return until unfrozen.
        //
        // SAFETY: The folio is locked and frozen, so nobody else can look it up or map it. It is
        // mapped by `vma` at the faulting address, whose page table lock is held (invariants of
        // `WpFault`), and `vma` has an anon_vma since it maps an anonymous folio.
        unsafe { bindings::folio_move_anon_rmap(folio, vma) };
        // SAFETY: The folio is locked and frozen: nobody else reads or writes its index now.
        unsafe {
            (*folio)
                .__bindgen_anon_1
                .__bindgen_anon_1
                .__bindgen_anon_2
                .index = index
        };
        // SAFETY: We froze the count at 1 above.
        unsafe { bindings::folio_ref_unfreeze(folio, 1) };
        true
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
        assert!(!folio.test_lru());
        assert!(!folio.test_large());
        assert!(!folio.test_locked());
        assert!(!folio.has_stable_node());
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
        let guard = folio.lock();
        assert!(guard.test_locked());
        drop(guard);
        assert!(!folio.test_locked());
        assert!(folio.trylock().is_some());
        assert!(!folio.test_locked());
        Ok(())
    }
}
