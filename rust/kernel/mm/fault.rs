// SPDX-License-Identifier: GPL-2.0

//! Page faults.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)

use crate::{
    bindings,
    mm::{folio::Folio, virt::VmaRef},
    types::NotThreadSafe,
};

/// A write-protect fault on a private mapping, as `do_wp_page()` handles it: a write (or an
/// unshare request) hit a present, read-only PTE that maps [`WpFault::folio`].
///
/// The fault runs in atomic context, with the page table lock held: what is reachable from it
/// ([`WpFault::vma`] and its mm) must not be asked to sleep or to take that lock again.
///
/// # Invariants
///
/// For `'a`: the mmap or VMA read lock of `vma` is held, the page table lock of the faulting PTE
/// is held (by this thread), and that PTE maps `folio` at `address` in `vma`.
pub struct WpFault<'a> {
    vma: &'a VmaRef,
    folio: &'a Folio,
    address: usize,
    // The page table lock is a spinlock held by this thread.
    _nts: NotThreadSafe,
}

impl<'a> WpFault<'a> {
    /// Describes the fault that `do_wp_page()` is handling.
    ///
    /// # Safety
    ///
    /// `vmf` is the fault `do_wp_page()` is handling on a private mapping, with the page table
    /// lock `vmf->ptl` held by this thread for `'a`; `folio` is `page_folio(vmf->page)`, the
    /// folio that the locked PTE maps.
    #[inline]
    pub unsafe fn from_raw(vmf: *const bindings::vm_fault, folio: *mut bindings::folio) -> Self {
        // SAFETY: The caller ensures `vmf` is valid for `'a`.
        let vmf = unsafe { &*vmf };
        // INVARIANT: The caller holds the locks, and `folio` is the folio the PTE maps.
        Self {
            // SAFETY: A fault runs with the mmap or VMA read lock held, for longer than `'a`.
            vma: unsafe { VmaRef::from_raw(vmf.__bindgen_anon_1.vma) },
            // SAFETY: The locked PTE maps `folio`, so it stays valid for `'a`.
            folio: unsafe { Folio::from_raw(folio) },
            address: vmf.__bindgen_anon_1.address,
            _nts: NotThreadSafe,
        }
    }

    /// The faulting VMA.
    #[inline]
    pub fn vma(&self) -> &'a VmaRef {
        self.vma
    }

    /// The folio the faulting PTE maps.
    #[inline]
    pub fn folio(&self) -> &'a Folio {
        self.folio
    }

    /// The faulting address, page aligned.
    #[inline]
    pub fn address(&self) -> usize {
        self.address
    }
}
