// SPDX-License-Identifier: GPL-2.0

//! Kernel samepage merging (KSM).
//!
//! C header: [`include/linux/ksm.h`](srctree/include/linux/ksm.h)

use crate::bindings;

/// The outcome of a decision on reusing a KSM folio on a write fault, as the
/// `ksm:ksm_wp_reuse` tracepoint reports it: reused, or the check that refused it.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WpReuse {
    /// The folio was made the faulting VMA's own anonymous folio: reuse it.
    Reused = bindings::ksm_wp_reuse_result_KSM_WP_REUSED,
    /// The folio is large; KSM only merges small folios.
    Large = bindings::ksm_wp_reuse_result_KSM_WP_LARGE,
    /// The folio is in the swap cache.
    Swapcache = bindings::ksm_wp_reuse_result_KSM_WP_SWAPCACHE,
    /// The folio has no stable node: it is being linked into the stable tree.
    NoStableNode = bindings::ksm_wp_reuse_result_KSM_WP_NO_STABLE_NODE,
    /// The folio is charged to another memory cgroup than the faulting process's.
    Memcg = bindings::ksm_wp_reuse_result_KSM_WP_MEMCG,
    /// Someone else holds a reference to the folio.
    Refcount = bindings::ksm_wp_reuse_result_KSM_WP_REFCOUNT,
    /// The folio is locked by someone else.
    Trylock = bindings::ksm_wp_reuse_result_KSM_WP_TRYLOCK,
    /// Freezing the reference count at one failed: a reference was taken meanwhile.
    Freeze = bindings::ksm_wp_reuse_result_KSM_WP_FREEZE,
}

impl From<WpReuse> for u32 {
    #[inline]
    fn from(result: WpReuse) -> u32 {
        result as u32
    }
}
