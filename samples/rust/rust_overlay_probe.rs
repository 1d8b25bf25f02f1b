// SPDX-License-Identifier: GPL-2.0

//! Overlay probe: proves at boot that the kernel was built from the
//! ksm-wp-reuse overlay, with its Rust code compiled in.

use kernel::prelude::*;

module! {
    type: OverlayProbe,
    name: "rust_overlay_probe",
    authors: ["ksm-wp-reuse developers"],
    description: "Reports that the ksm-wp-reuse overlay's Rust code is built in",
    license: "GPL",
}

struct OverlayProbe;

impl kernel::Module for OverlayProbe {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        pr_info!("ksm-wp-reuse overlay: Rust code built in\n");
        Ok(OverlayProbe)
    }
}
