// SPDX-License-Identifier: GPL-2.0
// Appended to a copy of mm/ksm_wp_reuse.rs (make check): must not build.
// A fault's proof of reuse stays on the fault's thread.

fn to_another_thread<T: Send>(_: T) {}

/// Sends the proof of a fault's reuse away.
pub fn send(folio: *mut kernel::bindings::folio, vma: *mut kernel::bindings::vm_area_struct) {
    // SAFETY: It is not: this is what must not build.
    unsafe {
        WpFault::with(folio, vma, 0, |fault| {
            to_another_thread(reuse(fault));
            Err(WpRefusal::Mapped)
        })
    };
}
