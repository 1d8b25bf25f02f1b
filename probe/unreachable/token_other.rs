// SPDX-License-Identifier: GPL-2.0
// Appended to a copy of mm/ksm_wp_reuse.rs (make check): must not build.
// One fault cannot present another fault's proof of reuse.

/// Tells the inner fault that the outer fault's folio was reused.
pub fn other(folio: *mut kernel::bindings::folio, vma: *mut kernel::bindings::vm_area_struct) {
    // SAFETY: It is not: this is what must not build.
    unsafe {
        WpFault::with(folio, vma, 0, |outer| {
            WpFault::with(folio, vma, 0, |_inner| reuse(outer));
            Err(WpRefusal::Mapped)
        })
    };
}
