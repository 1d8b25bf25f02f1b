// SPDX-License-Identifier: GPL-2.0

//! Must not link: the C functions the KSM reuse decision calls are mm's, not exported to modules.

use kernel::{bindings, mm::folio::Folio, prelude::*};

module! {
    type: Link,
    name: "link",
    authors: ["ksm-wp-reuse developers"],
    description: "Must not link",
    license: "GPL",
}

struct Link;

impl kernel::Module for Link {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let folio = Folio::alloc(GFP_KERNEL, 0)?;
        // SAFETY: It is not: this is what must not link.
        unsafe {
            bindings::ksm_folio_to_anon(folio.as_ptr(), core::ptr::null_mut(), 0);
            bindings::folio_free_swap(folio.as_ptr());
        }
        Ok(Link)
    }
}
