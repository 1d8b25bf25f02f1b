// SPDX-License-Identifier: GPL-2.0

//! Folios: the kernel's unit of memory for mapped pages.
//!
//! A [`Folio`] is borrowed from a C caller, or owned as [`ARef<Folio>`] (a reference, as from
//! [`Folio::alloc`]). It offers what any user of a folio may safely ask: its page frame number,
//! what kind of folio it is (`is_*`), and its lock: [`Folio::trylock`] takes the folio lock as a
//! [`FolioLockGuard`], which unlocks on drop, so operations that need the lock are reachable from
//! the guard only. The reference and map counts, the index and the swap slot are mm's own
//! business and are not offered here.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)

use crate::{
    alloc::{AllocError, Flags},
    bindings,
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
/// reference count is non-zero whenever its methods run: mm code holding the only reference may
/// freeze the count (`folio_ref_freeze()`) and unfreezes it before any of them is called again.
#[repr(transparent)]
pub struct Folio(Opaque<bindings::folio>);

// SAFETY: A folio reference may be dropped (`folio_put`) on any thread.
unsafe impl Send for Folio {}
// SAFETY: The methods on `&Folio` only read the folio (as the C helpers do, with atomic or
// `READ_ONCE()` reads) or take its lock atomically; they can be called from several threads at
// once.
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
    /// Allocates a folio of `1 << order` pages; fails for an order above `MAX_PAGE_ORDER`.
    #[inline]
    pub fn alloc(flags: Flags, order: u32) -> Result<ARef<Self>, AllocError> {
        // The page allocator warns on such an order: a caller's mistake, not the system's.
        if order > bindings::MAX_PAGE_ORDER {
            return Err(AllocError);
        }
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

    /// Returns whether this is a KSM folio (merged by ksmd, mapped read-only by all sharers).
    #[inline]
    pub fn is_ksm(&self) -> bool {
        // SAFETY: By the type invariants, the folio is valid.
        unsafe { bindings::folio_test_ksm(self.as_ptr()) }
    }

    /// Returns whether the folio is in the swap cache (always false without `CONFIG_SWAP`).
    #[inline]
    pub fn is_swapcache(&self) -> bool {
        // SAFETY: By the type invariants, the folio is valid.
        unsafe { bindings::folio_test_swapcache(self.as_ptr()) }
    }

    /// Returns whether the folio has more than one page.
    #[inline]
    pub fn is_large(&self) -> bool {
        // SAFETY: By the type invariants, the folio is valid.
        unsafe { bindings::folio_test_large(self.as_ptr()) }
    }

    /// Returns whether the folio is locked (by anyone).
    #[inline]
    pub fn is_locked(&self) -> bool {
        // SAFETY: By the type invariants, the folio is valid.
        unsafe { bindings::folio_test_locked(self.as_ptr()) }
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
    /// assert!(folio.is_locked());
    /// // Held: a second attempt fails.
    /// assert!(folio.trylock().is_none());
    /// drop(guard);
    /// assert!(!folio.is_locked());
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
/// A guard given to [`core::mem::forget`] leaves the folio locked for good: whoever waits for the
/// lock waits forever, and freeing the folio reports a bad page state. Not undefined behaviour,
/// but a bug.
///
/// # Invariants
///
/// This guard owns the folio lock of `folio`.
#[must_use = "the folio unlocks when the guard is dropped"]
pub struct FolioLockGuard<'a> {
    folio: &'a Folio,
    // Unlocked on the thread that took it: C may unlock a folio elsewhere (I/O completion),
    // but a guard has no reason to, so it conservatively stays on its thread.
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

#[macros::kunit_tests(rust_mm_folio)]
mod tests {
    use super::*;
    use crate::alloc::flags::GFP_KERNEL;

    #[test]
    fn fresh_folio_predicates() -> Result<(), AllocError> {
        let folio = Folio::alloc(GFP_KERNEL, 0)?;
        assert!(!folio.is_ksm());
        assert!(!folio.is_swapcache());
        assert!(!folio.is_large());
        assert!(!folio.is_locked());
        assert!(folio.pfn() != 0);

        let large = Folio::alloc(GFP_KERNEL, 2)?;
        assert!(large.is_large());
        assert!(!large.is_ksm());
        // Another reference is to the same folio.
        let second = large.clone();
        assert_eq!(second.pfn(), large.pfn());
        Ok(())
    }

    #[test]
    fn alloc_refuses_an_order_above_the_maximum() {
        assert!(Folio::alloc(GFP_KERNEL, bindings::MAX_PAGE_ORDER + 1).is_err());
    }

    #[test]
    fn trylock_contends_and_guard_unlocks() -> Result<(), AllocError> {
        let folio = Folio::alloc(GFP_KERNEL, 0)?;
        {
            let guard = folio.trylock();
            assert!(guard.is_some());
            assert!(folio.is_locked());
            // The lock is held: a second trylock fails and changes nothing.
            assert!(folio.trylock().is_none());
            assert!(folio.is_locked());
        }
        assert!(!folio.is_locked());
        assert!(folio.trylock().is_some());
        assert!(!folio.is_locked());
        Ok(())
    }
}
