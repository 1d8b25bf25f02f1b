// SPDX-License-Identifier: GPL-2.0

//! Tells whether the kernel it is loaded into carries the KSM write-fault reuse.
//!
//! Built out of tree against a kernel's build directory (the project's top-level `Kbuild`), it
//! loads only into that kernel (vermagic), uses the kernel crate's folio and KSM abstractions of
//! the series (it does not build against a kernel without them), checks on a folio of its own
//! that the reuse's gate refuses a folio that is not KSM, and logs what it found.

use kernel::{
    mm::{
        folio::Folio,
        ksm::{StableKsmFolio, WpRefusal},
    },
    prelude::*,
};

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
        if StableKsmFolio::new(&locked).err() != Some(WpRefusal::NoStableNode) {
            pr_err!("ksm-wp-reuse probe: the reuse's gate took a folio that is not KSM\n");
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
