// SPDX-License-Identifier: GPL-2.0
// Appended to a copy of mm/ksm_wp_reuse.rs (make check): must not build.
// A fault's proof of reuse cannot outlive the fault.

/// Keeps the proof of one fault's reuse after that fault.
pub fn keep(folio: *mut kernel::bindings::folio, vma: *mut kernel::bindings::vm_area_struct) {
    let mut kept = None;
    // SAFETY: It is not: this is what must not build.
    unsafe {
        WpFault::with(folio, vma, 0, |fault| {
            kept = reuse(fault).ok();
            Err(WpRefusal::Mapped)
        })
    };
    drop(kept);
}
