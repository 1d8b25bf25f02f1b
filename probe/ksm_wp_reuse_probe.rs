// SPDX-License-Identifier: GPL-2.0

//! Tells whether the kernel it is loaded into carries the KSM write-fault reuse.
//!
//! Built out of tree against a kernel's build directory (the project's top-level `Kbuild`), it
//! loads only into that kernel (vermagic), uses the kernel crate's `Folio` of the series (it does
//! not build against a kernel without it), checks on a folio of its own what a module may ask of
//! one, and logs what it found.

use kernel::{mm::folio::Folio, prelude::*};

module! {
    type: KsmWpReuseProbe,
    name: "ksm_wp_reuse_probe",
    authors: ["ksm-wp-reuse developers"],
    description: "Tells whether this kernel reuses single-mapped KSM pages on write faults",
    license: "GPL",
}

struct KsmWpReuseProbe;

impl kernel::Module for KsmWpReuseProbe {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let folio = Folio::alloc(GFP_KERNEL, 0)?;
        let locked = folio.trylock().ok_or(EBUSY)?;
        if !locked.is_locked() || folio.is_ksm() || folio.is_swapcache() || folio.is_large() {
            pr_err!("ksm-wp-reuse probe: a fresh, locked folio does not look like one\n");
            return Err(EINVAL);
        }
        drop(locked);
        if cfg!(CONFIG_KSM_WP_REUSE) {
            pr_info!(
                "ksm-wp-reuse probe: CONFIG_KSM_WP_REUSE=y; switch: /sys/kernel/mm/ksm/wp_reuse, reuses: ksm_wp_reuse in /proc/vmstat\n"
            );
        } else {
            pr_info!("ksm-wp-reuse probe: the Rust abstractions are here, CONFIG_KSM_WP_REUSE is not set\n");
        }
        Ok(KsmWpReuseProbe)
    }
}
